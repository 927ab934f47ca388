"""Gopher's repetition statistics over a document's lines and words: duplicate line/paragraph
fractions and the top / duplicate word n-gram character fractions (the quality filter's
repetition rules). Word n-grams are hashed with numpy (``ngrams``), not built as tuples."""

from __future__ import annotations

import itertools

import numpy as np

from transforms.clean.ngrams import ngram_hashes

WordIds = tuple[np.ndarray, np.ndarray]


def dup_fractions(items: list[str]) -> tuple[float, float]:
    """(fraction of items repeating an earlier one, fraction of characters in those)."""
    if len(set(items)) == len(items):
        return 0.0, 0.0  # no repeats: the common case, without a Python loop
    seen: set[str] = set()
    dup, dup_chars, chars = 0, 0, 0
    for item in items:
        chars += len(item)
        if item in seen:
            dup += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return dup / max(len(items), 1), dup_chars / max(chars, 1)


def _top_fraction(h: np.ndarray, n: int, window: np.ndarray, total: int) -> float:
    values = np.sort(h)
    run_starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    counts = np.diff(np.append(run_starts, len(values)))
    best = int(np.argmax(counts))
    if counts[best] < 2:
        return 0.0
    start = int(np.argmax(h == values[run_starts[best]]))
    return int(window[start + n] - window[start]) * int(counts[best]) / total


def _dup_fraction(h: np.ndarray, n: int, lengths: np.ndarray, total: int) -> float:
    # The default sort is several times faster than a stable one (SIMD quicksort); the first
    # occurrence of each value is then the smallest position in its run, the rest repeat it.
    order = np.argsort(h)
    values = h[order]
    run_starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    is_repeat = np.ones(len(h), dtype=bool)
    is_repeat[np.minimum.reduceat(order, run_starts)] = False
    repeats = np.flatnonzero(is_repeat)
    delta = np.zeros(len(lengths) + 1, dtype=np.int64)
    delta[repeats] += 1
    delta[repeats + n] -= 1
    covered = np.cumsum(delta[:-1]) > 0
    return float(lengths[covered].sum()) / total


def ngram_stats(words: list[str], top_ns, dup_ns, ids: WordIds | None = None):
    """Yield (name, value) lazily in the order of ``n``, so a failing rule stops the work.

    Gopher repetition statistics over ``words``: ``top_<n>`` = characters in the most
    frequent n-gram (times its count) / all characters; ``dup_<n>`` = characters of words
    covered by a repeat (second or later occurrence) of an n-gram / all characters.
    ``ids``: ``word_ids(words)`` where the caller has it already."""
    wanted_top, wanted_dup = set(top_ns), set(dup_ns)
    if not words or not (wanted_top or wanted_dup):
        return
    units, lengths = word_ids(words) if ids is None else ids
    total = max(int(lengths.sum()), 1)
    window = np.concatenate(([0], np.cumsum(lengths)))
    for n, h in ngram_hashes(units + np.uint64(1), max(wanted_top | wanted_dup)):
        if n in wanted_top:
            yield f"top_{n}", _top_fraction(h, n, window, total)
        if n in wanted_dup:
            yield f"dup_{n}", _dup_fraction(h, n, lengths, total)


def word_ids(words: list[str]) -> WordIds:
    """(each word's id: the index of its first occurrence, each word's length) as arrays."""
    vocab: dict[str, int] = {}
    # map in C, no Python loop
    ids = np.fromiter(
        map(vocab.setdefault, words, itertools.count()), dtype=np.uint64, count=len(words)
    )
    # The lengths of the distinct words only (a third of them), spread to the rest by id.
    by_first = np.zeros(len(words), dtype=np.int64)
    firsts = np.fromiter(vocab.values(), dtype=np.int64, count=len(vocab))
    by_first[firsts] = np.fromiter(map(len, vocab), dtype=np.int64, count=len(vocab))
    return ids, by_first[ids]
