"""Writing systems: which scripts a text's letters are in, and which scripts a language uses.

Language identification uses this as evidence the n-gram model cannot give: a text whose
letters are 95% Hebrew is not English whatever the dump's header says, and a Japanese text
with kana in it is not Chinese however many kanji it holds. A script is named by the first
word of its letters' Unicode names ("LATIN", "CYRILLIC", "ARABIC", "CJK", ...), with kana
folded into one "KANA" (hiragana, katakana and their shared marks).
"""

from __future__ import annotations

import collections
import functools
import unicodedata
from collections.abc import Mapping

LATIN = "LATIN"
_KANA = {"HIRAGANA": "KANA", "KATAKANA": "KANA", "KATAKANA-HIRAGANA": "KANA"}

# py3langid's languages (and common hints) that are not written in Latin letters. Every other
# code the model knows is taken to be Latin-script; a code it does not know has no entry and
# ``scripts_of`` gives the empty set (no script evidence either way).
_NON_LATIN: Mapping[str, frozenset[str]] = {
    lang: frozenset(scripts.split())
    for langs, scripts in (
        ("ar ary arz fa ps ur ug sdh uzs ckb", "ARABIC"),
        ("ku", "LATIN ARABIC"),
        ("he hbo yi", "HEBREW"),
        ("ru uk be bg mk kk ky mn tg tt ba cv os", "CYRILLIC"),
        ("sr uz", "CYRILLIC LATIN"),
        ("el grc", "GREEK"),
        ("zh yue wuu", "CJK"),
        ("ja", "CJK KANA"),
        ("ko", "HANGUL CJK"),
        ("hi mr ne sa gom", "DEVANAGARI"),
        ("bn as", "BENGALI"),
        ("pa", "GURMUKHI"),
        ("gu", "GUJARATI"),
        ("or", "ORIYA"),
        ("ta", "TAMIL"),
        ("te", "TELUGU"),
        ("kn", "KANNADA"),
        ("ml", "MALAYALAM"),
        ("si", "SINHALA"),
        ("th", "THAI"),
        ("lo", "LAO"),
        ("dz bo", "TIBETAN"),
        ("my", "MYANMAR"),
        ("km", "KHMER"),
        ("ka", "GEORGIAN"),
        ("hy", "ARMENIAN"),
        ("am ti", "ETHIOPIC"),
        ("zxx", ""),  # py3langid's "no linguistic content" fits no script
    )
    for lang in langs.split()
}


@functools.lru_cache(maxsize=4096)
def script_of(char: str) -> str | None:
    """The script of a letter, None for anything that is not a letter (digits, marks such as
    Hebrew niqqud, punctuation, spaces)."""
    if not unicodedata.category(char).startswith("L"):
        return None
    name = unicodedata.name(char, "")
    first = name.split(" ", 1)[0] if name else ""
    return _KANA.get(first, first) or None


def script_counts(text: str) -> collections.Counter[str]:
    """Letters per script in ``text``."""
    counts: collections.Counter[str] = collections.Counter()
    for char in text:
        script = script_of(char)
        if script is not None:
            counts[script] += 1
    return counts


def scripts_of(lang: str, known: frozenset[str]) -> frozenset[str]:
    """The scripts ``lang`` (a py3langid code) is written in; empty when we cannot say."""
    if lang in _NON_LATIN:
        return _NON_LATIN[lang]
    return frozenset({LATIN}) if lang in known else frozenset()


def share(counts: Mapping[str, int], scripts: frozenset[str]) -> float:
    """The fraction of the letters in ``counts`` that are in one of ``scripts`` (0 if none)."""
    total = sum(counts.values())
    return sum(counts.get(s, 0) for s in scripts) / total if total else 0.0
