"""Rolling hashes of n-grams of uint64 units (word ids, word hashes or code points), shared by
the repetition rules of the quality filter and the shingles of near-duplicate detection."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from schemas.hashing import GOLDEN_GAMMA

_MULTIPLIER = np.uint64(GOLDEN_GAMMA)  # odd, so distinct n-grams rarely collide


def ngram_hashes(units: np.ndarray, max_n: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (n, hash of every n-gram) for n = 1..max_n, stopping early once a single n-gram is
    left (a shorter sequence has no longer n-grams); uint64 arithmetic wraps."""
    h = units
    yield 1, h
    for n in range(2, max_n + 1):
        if len(h) < 2:
            return
        h = h[:-1] * _MULTIPLIER + units[n - 1 :]
        yield n, h


def ngram_hash(units: np.ndarray, n: int) -> np.ndarray:
    """Hashes of the ``n``-grams of ``units``, or of the whole sequence when it is shorter."""
    *_, (_, last) = ngram_hashes(units, n)
    return last
