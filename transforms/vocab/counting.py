"""Vocabulary stage, first half: cleaned docs -> held-out split -> summed word counts.

docs -> Route (holdout by bucket_of(doc_id)) -> CountWords (per-bundle Counters)
     -> sum over (word, lang) through spill files -> lists of ((lang, word), count)
     -> transforms.vocab.selection -> train -> evaluate on held-out docs -> TOK_DIR
"""

from __future__ import annotations

import collections
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Mapping

import apache_beam as beam

from schemas.hashing import bucket_of
from transforms.shared.accounting import (
    DROPPED_EMPTY,
    EMITTED,
    FAILED,
    INPUT,
    REJECTED_TAG,
    BeamCount,
    Count,
    Rejected,
    dropped,
)
from transforms.shared.spill import DeleteWhenDone, GroupThroughFiles, Segment, read_partition
from transforms.vocab.config import VocabConfig
from transforms.vocab.pretokenize import pretokenize
from transforms.vocab.train import residues_of

DROPPED_HOLDOUT = dropped("holdout")  # not counted: tokenised for the report instead
WORDS = "words"  # words counted (training docs)
HOLDOUT_WORDS = "holdout_words"
_HOLDOUT_BUCKETS = 1_000_000
# Spill partitions of the word counts, by word (so a word's languages meet): each is merged and
# summed as one sorted stream; more partitions only add small segment records.
_PARTITIONS = 16
_BATCH = 20_000  # summed (lang, word) counts per element after the spill


def is_holdout(doc_id: str, cfg: VocabConfig) -> bool:
    """A stable ``holdout_fraction`` sample of documents, chosen by doc_id and seed."""
    threshold = round(cfg.holdout_fraction * _HOLDOUT_BUCKETS)
    return bucket_of(doc_id, _HOLDOUT_BUCKETS, seed=("vocab-holdout", cfg.seed)) < threshold


def doc_sentences(row: Mapping) -> list[str]:
    """The sentences of a DOCUMENT_SCHEMA row; ValueError if the row is malformed."""
    paragraphs = row.get("paragraphs")
    if not isinstance(paragraphs, list) or not isinstance(row.get("lang"), str):
        raise ValueError("row lacks a paragraphs list or a lang")
    sentences = [s for p in paragraphs for s in (p or ())]
    if not all(isinstance(s, str) for s in sentences):
        raise ValueError("a sentence is not a string")
    return sentences


def words_of(text: str, cfg: VocabConfig) -> list[str]:
    """The units counted for the vocabulary: BERT words, or residues for protein models."""
    if cfg.model == "residues":
        return residues_of(text)
    return pretokenize(text, lowercase=cfg.lowercase)


def doc_words(row: Mapping, cfg: VocabConfig, count: Count) -> list[str]:
    """The words of one training doc, in order. Counters: emitted/dropped_empty, words."""
    # One call per doc: newline is whitespace, so no word spans two sentences.
    words = words_of("\n".join(doc_sentences(row)), cfg)
    if not words:
        count(DROPPED_EMPTY)
        return words
    count(EMITTED)
    count(WORDS, len(words))
    return words


def count_holdout(row: Mapping, cfg: VocabConfig, count: Count) -> None:
    count(DROPPED_HOLDOUT)
    count(HOLDOUT_WORDS, len(words_of("\n".join(doc_sentences(row)), cfg)))


def route_doc(row: Mapping, cfg: VocabConfig, count: Count) -> str:
    """'holdout' | 'train' | 'failed' for one input doc. Counters: input (+ failed)."""
    count(INPUT)
    try:
        doc_sentences(row)
    except ValueError:
        count(FAILED)
        return "failed"
    return "holdout" if is_holdout(row["doc_id"], cfg) else "train"


# --- Beam --------------------------------------------------------------------------------------

HOLDOUT_TAG = "holdout"


class _RouteFn(beam.DoFn):
    def __init__(self, cfg: VocabConfig) -> None:
        self.cfg = cfg

    def setup(self) -> None:
        self.count = BeamCount()

    def process(self, row: Mapping):
        where = route_doc(row, self.cfg, self.count)
        if where == "failed":
            rejected = Rejected(
                source_file=str(row.get("source_file") or ""),
                record_id=str(row.get("doc_id")),
                reason="malformed_doc",
                detail="paragraphs must be a list of lists of strings and lang a string",
            )
            yield beam.pvalue.TaggedOutput(REJECTED_TAG, rejected.to_json())
        elif where == "holdout":
            count_holdout(row, self.cfg, self.count)
            yield beam.pvalue.TaggedOutput(HOLDOUT_TAG, row)
        else:
            yield row


class RouteDocs(beam.PTransform):
    """Doc rows -> {"train": rows, "holdout": rows, "rejected": Rejected JSON}.

    Counters: input, dropped_holdout, holdout_words, failed.
    """

    def __init__(self, cfg: VocabConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def expand(self, rows):
        out = rows | "Route" >> beam.ParDo(_RouteFn(self.cfg)).with_outputs(
            HOLDOUT_TAG, REJECTED_TAG, main="train"
        )
        return {"train": out.train, HOLDOUT_TAG: out[HOLDOUT_TAG], REJECTED_TAG: out[REJECTED_TAG]}


def _emit_in_window(items: Iterable) -> Iterator:
    """finish_bundle's outputs, each in the global window (the only one these jobs use)."""
    from apache_beam.transforms.window import GlobalWindow
    from apache_beam.utils.windowed_value import WindowedValue

    window = GlobalWindow()
    timestamp = window.max_timestamp()
    for item in items:
        yield WindowedValue(item, timestamp, (window,))


def partition_of(word: str) -> int:
    """The spill partition of a word: every language's count of it lands in the same one."""
    return zlib.crc32(word.encode("utf-8", "surrogatepass")) % _PARTITIONS


class _CountWordsFn(beam.DoFn):
    """Sums word counts per language in one Counter per bundle (``Counter.update`` counts a
    word list in C), so the shuffle carries one record per distinct (lang, word) per bundle
    instead of one per occurrence; flushes early to bound memory. Emits spill records
    (partition, ((word, lang), count)): sorted by word, then language."""

    def __init__(self, cfg: VocabConfig, max_keys: int = 500_000) -> None:
        self.cfg = cfg
        self.max_keys = max_keys

    def setup(self) -> None:
        self.count = BeamCount()

    def start_bundle(self) -> None:
        self._by_lang: dict[str, collections.Counter] = {}
        self._keys = 0

    def process(self, row: Mapping):
        words = doc_words(row, self.cfg, self.count)
        if words:
            counts = self._by_lang.setdefault(row["lang"], collections.Counter())
            before = len(counts)
            counts.update(words)
            self._keys += len(counts) - before
        if self._keys >= self.max_keys:
            yield from self._flush()

    def finish_bundle(self):
        yield from _emit_in_window(self._flush())

    def _flush(self) -> list[tuple[int, tuple[tuple[str, str], int]]]:
        out = [
            (partition_of(w), ((w, lang), n))
            for lang, counts in self._by_lang.items()
            for w, n in counts.items()
        ]
        self._by_lang, self._keys = {}, 0
        return out


def _sums(records: Iterable[tuple[tuple[str, str], int]]) -> Iterator[tuple[tuple[str, str], int]]:
    """Sorted (key, n) records -> (key, sum of n), one per key."""
    key, total = None, 0
    for k, n in records:
        if k == key:
            total += n
            continue
        if key is not None:
            yield key, total
        key, total = k, n
    if key is not None:
        yield key, total


def summed_batches(
    records: Iterable[tuple[tuple[str, str], int]], size: int = _BATCH
) -> Iterator[list[tuple[tuple[str, str], int]]]:
    """((word, lang), n) records sorted by (word, lang) -> lists of ((lang, word), total) of
    about ``size``, cut only between words, so every language of a word is in one list."""
    batch: list[tuple[tuple[str, str], int]] = []
    for (word, lang), total in _sums(records):
        if len(batch) >= size and batch[-1][0][1] != word:
            yield batch
            batch = []
        batch.append(((lang, word), total))
    if batch:
        yield batch


def _sum_partition(item: tuple[int, Iterable[Segment]]) -> Iterator[list]:
    return summed_batches(read_partition(item[1]))


class CountWords(beam.PTransform):
    """Training doc rows -> lists of ((lang, word), count), each word's languages in one list
    (``summed_batches``). Counters: emitted, dropped_empty, words.

    The per-bundle counts are summed through spill files under ``temp_dir`` (default a local
    temporary folder, deleted once summed), not with CombinePerKey: the local runner would
    hold every bundle's partial counts at once, i.e. memory growing with the corpus (bundles x
    distinct words) rather than with its vocabulary. Lists rather than single counts spare
    the steps after it a Beam element per word."""

    def __init__(self, cfg: VocabConfig, temp_dir: str | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.temp_dir = temp_dir

    def expand(self, rows):
        temp_dir = self.temp_dir or tempfile.mkdtemp(prefix="bertcorpus-spill-")
        batches = (
            rows
            | "CountPerBundle" >> beam.ParDo(_CountWordsFn(self.cfg))
            | "Group" >> GroupThroughFiles(temp_dir)
            | "Sum" >> beam.FlatMap(_sum_partition)
        )
        _ = batches | "DeleteSpill" >> DeleteWhenDone(temp_dir)
        return batches
