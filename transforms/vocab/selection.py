"""Vocabulary stage, second half: summed word counts -> the smoothed training words.

    CountWords' lists of ((lang, word), count) -> per-language totals -> smoothing
    -> weighted counts summed across languages -> top max_words -> one selection dict

Smoothing (mBERT): language l with n_l of N words is sampled with p_l ∝ (n_l/N)^alpha, so
each of its word counts is multiplied by p_l / (n_l/N). Weighted counts are kept as integer
milli-counts so that sums are exact in any order and the output is reproducible.

Each step works on a whole list in Python and ends in one small global combine, rather
than a Beam element per word (CountWords puts every language of a word in the same list,
so the cross-language sum is local to a list).
"""

from __future__ import annotations

import collections
import heapq
import itertools
from collections.abc import Iterable, Mapping

import apache_beam as beam

from transforms.vocab.config import MILLI, VocabConfig
from transforms.vocab.pretokenize import is_cjk, is_punctuation


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


def lang_totals(batch: list[tuple[tuple[str, str], int]]) -> collections.Counter:
    totals: collections.Counter = collections.Counter()
    for (lang, _), n in batch:
        totals[lang] += n
    return totals


def lang_char_counts(batch: list[tuple[tuple[str, str], int]]) -> collections.Counter:
    chars: collections.Counter = collections.Counter()
    for (lang, word), n in batch:
        for c in word:
            chars[lang, c] += n
    return chars


def weighted_words(batch: list, stats: Mapping[str, dict], min_count: int) -> list[tuple]:
    """(milli-count, word) summed over languages, of (lang, word) counts >= ``min_count``."""
    words: collections.Counter = collections.Counter()
    for (lang, word), n in batch:
        if n >= min_count:
            words[word] += weighted_milli(n, lang, stats)
    return [(m, w) for w, m in words.items()]


class _SumCounters(beam.CombineFn):
    def create_accumulator(self) -> collections.Counter:
        return collections.Counter()

    def add_input(self, acc: collections.Counter, counts: Mapping) -> collections.Counter:
        acc.update(counts)
        return acc

    def merge_accumulators(self, accs: Iterable[collections.Counter]) -> collections.Counter:
        out: collections.Counter = collections.Counter()
        for acc in accs:
            out.update(acc)
        return out

    def extract_output(self, acc: collections.Counter) -> dict:
        return dict(acc)


class _TopWords(beam.CombineFn):
    """The ``k`` largest (milli-count, word) pairs, from lists of them; holds at most 2k."""

    def __init__(self, k: int) -> None:
        self.k = k

    def create_accumulator(self) -> list:
        return []

    def add_input(self, acc: list, pairs: list) -> list:
        acc.extend(pairs)
        return heapq.nlargest(self.k, acc) if len(acc) > 2 * self.k else acc

    def merge_accumulators(self, accs: Iterable[list]) -> list:
        return heapq.nlargest(self.k, itertools.chain.from_iterable(accs))

    def extract_output(self, acc: list) -> list[tuple[str, int]]:
        return [(w, m) for m, w in heapq.nlargest(self.k, acc)]


def _selection(words: list, stats: dict, lang_chars: Mapping, cfg: VocabConfig) -> dict:
    chars: collections.Counter = collections.Counter()
    for (lang, char), n in lang_chars.items():
        chars[char] += weighted_milli(n, lang, stats)
    return {
        "words": sorted(words),  # (word, milli-count), the top max_words
        "language_stats": stats,
        "char_forms": alphabet_forms(chars.items(), cfg.char_coverage, cfg.vocab_size // 3),
        "training_chars": "".join(sorted(chars)),
    }


class SelectTrainingWords(beam.PTransform):
    """CountWords' lists -> one dict: the smoothed top ``max_words`` words (milli-counts),
    per-language stats, the char forms to keep in the alphabet and all training chars."""

    def __init__(self, cfg: VocabConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def expand(self, batches):
        cfg = self.cfg
        stats = (
            batches
            | "LangTotals" >> beam.Map(lang_totals)
            | "SumLang" >> beam.CombineGlobally(_SumCounters())
            | "Smoothing" >> beam.Map(language_stats, cfg.alpha)
        )
        stats_si = beam.pvalue.AsSingleton(stats)
        top = (
            batches
            | "Weigh" >> beam.Map(weighted_words, stats_si, cfg.min_count)
            | "TopWords" >> beam.CombineGlobally(_TopWords(cfg.max_words))
        )
        chars = (
            batches
            | "CharCounts" >> beam.Map(lang_char_counts)
            | "SumChars" >> beam.CombineGlobally(_SumCounters())
        )
        return top | "Select" >> beam.Map(_selection, stats_si, beam.pvalue.AsSingleton(chars), cfg)
