"""BERT's basic pre-tokenisation (BasicTokenizer) as pure functions.

``normalize_text`` then ``pretokenize`` reproduce ``tokenizers``' ``BertNormalizer(clean_text=True,
handle_chinese_chars=True, strip_accents=None, lowercase=...)`` followed by ``BertPreTokenizer``:

1. clean: drop NUL, U+FFFD and control/format/private-use chars (Cc, Cf, Co, Cs; tab, LF and CR
   are whitespace), map whitespace (Zs, tab, LF, CR, U+2028, U+2029) to a space;
2. surround every CJK ideograph with spaces;
3. lowercase only: NFD, drop non-spacing marks (Mn), then lowercase char by char;
4. split on spaces, and make every punctuation char (ASCII 33-47, 58-64, 91-96, 123-126 and
   Unicode P*) its own word.

Character classes come from ``unicodedata``; ``tokenizers`` compiles in older Unicode tables, so
characters assigned or re-categorised after its tables (a few hundred rare code points, none in
the scripts of the shared test data) may differ. Where ``tokenizers`` deviates from Google's
BERT on purpose or by accident we follow ``tokenizers`` (noted below), because that is what
the trained tokenizer runs.

The *normalised text* of a string is ``" ".join(pretokenize(text, lowercase=...))``: what a
WordPiece tokenizer's decode(encode(text)) returns when no word maps to [UNK].
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

# The ideograph ranges BERT treats as CJK. tokenizers writes 0x2B920 where Google's BERT has
# 0x2B820 (Ext. E); we follow tokenizers so our words match the trained tokenizer's.
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
# Whitespace is Zs plus tab/LF/CR, and (tokenizers uses Rust's char::is_whitespace) the line
# and paragraph separators. Other White_Space chars (VT, FF, NEL, ...) are Cc and get dropped.
_EXTRA_SPACE = "\t\n\r\u2028\u2029"
# tokenizers drops Cc, Cf, Co (and Cs cannot occur in Rust strings) but keeps unassigned Cn.
_DROP_CATEGORIES = ("Cc", "Cf", "Co", "Cs")


def is_punctuation(char: str) -> bool:
    """BERT's _is_punctuation: all non-alphanumeric ASCII plus Unicode P* categories."""
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def is_cjk(char: str) -> bool:
    cp = ord(char)
    return any(lo <= cp <= hi for lo, hi in CJK_RANGES)


class _CharSet:
    """Fast membership/substitution for a set of code points.

    ``re`` compiles a class of single BMP chars into a bitmap (fast) but scans ranges and
    astral chars one by one (slow), so BMP chars are listed singly and astral ones get their
    own pattern, used only on text that has astral chars.
    """

    def __init__(self, codepoints: list[int], repeat: bool = True) -> None:
        bmp = "".join(re.escape(chr(cp)) for cp in codepoints if cp <= 0xFFFF)
        astral = _ranges([cp for cp in codepoints if cp > 0xFFFF])
        plus = "+" if repeat else ""
        self.bmp = re.compile(f"[{bmp}]{plus}") if bmp else None
        self.astral = re.compile(f"[{astral}]{plus}") if astral else None

    def sub(self, repl: str, text: str) -> str:
        if self.bmp is not None:
            text = self.bmp.sub(repl, text)
        if self.astral is not None and _ASTRAL.search(text):
            text = self.astral.sub(repl, text)
        return text


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _ranges(codepoints: list[int]) -> str:
    """A regex class body of escaped ranges matching exactly ``codepoints`` (sorted)."""
    ranges: list[list[int]] = []
    for cp in codepoints:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in ranges
    )


@functools.cache
def _tables() -> dict:
    """Build the character sets once per process (a ~0.5 s scan of all code points)."""
    drop, space, punct, marks = [], [], [], []
    for cp in range(sys.maxunicode + 1):
        char = chr(cp)
        cat = unicodedata.category(char)
        if char in _EXTRA_SPACE or cat == "Zs":
            space.append(cp)
        elif cp in (0, 0xFFFD) or cat in _DROP_CATEGORIES:
            drop.append(cp)
        if cat[0] == "P" or (cp < 127 and _ASCII_PUNCT[cp]):
            punct.append(cp)
        elif cat == "Mn":
            marks.append(cp)
    cjk = [cp for lo, hi in CJK_RANGES for cp in range(lo, hi + 1)]
    # Punctuation and CJK ideographs are one-char words: the BMP ones go in one bitmap class
    # (so ``findall`` splits them off in C); the rare astral ones are spaced out beforehand.
    alone = "".join(re.escape(chr(cp)) for cp in sorted(set(punct + cjk)) if cp <= 0xFFFF)
    return {
        "drop": _CharSet(drop),
        # " " maps to itself: leaving it out spares a replacement per word.
        "space": _CharSet([cp for cp in space if cp != 0x20], repeat=False),
        "cjk": re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in CJK_RANGES) + "]"),
        "marks": _CharSet(marks),
        "words": re.compile(f"[{alone}]|[^{alone} ]+"),
        "astral_alone": frozenset(chr(cp) for cp in punct + cjk if cp > 0xFFFF),
    }


_ASCII_PUNCT = [
    33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 for cp in range(127)
]


def _cleaned_folded(text: str, *, lowercase: bool) -> str:
    """BertNormalizer less the CJK spacing: clean, and (lowercase) strip accents + lowercase.

    The spacing can come after the folding (``split_words`` does it while splitting): NFD and
    lowercasing map every CJK ideograph to one CJK ideograph and nothing else to one, and
    canonical reordering never moves a mark across a starter (a CJK char or a space).
    """
    tables = _tables()
    text = tables["drop"].sub("", text)
    text = tables["space"].sub(" ", text)
    if text.isascii():
        return text.lower() if lowercase else text
    if lowercase:
        text = tables["marks"].sub("", unicodedata.normalize("NFD", text))
        # str.lower() turns a word-final capital sigma into "ς"; tokenizers lowercases char
        # by char, which always gives "σ".
        text = text.replace("\u03a3", "\u03c3").lower()
    return text


def normalize_text(text: str, *, lowercase: bool) -> str:
    """BertNormalizer: clean, space out CJK, and (lowercase) strip accents + lowercase."""
    text = _cleaned_folded(text, lowercase=lowercase)
    return text if text.isascii() else _tables()["cjk"].sub(r" \g<0> ", text)


def split_words(normalized: str) -> list[str]:
    """BertPreTokenizer on cleaned text (CJK spaced out or not): split on spaces, and make each
    punctuation char and CJK ideograph its own word."""
    tables = _tables()
    if not normalized.isascii() and _ASTRAL.search(normalized):
        # Astral chars are rare, so space out the few distinct ones that stand alone by
        # replacement rather than slowing the class every char is tested against.
        for char in set(_ASTRAL.findall(normalized)) & tables["astral_alone"]:
            normalized = normalized.replace(char, f" {char} ")
    return tables["words"].findall(normalized)


def pretokenize(text: str, *, lowercase: bool) -> list[str]:
    """The words BERT's tokenizer sees in ``text`` (before WordPiece)."""
    return split_words(_cleaned_folded(text, lowercase=lowercase))
