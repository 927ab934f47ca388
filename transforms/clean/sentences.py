"""Sentence splitting: RawDoc -> schemas.document.Doc (paragraphs of sentences).

``transforms.clean.sentence_boundaries`` does the work: terminators, abbreviations learned
per language (``transforms/clean/data/sentence_boundaries/<lang>.json``), quotes, CJK and
other scripts' full stops, web-text habits (see its docstring; ``make bench`` scores it
against sentencex and pySBD on UD dev sets). Two passes around it:
- lines inside a paragraph are joined first (hard-wrapped books, wiki lines); between two
  characters of an unspaced script the join adds no space;
- Thai has no sentence punctuation: runs of Thai are split at the spaces between them (Thai
  writes a space where other languages put a full stop or comma), as PyThaiNLP's
  whitespace fallback does.
A language without lists of its own ("und", or one we have no text for) gets the generic
rules; "und" uses the English lists, since undetermined text is mostly short Latin script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import apache_beam as beam

from schemas.document import PROTEIN, Doc
from transforms.clean.sentence_boundaries import boundary_data, split_text
from transforms.read.rawdoc import RawDoc
from transforms.shared.accounting import Count, dropped
from transforms.shared.alphabets import UNSPACED_RANGES
from transforms.shared.cleanstep import CleanStepFn, apply_step
from transforms.shared.exclusions import KeepDropped

DROPPED_NO_SENTENCES = dropped("no_sentences")

_THAI = re.compile(r"[\u0e00-\u0e7f]")
_THAI_SPACE = re.compile(r"(?<=[\u0e00-\u0e7f]) +(?=[\u0e00-\u0e7f])")
# Unspaced letters, CJK punctuation (U+3000..U+303F) and full-width forms (U+FF00..U+FFEF).
_JOINED = f"{UNSPACED_RANGES}\u3000-\u303f\uff00-\uffef"
_JOIN_UNSPACED = re.compile(f"(?<=[{_JOINED}])\n(?=[{_JOINED}])")


@dataclass(frozen=True)
class SentenceConfig:
    min_sentence_chars: int = 1  # shorter pieces (stray punctuation) are dropped
    split_thai_spaces: bool = True


def split_paragraph(text: str, lang: str, cfg: SentenceConfig = SentenceConfig()) -> list[str]:
    """One paragraph -> its sentences, stripped, in order."""
    ascii_only = text.isascii()  # then none of the script-specific passes can apply
    if "\n" in text:
        if not ascii_only:
            text = _JOIN_UNSPACED.sub("", text)
        text = text.replace("\n", " ")
    sentences = split_text(text, boundary_data(lang if lang != "und" else "en"))
    if cfg.split_thai_spaces and not ascii_only and _THAI.search(text):
        sentences = [p for sentence in sentences for p in _THAI_SPACE.split(sentence)]
    return [s for s in sentences if len(s) >= cfg.min_sentence_chars]


def split_sentences(doc: RawDoc, cfg: SentenceConfig, count: Count) -> Doc | None:
    """RawDoc -> Doc (paragraphs = tuples of sentences), or None (counted) if none is left."""
    if doc.source == PROTEIN:
        paragraphs: tuple[tuple[str, ...], ...] = tuple((p,) for p in doc.paragraphs if p)
    else:
        lang = doc.lang or "und"
        split = (tuple(split_paragraph(p, lang, cfg)) for p in doc.paragraphs)
        paragraphs = tuple(p for p in split if p)
    if not paragraphs:
        count(DROPPED_NO_SENTENCES)
        return None
    return doc.to_doc(paragraphs)


class _SentencesFn(CleanStepFn):
    step = "sentences"

    def apply(self, doc: RawDoc) -> Doc | None:
        return split_sentences(doc, self.cfg, self.count)


class SplitSentences(beam.PTransform):
    """RawDoc -> (Doc, rejected JSON). Counters: dropped_no_sentences, failed."""

    def __init__(
        self, cfg: SentenceConfig = SentenceConfig(), keep: KeepDropped | None = None
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.keep = keep  # --keep_dropped: where this step writes the documents it drops

    def expand(self, docs):
        return apply_step(docs, "SplitSentences", _SentencesFn(self.cfg), self.keep)
