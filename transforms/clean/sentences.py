"""Sentence splitting: RawDoc -> schemas.document.Doc (paragraphs of sentences).

sentencex does the work (abbreviations, decimals, quotes, and CJK/Devanagari/Arabic/Ethiopic
terminators for the languages it knows). Two additions, both cheap regex passes:
- a split after the terminators of scripts whose full stop is unambiguous (。！？｡．।॥؟۔።።),
  whatever language the document is labelled with, because "und" or a wrong hint would
  otherwise leave CJK text as one sentence;
- Thai has no sentence punctuation: runs of Thai are split at the spaces between them (Thai
  writes a space where other languages put a full stop or comma), as PyThaiNLP's
  whitespace fallback does.
Lines inside a paragraph are joined first (hard-wrapped books, wiki lines); between two
characters of an unspaced script the join adds no space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import apache_beam as beam

from schemas.document import PROTEIN, Doc
from transforms.read.rawdoc import RawDoc
from transforms.shared.accounting import Count, dropped
from transforms.shared.alphabets import UNSPACED_RANGES
from transforms.shared.cleanstep import CleanStepFn, apply_step

DROPPED_NO_SENTENCES = dropped("no_sentences")

_TERMINATOR_SPLIT = re.compile(
    "(?<=[\u3002\uff01\uff1f\uff61\uff0e\u0964\u0965\u061f\u06d4\u1362\u104b])"
    "(?![\u3002\uff01\uff1f\uff61\uff0e\u0964\u0965\u061f\u06d4\u1362\u104b"
    "\u300d\u300f\uff09)\"'\u201d\u2019])\\s*"
)
_THAI_SPACE = re.compile(r"(?<=[\u0e00-\u0e7f]) +(?=[\u0e00-\u0e7f])")
# Unspaced letters, CJK punctuation (U+3000..U+303F) and full-width forms (U+FF00..U+FFEF).
_JOINED = f"{UNSPACED_RANGES}\u3000-\u303f\uff00-\uffef"
_JOIN_UNSPACED = re.compile(f"(?<=[{_JOINED}])\n(?=[{_JOINED}])")


@dataclass(frozen=True)
class SentenceConfig:
    min_sentence_chars: int = 1  # shorter pieces (stray punctuation) are dropped
    split_thai_spaces: bool = True


def _segment(lang: str, text: str) -> list[str]:
    import sentencex

    return list(sentencex.segment(lang, text))


def split_paragraph(text: str, lang: str, cfg: SentenceConfig = SentenceConfig()) -> list[str]:
    """One paragraph -> its sentences, stripped, in order."""
    ascii_only = text.isascii()  # then none of the script-specific splits can apply
    if not ascii_only:
        text = _JOIN_UNSPACED.sub("", text)
    text = text.replace("\n", " ")
    out: list[str] = []
    for sentence in _segment(lang if lang != "und" else "en", text):
        if ascii_only:
            pieces = [sentence]
        else:
            pieces = _TERMINATOR_SPLIT.split(sentence)
            if cfg.split_thai_spaces:
                pieces = [p for piece in pieces for p in _THAI_SPACE.split(piece)]
        out.extend(
            p for p in (piece.strip() for piece in pieces) if len(p) >= cfg.min_sentence_chars
        )
    return out


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
    return Doc(
        doc_id=doc.doc_id,
        source=doc.source,
        lang=doc.lang or "und",
        paragraphs=paragraphs,
        title=doc.title,
        source_file=doc.source_file,
        metadata=dict(doc.metadata),
    )


class _SentencesFn(CleanStepFn):
    step = "sentences"

    def apply(self, doc: RawDoc) -> Doc | None:
        return split_sentences(doc, self.cfg, self.count)


class SplitSentences(beam.PTransform):
    """RawDoc -> (Doc, rejected JSON). Counters: dropped_no_sentences, failed."""

    def __init__(self, cfg: SentenceConfig = SentenceConfig()) -> None:
        super().__init__()
        self.cfg = cfg

    def expand(self, docs):
        return apply_step(docs, "SplitSentences", _SentencesFn(self.cfg))
