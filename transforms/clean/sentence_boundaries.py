"""Sentence boundaries in one paragraph: candidate terminators, then Punkt-style decisions.

Why our own rules and not sentencex (which the step used before, 0.834 F1 on UD English-EWT
dev): sentencex never splits inside a quotation, so a paragraph that opens a quote and closes it
sentences later (news, speeches, Russian ``...'' typography that never closes) stays one
sentence; and it keeps 。 followed by a digit together. The decisions here look only at the
token before a terminator and the word after it:

- ``?`` ``!`` and ellipses end a sentence, before a lower-case word too ("grow up? india?"),
  unless a closing quote or bracket follows them;
- ``.`` ends one unless the token before it is an abbreviation, an initial or a dotted
  abbreviation such as ``U.S``. After an abbreviation a capitalised next word still starts a
  sentence when it is a common word (one the corpus mostly writes in lower case: "etc. The"
  splits, "Inc. Smith" does not): Punkt's orthographic heuristic, with per-language lists
  learned by ``python -m transforms.clean.learn_boundaries``. Prenominal abbreviations (Mr.,
  Dr., Vol.) never end a sentence; number abbreviations (No., p.) do not before a number, and
  before anything else are the word they spell ("Hell no. Thats"). Web text starts sentences in
  lower case, so after a plain word ``.`` ends one before a lower-case word too;
- closing quotes and brackets after a terminator stay with its sentence ("(Laughter.)"), spaced
  ones too ("next day. ) Hop", French "? » Il");
- the unambiguous full stops of CJK, Indic, Arabic and Ethiopic scripts (。！？।؟۔።။)
  always end one, spaces or not, except inside a Japanese quotation that a particle continues
  (「…。」と言った);
- web and e-mail text ends lines without punctuation: emoticons (``:)`` ``:-(`` ``:D``), a URL
  before another URL or a capital, an e-mail address, a header's time stamp, a greeting
  ("Hi,") or sign-off ("Regards,"), a separator line end one too; ``:?`` (a character lost
  in conversion) does not;
- a piece made only of punctuation joins the sentence before it; a separator line ("-----",
  "***", "[...]") is no text and is dropped.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources

from transforms.shared.alphabets import UNSPACED_RANGES

_CLOSERS = "\"'\u201d\u2019\u00bb)\\]}\u300d\u300f\uff09\u3011\u300b\u3009"
_OPENERS = "\"'\u201c\u2018\u00ab([{\u00bf\u00a1\u300c\u300e\uff08`\u201e"
_HARD_STOPS = "\u3002\uff01\uff1f\uff61\uff0e\u0964\u0965\u061f\u06d4\u1362\u104b\u0589"
_TERMINATORS = "!?\u2026\u203c\u2047\u2048\u2049"  # and ".", kept apart for a char class
_JA_QUOTE_PARTICLES = "\u3068\u3063\u3001\uff0c\u306e"  # と っ 、 ， の continue the sentence

# A spaced terminator: its run of marks, closers (French spaces before », web text before
# any closer: "next day. ) Hop"), the gap.
_SPACED = (
    rf"(?P<term>[.{_TERMINATORS}]+)"
    rf"(?P<close>(?:\s?\u00bb|\s[)\]'\"](?=\s))?[{_CLOSERS}]*)"
    r"(?P<gap>\s+)(?=\S)"
)
_EMOTICON = r"(?<!\S)(?P<emo>[:;=]-?[()DPpO/\\|]+)(?P<egap>\s+)(?=[A-Z\"'])"
_UNSPACED_MARK = (  # ASCII !? and ♪☆★ between letters of unspaced scripts (Japanese blogs)
    rf"(?<=[{UNSPACED_RANGES}])(?:[!?]+|[\u2606\u2605\u266a]+)(?=[{UNSPACED_RANGES}0-9])"
)
_HARD = (
    rf"(?P<hard>[{_HARD_STOPS}]+[!?]*|{_UNSPACED_MARK})"
    rf"(?P<hclose>[{_CLOSERS}]*)(?P<hgap>\s*)(?=\S)"
)
# Web and e-mail text ends lines without punctuation: a URL before another URL or a capital,
# an e-mail header's <address> or time stamp, a sign-off, a separator line.
_URL_END = r"(?P<url>(?:https?://|www\.)\S+[\w/])(?P<ugap>\s+)(?=https?://|www\.|[A-Z])"
# An e-mail header's time stamp is a line of its own: split after it (before anything) and
# before it unless a lower-case word leads in ("annotations on 04/25/01 12:42:55"). AM/PM is
# possessive: "11:36 AM have" must not backtrack to a split before "AM".
_STAMP = r"\d{1,2}/\d{1,2}/\d{2,4} \d{1,2}:\d\d(?::\d\d)?(?: ?[AP]M)?+(?!\S)"
_STAMP_ENDS = (
    rf"(?P<stamp>(?<!\S){_STAMP})(?P<tgap>\s+)(?=\S)"
    rf"|(?<=\S)(?P<pgap>\s+)(?={_STAMP})"
)
# "Hi, Yes we can.": a letter's greeting line, joined to its first sentence.
_GREETING = r"^(?P<greet>(?:Hi|Hello|Hey|Dear)\b[^.,!?:]{0,30},)(?P<ggap>\s+)(?=[A-Z])"
# An address in <> before a capital or a digit; a bare one ("Email a@b.com Our web") before a
# capital only ("at a@b.com or at 713-664-7478" goes on).
_MAIL = (
    r"(?P<mail><[^\s<>@]+@[^\s<>]+>(?=\s+[A-Z0-9])|(?<!\S)[\w.+-]+@[\w-]+(?:\.[\w-]+)*"
    r"\.[a-z]{2,}(?=\s+[A-Z]))(?P<mgap>\s+)"
)
_SIGN_OFF = (
    r"(?<!\S)(?P<sign>(?:(?:Best|Kind|Kindest|Warm) [Rr]egards|Regards|Sincerely|Cheers|Thanks)"
    r",)(?P<ogap>\s+)(?=[A-Z])"
)
# Before a separator line, unless it is a dash the sentence goes on after ("CPS --- do you").
_SEPARATOR = (
    r"(?<=\S)(?P<sepb>\s+)(?=[-=_*~]{3,}+(?!\s+[a-z]))"
    r"|(?P<sep>[-=_*~]{3,})(?P<xgap>\s+)(?=[A-Z\"])"
)
# Every alternative, in the order tried, with the characters its match can start with.
_ALTERNATIVES = (
    (_SPACED, "." + _TERMINATORS),
    (_EMOTICON, ":;="),
    (_HARD, _HARD_STOPS + "!?\u2606\u2605\u266a"),
    (_URL_END, "hw"),
    (_STAMP_ENDS, r"\d\s"),
    (_MAIL, r"<\w.+\-"),
    (_SIGN_OFF, "BKWRSCT"),
    (_GREETING, "HD"),
    (_SEPARATOR, r"\s\-=_*~"),
)
# What the rarer alternatives need somewhere in the paragraph before they can match.
_EMOTICON_SEEN = re.compile(r"[:;=]-?[()DPpO/\\|]")
_HARD_SEEN = re.compile(rf"[{_HARD_STOPS}]|[{UNSPACED_RANGES}](?:[!?]|[\u2606\u2605\u266a])")
_STAMP_SEEN = re.compile(r"\d/\d{1,2}/\d\d")
_SEPARATOR_SEEN = re.compile(r"[-=_*~][-=_*~]{2}")  # not {3}: a leading class scans faster


def _present(t: str) -> tuple[bool, ...]:
    """Which of ``_ALTERNATIVES`` can match somewhere in ``t``, in their order: substring tests
    first, a search only then. Trying the rare ones (lookbehinds, spaces) at every position
    made the scan over 20x slower than the terminators alone."""
    return (
        True,
        (":" in t or ";" in t or "=" in t) and _EMOTICON_SEEN.search(t) is not None,
        not t.isascii() and _HARD_SEEN.search(t) is not None,
        "http" in t or "www." in t,
        "/" in t and _STAMP_SEEN.search(t) is not None,
        "@" in t,
        "egards," in t or "Sincerely," in t or "Cheers," in t or "Thanks," in t,
        t.startswith(("Hi", "Hey", "Hello", "Dear")),
        ("-" in t or "=" in t or "_" in t or "*" in t or "~" in t)
        and _SEPARATOR_SEEN.search(t) is not None,
    )


@functools.cache
def _candidates(present: tuple[bool, ...]) -> re.Pattern:
    """The alternatives ``present`` selects, behind a look-ahead for their first characters
    (the scan then skips other positions fast)."""
    chosen = [alt for alt, keep in zip(_ALTERNATIVES, present, strict=True) if keep]
    starts = "".join(first for _, first in chosen)
    return re.compile(f"(?=[{starts}])(?:" + "|".join(p for p, _ in chosen) + ")")


_URL = re.compile(r"(?:https?://|www\.)\S+$|\S+@\S+\.\w+$", re.I)
_DOTTED = re.compile(r"(?:\w{1,3}\.)+\w{1,3}|\w+(?:\.-|-\.)\w+")  # U.S, e.g, a.m, J.-C
_SEPARATOR_LINE = re.compile(r"[-=_*~]{2,}|\[\.\.\.\]")
_WORD_CHAR = re.compile(r"[^\W_]")  # a letter or digit


@dataclass(frozen=True)
class BoundaryData:
    """Per-language lists; lower-case, abbreviations without their final period."""

    abbreviations: frozenset[str] = frozenset()
    prenominal: frozenset[str] = frozenset()  # never sentence-final: mr, dr, vol
    before_number: frozenset[str] = frozenset()  # not final before a number: no, p, vol
    final: frozenset[str] = frozenset()  # usually sentence-final: etc, гг, т.д
    common_words: frozenset[str] = frozenset()  # mostly written in lower case mid-sentence

    @classmethod
    def from_json(cls, payload: dict) -> BoundaryData:
        return cls(**{k: frozenset(payload.get(k, ())) for k in cls.__dataclass_fields__})


@functools.cache
def boundary_data(lang: str) -> BoundaryData:
    """The shipped lists for ``lang`` (a py3langid code); empty lists for a language without."""
    path = resources.files("transforms.clean") / "data" / "sentence_boundaries" / f"{lang}.json"
    if not path.is_file():
        return BoundaryData()
    return BoundaryData.from_json(json.loads(path.read_text(encoding="utf-8")))


def _next_word(text: str, pos: int) -> str:
    end = text.find(" ", pos, pos + 60)
    return text[pos : end if end > 0 else pos + 60].lstrip(_OPENERS)


def _token_before(text: str, pos: int) -> str:
    start = text.rfind(" ", max(0, pos - 60), pos) + 1
    return text[start:pos].lstrip(_OPENERS)


def _period_ends(prev: str, nxt: str, data: BoundaryData, before: str = "") -> bool:
    """Does ``prev.`` followed by the word ``nxt`` (capitalised, a digit or a symbol) end?
    ``before`` is the token before ``prev``: "т." + "д" is the abbreviation "т.д"."""
    low = prev.lower()
    if not prev or not prev[-1].isalnum() or _URL.match(prev):
        return True
    if low in data.final or f"{before.lower()}{low}" in data.final:
        return True
    if low in data.prenominal:
        return False
    if low in data.before_number and (nxt[:1].isdigit() or nxt.rstrip(".,;:").isupper()):
        return False
    # Not before_number: before no number "no" is the word ("Hell no. Thats").
    if low in data.abbreviations or (len(prev) == 1 and prev.isalpha()) or _DOTTED.fullmatch(prev):
        # Punkt's orthographic test: a common word capitalised here starts a sentence.
        word = nxt.rstrip(".,;:!?\"')").lower()
        return word in data.common_words
    return True


def _is_boundary(text: str, m: re.Match, data: BoundaryData) -> bool:
    if m.lastgroup == "hgap":  # a hard stop (its pattern may be left out of the scan)
        close, after = m["hclose"], text[m.end()]
        return not (close and after in _JA_QUOTE_PARTICLES)
    if m.lastgroup == "pgap":  # before a time stamp
        return not _token_before(text, m.start()).islower()
    if m.lastgroup != "gap":  # emoticon, URL, e-mail header, sign-off, separator
        return True
    term, nxt = m["term"], _next_word(text, m.end())
    if term[0] == "?" and text[m.start() - 1 : m.start()] == ":":
        return False  # "Direct Dial:? 203.961.7523": a lost character, not a question
    if not nxt[:1].islower():
        if term != ".":
            return True
        prev = _token_before(text, m.start())
        before = _token_before(text, m.start() - len(prev) - 1) if len(prev) < 3 else ""
        return _period_ends(prev, nxt, data, before)
    if m["close"] or _URL.match(nxt):
        return bool(_URL.match(nxt))
    if "." not in term:  # "where did you grow up? india?": web text, questions in lower case
        return True
    if term != ".":
        return False
    # "call them at 5. they left": in web text a sentence may start in lower case; after a
    # plain word (no abbreviation, initial or dotted token) a full stop ends one even so.
    low = _token_before(text, m.start()).lower()
    return (
        low.isalpha()
        and len(low) > 1
        and low not in data.abbreviations
        and low not in data.before_number
        and low not in data.prenominal
    )


# Where the sentence ends: after this group; absent: where the match starts.
_END_GROUP = {
    "gap": "close",
    "egap": "emo",
    "hgap": "hclose",
    "ugap": "url",
    "tgap": "stamp",
    "mgap": "mail",
    "ogap": "sign",
    "ggap": "greet",
    "xgap": "sep",
}


def split_text(text: str, data: BoundaryData) -> list[str]:
    """One paragraph (no newlines needed) -> its sentences, stripped, in order. A piece with no
    letter or digit ('".', ')') joins a neighbour; alone, or a separator ('_____'), it is no
    sentence."""
    out: list[str] = []
    start = 0
    for m in _candidates(_present(text)).finditer(text):
        if _is_boundary(text, m, data):
            group = _END_GROUP.get(m.lastgroup or "")
            end = m.end(group) if group else m.start()
            _append(out, text[start:end].strip())
            start = m.end()
    _append(out, text[start:].strip())
    if out and not _WORD_CHAR.search(out[-1]):  # only punctuation in the whole paragraph
        out.pop()
    return out


def _append(out: list[str], piece: str) -> None:
    if not piece or _SEPARATOR_LINE.fullmatch(piece):  # "-----", "***", "[...]": no text
        return
    if out and not _WORD_CHAR.search(out[-1]):  # a leading '"' waits for its sentence
        piece = f"{out.pop()} {piece}"
    if out and not _WORD_CHAR.search(piece):  # stray '".' or ')' belongs to the sentence before
        out[-1] = f"{out[-1]} {piece}"
    else:
        out.append(piece)
