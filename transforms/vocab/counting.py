"""Vocabulary stage: cleaned docs -> smoothed word counts -> trained tokenizer -> TOK_DIR.

    docs -> Route (holdout by bucket_of(doc_id)) -> CountWords (per-bundle dict)
         -> sum over (lang, word) through spill files -> per-language totals -> smoothing
         -> Top(max_words) -> train -> evaluate on held-out docs -> write TOK_DIR + report

Smoothing (mBERT): language l with n_l of N words is sampled with p_l ∝ (n_l/N)^alpha, so
each of its word counts is multiplied by p_l / (n_l/N). Weighted counts are kept as integer
milli-counts so that sums are exact in any order and the output is reproducible.
"""

from __future__ import annotations

import collections
import tempfile
from collections.abc import Iterable, Mapping

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
from transforms.shared.spill import DeleteWhenDone, GroupByKeyThroughFiles
from transforms.vocab.config import MILLI, VocabConfig
from transforms.vocab.pretokenize import is_cjk, is_punctuation, pretokenize
from transforms.vocab.train import residues_of

DROPPED_HOLDOUT = dropped("holdout")  # not counted: tokenised for the report instead
WORDS = "words"  # words counted (training docs)
HOLDOUT_WORDS = "holdout_words"
_HOLDOUT_BUCKETS = 1_000_000
# Spill partitions of the word counts: each is summed alone, so the peak holds ~1/16 of the
# distinct words' partial counts; more partitions only add small segment records.
_PARTITIONS = 16


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


def count_doc_words(row: Mapping, cfg: VocabConfig, count: Count) -> collections.Counter:
    """Word counts of one training doc, keyed (lang, word). Counters: emitted/dropped_empty."""
    lang = row["lang"]
    # One call per doc: newline is whitespace, so no word spans two sentences.
    counts = collections.Counter(words_of("\n".join(doc_sentences(row)), cfg))
    if not counts:
        count(DROPPED_EMPTY)
        return collections.Counter()
    count(EMITTED)
    count(WORDS, sum(counts.values()))
    return collections.Counter({(lang, w): n for w, n in counts.items()})


def language_stats(lang_totals: Mapping[str, int], alpha: float) -> dict[str, dict]:
    """Per language: words, share n_l/N, sampling prob p_l ∝ share^alpha, weight p_l/share."""
    total = sum(lang_totals.values())
    if total == 0:
        return {}
    shares = {lang: n / total for lang, n in sorted(lang_totals.items()) if n > 0}
    norm = sum(s**alpha for s in shares.values())
    out = {}
    for lang, share in shares.items():
        prob = share**alpha / norm
        out[lang] = {
            "words": int(lang_totals[lang]),
            "share": share,
            "sampling_prob": prob,
            "weight": prob / share,
        }
    return out


def weighted_milli(count: int, lang: str, stats: Mapping[str, dict]) -> int:
    """A (lang, word) count after smoothing, in integer thousandths."""
    return round(count * stats[lang]["weight"] * MILLI)


def alphabet_forms(counts: Iterable[tuple[str, int]], coverage: float, max_chars: int) -> list[str]:
    """Char forms to put in the vocabulary whatever the merges do: the most frequent chars
    covering ``coverage`` of all char occurrences (at most ``max_chars``), each bare and, unless
    it always stands alone (CJK, punctuation), also as a ``##`` continuation.

    Without this, a char seen only in words below min_count, or only word-initially, turns
    every held-out word containing it into [UNK].
    """
    ranked = sorted(counts, key=lambda cc: (-cc[1], cc[0]))
    total = sum(c for _, c in ranked)
    kept: list[str] = []
    running = 0
    for char, c in ranked[:max_chars]:
        if running >= coverage * total:
            break
        kept.append(char)
        running += c
    forms = []
    for char in sorted(kept):
        forms.append(char)
        if not (is_cjk(char) or is_punctuation(char)):
            forms.append("##" + char)
    return forms


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


class _BundleSumFn(beam.DoFn):
    """Sums (key, n) pairs in a dict per bundle, so the shuffle carries one record per distinct
    key per bundle instead of one per occurrence; flushes early to bound memory."""

    def __init__(self, max_keys: int = 500_000) -> None:
        self.max_keys = max_keys

    def pairs(self, element) -> Iterable[tuple]:
        raise NotImplementedError

    def start_bundle(self) -> None:
        self._counts: collections.Counter = collections.Counter()

    def process(self, element):
        for key, n in self.pairs(element):
            self._counts[key] += n
        if len(self._counts) >= self.max_keys:
            yield from self._counts.items()
            self._counts = collections.Counter()

    def finish_bundle(self):
        from apache_beam.transforms.window import GlobalWindow
        from apache_beam.utils.windowed_value import WindowedValue

        window = GlobalWindow()
        timestamp = window.max_timestamp()
        for kv in self._counts.items():
            yield WindowedValue(kv, timestamp, [window])
        self._counts = collections.Counter()


class _CountWordsFn(_BundleSumFn):
    def __init__(self, cfg: VocabConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def setup(self) -> None:
        self.count = BeamCount()

    def pairs(self, row: Mapping):
        return count_doc_words(row, self.cfg, self.count).items()


class _CharCountsFn(_BundleSumFn):
    def pairs(self, kv: tuple[tuple[str, str], int]):
        (lang, word), n = kv
        return (((lang, c), n) for c in word)


def _summed(kv: tuple[tuple[str, str], list[int]]) -> tuple[tuple[str, str], int]:
    return kv[0], sum(kv[1])


class CountWords(beam.PTransform):
    """Training doc rows -> ((lang, word), count). Counters: emitted, dropped_empty, words.

    The per-bundle counts are summed through spill files under ``temp_dir`` (default a local
    temporary folder, deleted once summed), not with CombinePerKey: the local runner would
    hold every bundle's partial counts at once, i.e. memory growing with the corpus (bundles x
    distinct words) rather than with its vocabulary."""

    def __init__(self, cfg: VocabConfig, temp_dir: str | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.temp_dir = temp_dir

    def expand(self, rows):
        temp_dir = self.temp_dir or tempfile.mkdtemp(prefix="bertcorpus-spill-")
        counts = (
            rows
            | "CountPerBundle" >> beam.ParDo(_CountWordsFn(self.cfg))
            | "Group" >> GroupByKeyThroughFiles(temp_dir, partitions=_PARTITIONS)
            | "Sum" >> beam.Map(_summed)
        )
        _ = counts | "DeleteSpill" >> DeleteWhenDone(temp_dir)
        return counts


def _selection(words: list, stats: dict, lang_chars: list, cfg: VocabConfig) -> dict:
    chars: collections.Counter = collections.Counter()
    for (lang, char), n in lang_chars:
        chars[char] += weighted_milli(n, lang, stats)
    return {
        "words": sorted(words),  # (word, milli-count), the top max_words
        "language_stats": stats,
        "char_forms": alphabet_forms(chars.items(), cfg.char_coverage, cfg.vocab_size // 3),
        "training_chars": "".join(sorted(chars)),
    }


class SelectTrainingWords(beam.PTransform):
    """((lang, word), count) -> one dict: the smoothed top ``max_words`` words (milli-counts),
    per-language stats, the char forms to keep in the alphabet and all training chars."""

    def __init__(self, cfg: VocabConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def expand(self, counts):
        cfg = self.cfg
        stats = (
            counts
            | "LangTotals" >> beam.Map(lambda kv: (kv[0][0], kv[1]))
            | "SumLang" >> beam.CombinePerKey(sum)
            | "LangDict" >> beam.combiners.ToDict()
            | "Smoothing" >> beam.Map(language_stats, cfg.alpha)
        )
        stats_si = beam.pvalue.AsSingleton(stats)
        top = (
            counts
            | "MinCount" >> beam.Filter(lambda kv: kv[1] >= cfg.min_count)
            | "Weigh"
            >> beam.Map(lambda kv, st: (kv[0][1], weighted_milli(kv[1], kv[0][0], st)), stats_si)
            | "SumAcrossLangs" >> beam.CombinePerKey(sum)
            | "TopWords" >> beam.combiners.Top.Of(cfg.max_words, key=lambda wc: (wc[1], wc[0]))
        )
        chars = (
            counts
            | "CharsPerBundle" >> beam.ParDo(_CharCountsFn())
            | "SumChars" >> beam.CombinePerKey(sum)
            | "AllChars" >> beam.combiners.ToList()
        )
        return top | "Select" >> beam.Map(_selection, stats_si, beam.pvalue.AsSingleton(chars), cfg)
