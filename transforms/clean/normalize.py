"""Unicode normalisation of raw documents: NFC, mojibake repair, invisible characters, spaces.

Choices (why):
- ftfy repairs mojibake (UTF-8 read as Latin-1/cp1252, the common case) but runs only on
  paragraphs where a tell-tale pair of characters appears: ftfy on every paragraph costs more
  than the rest of cleaning together, and text without such a pair has nothing it would fix.
  It keeps curly quotes, ligatures, full-width forms and HTML entities as they are: those are
  legitimate text, and WordPiece should see what readers see.
- Invisible characters are dropped (C0/C1 controls but \\n and \\t, zero-width space, soft
  hyphen, BOM, bidi embeddings and isolates, LRM/RLM, invisible operators). ZWJ (U+200D) and
  ZWNJ (U+200C) are kept: Persian, Urdu and Indic scripts use them to choose letter forms, and
  removing them changes spelling.
- \\t, NBSP, ideographic and other spaces become one ASCII space; line breaks inside a
  paragraph stay (quality rules look at lines); paragraphs empty afterwards are dropped.
- Protein sequences: whitespace removed, upper-cased, a trailing stop ``*`` dropped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

import apache_beam as beam

from schemas.document import PROTEIN
from transforms.read.rawdoc import RawDoc
from transforms.shared.accounting import Count, dropped
from transforms.shared.cleanstep import CleanStepFn, apply_step
from transforms.shared.exclusions import KeepDropped

DROPPED_EMPTY_AFTER_NORMALIZE = dropped("empty_after_normalize")


@dataclass(frozen=True)
class NormalizeConfig:
    fix_mojibake: bool = True
    strip_invisible: bool = True


# UTF-8 lead byte as Latin-1/cp1252 (U+00C2..U+00F4) followed by a continuation byte as
# Latin-1 (U+0080..U+00BF) or as a cp1252 special: the signature of mojibake ftfy can repair.
_MOJIBAKE_HINT = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
    "\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\u00ad\u180e\u200b\u200e\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
_LINE_BREAKS = re.compile("\r\n?|[\x85\u2028\u2029]")
# Runs of whitespace other than a lone space or newline (a lone space needs no rewrite, and
# not matching it avoids one substitution per word).
_SPACES = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
_SPACE_AROUND_NEWLINE = re.compile(r" ?\n[ \n]*")


def _ftfy_config():
    import ftfy

    return ftfy.TextFixerConfig(
        unescape_html=False,
        uncurl_quotes=False,
        fix_latin_ligatures=False,
        fix_character_width=False,
        fix_line_breaks=False,
        normalization="NFC",
        explain=False,
    )


_FTFY_CONFIG = None


def fix_mojibake(text: str) -> str:
    """ftfy's repair where the text carries a mojibake signature; otherwise ``text`` itself."""
    global _FTFY_CONFIG
    if text.isascii() or not _MOJIBAKE_HINT.search(text):
        return text
    import ftfy

    if _FTFY_CONFIG is None:
        _FTFY_CONFIG = _ftfy_config()
    return ftfy.fix_text(text, _FTFY_CONFIG)


def normalize_text(text: str, cfg: NormalizeConfig = NormalizeConfig()) -> str:
    """One paragraph -> NFC text, repaired, without invisibles, with single spaces; may be ''."""
    ascii_only = text.isascii()  # ASCII text has no mojibake and is NFC already
    if not ascii_only:
        if cfg.fix_mojibake:
            text = fix_mojibake(text)
        if not text.isascii() and not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        ascii_only = text.isascii()
    # The cheap membership tests skip substitutions that would find nothing (most paragraphs):
    # one-character tests run at memchr speed, the regexes' scans several times slower.
    if "\r" in text or (
        not ascii_only and ("\x85" in text or "\u2028" in text or "\u2029" in text)
    ):
        text = _LINE_BREAKS.sub("\n", text)
    printable = text.isprintable()
    if cfg.strip_invisible and not printable:
        text = _INVISIBLE.sub("", text)
        printable = text.isprintable()
    # Every whitespace character but " " is unprintable: printable text without "  " has no
    # run for _SPACES to rewrite. (ASCII text keeps its old test, which leaves \x0b alone.)
    if ("\t" in text if ascii_only else not printable) or "  " in text:
        text = _SPACES.sub(" ", text)
    if "\n" in text:
        text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    return text.strip()


def normalize_protein(sequence: str) -> str:
    return "".join(sequence.split()).upper().rstrip("*")


def normalize_doc(doc: RawDoc, cfg: NormalizeConfig, count: Count) -> RawDoc | None:
    """RawDoc -> RawDoc with normalised paragraphs, or None (counted) when nothing is left."""
    if doc.source == PROTEIN:
        paragraphs = tuple(p for p in (normalize_protein(p) for p in doc.paragraphs) if p)
        paragraphs = ("".join(paragraphs),) if paragraphs else ()
    else:
        paragraphs = tuple(p for p in (normalize_text(p, cfg) for p in doc.paragraphs) if p)
    if not paragraphs:
        count(DROPPED_EMPTY_AFTER_NORMALIZE)
        return None
    title = normalize_text(doc.title, cfg) if doc.title else doc.title
    return replace(doc, paragraphs=paragraphs, title=title)


class _NormalizeFn(CleanStepFn):
    step = "normalize"

    def apply(self, doc: RawDoc) -> RawDoc | None:
        return normalize_doc(doc, self.cfg, self.count)


class Normalize(beam.PTransform):
    """RawDoc -> (RawDoc normalised, rejected JSON). Counters: dropped_empty_after_normalize,
    failed."""

    def __init__(
        self, cfg: NormalizeConfig = NormalizeConfig(), keep: KeepDropped | None = None
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.keep = keep  # --keep_dropped: where this step writes the documents it drops

    def expand(self, docs):
        return apply_step(docs, "Normalize", _NormalizeFn(self.cfg), self.keep)
