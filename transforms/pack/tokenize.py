"""Cleaned documents -> token ids per sentence, plus word-start flags, in batches.

A document is tokenised once: all its sentences are encoded (without special tokens) in one
``encode_batch`` call together with the sentences of the other documents of the batch, then
flattened into numpy arrays so packing never touches tokens one at a time in Python.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import apache_beam as beam
import numpy as np

from transforms.shared.accounting import (
    DROPPED_EMPTY,
    FAILED,
    INPUT,
    REJECTED_TAG,
    BeamCount,
    Count,
    Rejected,
)

SENTENCES = "sentences"
TOKENS = "tokens"


@dataclass(frozen=True)
class TokenizedDoc:
    """A document as token ids. Sentence ``i`` is ``ids[sent_offsets[i]:sent_offsets[i+1]]``."""

    doc_id: str
    source: str
    ids: np.ndarray  # int32 [num_tokens]
    word_start: np.ndarray  # uint8 [num_tokens]; 1 where a token starts a word
    sent_offsets: np.ndarray  # int64 [num_sentences + 1], no empty sentences

    @property
    def num_tokens(self) -> int:
        return int(self.ids.shape[0])

    @property
    def num_sentences(self) -> int:
        return int(self.sent_offsets.shape[0]) - 1


def continuation_table(tokenizer) -> np.ndarray | None:
    """bool[vocab_size], True for ids that continue a word, where the spelling decides it.

    WordPiece marks continuation pieces with its prefix ("##") and Metaspace/SentencePiece
    marks word starts with "▁"; for those a table lookup gives exactly what the Encoding's
    word ids give, and lets us use ``encode_batch_fast`` (no offsets). None for every other
    tokenizer: word starts then come from ``word_ids``.
    """
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    table = np.zeros(max(vocab.values(), default=-1) + 1, dtype=bool)
    prefix = getattr(tokenizer.model, "continuing_subword_prefix", None)
    if type(tokenizer.model).__name__ == "WordPiece" and prefix:
        for token, idx in vocab.items():
            table[idx] = token.startswith(prefix)
        return table
    if "Metaspace" in repr(tokenizer.pre_tokenizer):
        for token, idx in vocab.items():
            table[idx] = not token.startswith("▁")
        specials = [t.content for t in tokenizer.get_added_tokens_decoder().values()]
        table[[vocab[t] for t in specials if t in vocab]] = False
        return table
    return None


def word_starts_from_word_ids(word_ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """uint8 flags from concatenated per-sentence word ids (NaN = token outside any word).

    A token starts a word when its word id differs from the previous token's, or it opens a
    sentence; NaN never equals anything, so added/special tokens are words of their own.
    """
    starts = np.ones(word_ids.shape[0], dtype=np.uint8)
    if word_ids.shape[0] > 1:
        starts[1:] = word_ids[1:] != word_ids[:-1]
    firsts = np.cumsum(lengths)[:-1]
    starts[firsts[firsts < word_ids.shape[0]]] = 1
    return starts


def _as_doc_parts(row: Mapping) -> tuple[str, str, list[str]]:
    doc_id, source, paragraphs = row["doc_id"], row["source"], row["paragraphs"]
    if not isinstance(doc_id, str) or not isinstance(source, str):
        raise TypeError(f"doc_id/source must be strings, got {type(doc_id)}/{type(source)}")
    sentences = [s for p in paragraphs for s in p if s]
    if not all(isinstance(s, str) for s in sentences):
        raise TypeError("sentences must be strings")
    return doc_id, source, sentences


def tokenize_docs(
    rows: Sequence[Mapping],
    tokenizer,
    cont_table: np.ndarray | None,
    count: Count,
    *,
    rejected: list[str] | None = None,
) -> list[TokenizedDoc]:
    """Document rows (DOCUMENT_SCHEMA dicts) -> TokenizedDocs, all sentences in one batch.

    Word starts come from ``cont_table`` (see ``continuation_table``) or, when it is None, from
    the Encodings' word ids. Counters: input, dropped_empty (no tokens), failed (malformed row,
    dead letter in ``rejected``); info: sentences, tokens. ``emitted`` is counted by packing.
    """
    parts = _doc_parts(rows, count, rejected)
    sentences = list(itertools.chain.from_iterable(p[2] for p in parts))
    if not sentences:
        for _ in parts:
            count(DROPPED_EMPTY)
        return []
    ids, lengths, word_start = _encode(sentences, tokenizer, cont_table)
    return _split_by_doc(parts, ids, lengths, word_start, count)


def _doc_parts(
    rows: Sequence[Mapping], count: Count, rejected: list[str] | None
) -> list[tuple[str, str, list[str]]]:
    """(doc_id, source, sentences) per well-formed row; malformed rows become dead letters."""
    parts: list[tuple[str, str, list[str]]] = []
    for row in rows:
        count(INPUT)
        try:
            parts.append(_as_doc_parts(row))
        except (KeyError, TypeError) as exc:
            count(FAILED)
            if rejected is not None:
                rejected.append(
                    Rejected(
                        source_file=str(row.get("source_file") or ""),
                        record_id=str(row.get("doc_id", "")),
                        reason="malformed_document",
                        detail=repr(exc),
                    ).to_json()
                )
    return parts


def _encode(
    sentences: list[str], tokenizer, cont_table: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flat int32 ids, int64 token count per sentence, uint8 word-start flag per token)."""
    if cont_table is not None:
        encodings = tokenizer.encode_batch_fast(sentences, add_special_tokens=False)
    else:
        encodings = tokenizer.encode_batch(sentences, add_special_tokens=False)
    id_lists = [e.ids for e in encodings]
    lengths = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
    total = int(lengths.sum())
    ids = np.fromiter(itertools.chain.from_iterable(id_lists), dtype=np.int32, count=total)
    if cont_table is not None:
        word_start = (~cont_table[ids]).astype(np.uint8)
        word_start[np.cumsum(lengths)[:-1][lengths[1:] > 0]] = 1  # sentences start words
        if total:
            word_start[0] = 1
    else:
        word_ids = np.array(
            list(itertools.chain.from_iterable(e.word_ids for e in encodings)), dtype=np.float64
        )
        word_start = word_starts_from_word_ids(word_ids, lengths)
    return ids, lengths, word_start


def _split_by_doc(
    parts: list[tuple[str, str, list[str]]],
    ids: np.ndarray,
    lengths: np.ndarray,
    word_start: np.ndarray,
    count: Count,
) -> list[TokenizedDoc]:
    """The batch's flat arrays cut back into one TokenizedDoc per document with tokens."""
    sent_end = np.cumsum(lengths)
    out: list[TokenizedDoc] = []
    first = 0
    for doc_id, source, doc_sentences in parts:
        n = len(doc_sentences)
        doc_lengths = lengths[first : first + n]
        lo = int(sent_end[first - 1]) if first else 0
        hi = int(sent_end[first + n - 1]) if n else lo
        first += n
        kept = doc_lengths[doc_lengths > 0]
        if hi == lo:
            count(DROPPED_EMPTY)
            continue
        offsets = np.zeros(kept.shape[0] + 1, dtype=np.int64)
        np.cumsum(kept, out=offsets[1:])
        count(SENTENCES, int(kept.shape[0]))
        count(TOKENS, hi - lo)
        out.append(
            TokenizedDoc(doc_id, source, ids[lo:hi].copy(), word_start[lo:hi].copy(), offsets)
        )
    return out


def limit_tokenizer_threads() -> None:
    """One tokenizer thread per worker: Beam parallelises across workers, and per-core numbers
    stay comparable."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("RAYON_NUM_THREADS", "1")


class _TokenizeFn(beam.DoFn):
    """list of document rows -> TokenizedDoc per document; dead letters on REJECTED_TAG."""

    def __init__(self, tokenizer_dir: str) -> None:
        self.tokenizer_dir = tokenizer_dir

    def setup(self) -> None:
        from transforms.vocab.tokenizer_dir import load_tokenizer

        limit_tokenizer_threads()
        self.tokenizer = load_tokenizer(self.tokenizer_dir)
        self.cont_table = continuation_table(self.tokenizer)
        self.count = BeamCount()

    def process(self, rows: list[Mapping]) -> Iterable:
        rejected: list[str] = []
        yield from tokenize_docs(
            rows, self.tokenizer, self.cont_table, self.count, rejected=rejected
        )
        for line in rejected:
            yield beam.pvalue.TaggedOutput(REJECTED_TAG, line)


class TokenizeDocs(beam.PTransform):
    """Document row dicts -> TokenizedDoc (output "docs") + dead-letter JSON (REJECTED_TAG).

    Counters: input, dropped_empty, failed; info: sentences, tokens.
    """

    def __init__(self, tokenizer_dir: str, *, batch_docs: int = 64) -> None:
        super().__init__()
        self.tokenizer_dir = tokenizer_dir
        self.batch_docs = batch_docs

    def expand(self, rows):
        return (
            rows
            | "BatchDocs" >> beam.BatchElements(min_batch_size=1, max_batch_size=self.batch_docs)
            | "Encode"
            >> beam.ParDo(_TokenizeFn(self.tokenizer_dir)).with_outputs(REJECTED_TAG, main="docs")
        )
