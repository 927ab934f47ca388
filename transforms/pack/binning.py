"""Length bins: route examples by length so the loader's batches need little padding.

The loader draws each batch from one bin and pads to the batch's longest row, so padding waste
is bounded by the bin width; ``padding_waste`` measures it from the length histogram.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence

import numpy as np

from schemas.hashing import stable_hash


def default_bin_edges(max_seq_len: int) -> tuple[int, ...]:
    """Upper edges (inclusive): quarters up to 128 (32,64,96,128), eighths above (64..512)."""
    n = 4 if max_seq_len <= 128 else 8
    edges = sorted({max(1, -(-max_seq_len * (i + 1) // n)) for i in range(n)})
    edges[-1] = max_seq_len
    return tuple(edges)


def parse_bin_edges(spec: str | Sequence[int] | None, max_seq_len: int) -> tuple[int, ...]:
    """``"32,64,128"`` -> (32, 64, 128); ascending, positive, and the last edge covers
    max_seq_len (appended when missing). None or "" -> default_bin_edges."""
    if spec is None or spec == "" or spec == ():
        return default_bin_edges(max_seq_len)
    if isinstance(spec, str):
        edges = [int(x) for x in spec.split(",") if x.strip()]
    else:
        edges = [int(x) for x in spec]
    if any(e <= 0 for e in edges) or edges != sorted(set(edges)):
        raise ValueError(f"bin edges must be positive and strictly ascending, got {spec!r}")
    edges = [e for e in edges if e < max_seq_len] + [max_seq_len]
    return tuple(edges)


def length_bin(num_tokens: int, edges: Sequence[int]) -> int:
    """Index of the first bin whose upper edge is >= num_tokens."""
    b = bisect.bisect_left(edges, num_tokens)
    if b >= len(edges):
        raise ValueError(f"{num_tokens} tokens exceed the last bin edge {edges[-1]}")
    return b


def _round_up(x: np.ndarray, multiple: int) -> np.ndarray:
    return -(-x // multiple) * multiple


def _batched_waste(lengths: np.ndarray, batch_size: int, multiple: int) -> tuple[int, int]:
    """(padded tokens, batch tokens) for consecutive batches padded to their max (rounded)."""
    if lengths.shape[0] == 0:
        return 0, 0
    n_batches = -(-lengths.shape[0] // batch_size)
    padded = np.zeros(n_batches * batch_size, dtype=np.int64)
    padded[: lengths.shape[0]] = lengths
    grid = padded.reshape(n_batches, batch_size)
    rows = np.minimum(batch_size, lengths.shape[0] - np.arange(n_batches) * batch_size)
    width = _round_up(grid.max(axis=1), multiple)
    batch_tokens = int((width * rows).sum())
    return batch_tokens - int(lengths.sum()), batch_tokens


def padding_waste(
    length_counts: Mapping[int, int],
    edges: Sequence[int],
    *,
    max_seq_len: int,
    batch_size: int = 32,
    multiple: int = 8,
    seed: int = 0,
) -> dict:
    """Padding waste fraction (padded tokens / batch tokens) three ways, from a histogram:

    ``binned``: shuffled within each bin, batches padded to max-in-batch rounded to
    ``multiple``; ``mixed``: the same without bins; ``naive``: every row padded to max_seq_len.
    Shuffles are seeded, so the figures are reproducible.
    """
    lengths = np.repeat(
        np.fromiter(length_counts.keys(), dtype=np.int64, count=len(length_counts)),
        np.fromiter(length_counts.values(), dtype=np.int64, count=len(length_counts)),
    )
    lengths.sort()
    total = int(lengths.sum())
    if total == 0:
        return {"binned": 0.0, "mixed": 0.0, "naive": 0.0, "num_examples": 0, "per_bin": {}}
    padded = 0
    batch_tokens = 0
    per_bin = {}
    lo = 0
    for b, edge in enumerate(edges):
        hi = int(np.searchsorted(lengths, edge, side="right"))
        rng = np.random.default_rng(stable_hash(seed, "padding_waste", b))
        p, t = _batched_waste(rng.permutation(lengths[lo:hi]), batch_size, multiple)
        per_bin[str(b)] = {"examples": hi - lo, "waste": p / t if t else 0.0}
        padded += p
        batch_tokens += t
        lo = hi
    rng = np.random.default_rng(stable_hash(seed, "padding_waste", "mixed"))
    mp, mt = _batched_waste(rng.permutation(lengths), batch_size, multiple)
    naive_tokens = int(lengths.shape[0]) * max_seq_len
    return {
        "binned": padded / batch_tokens,
        "mixed": mp / mt,
        "naive": (naive_tokens - total) / naive_tokens,
        "num_examples": int(lengths.shape[0]),
        "batch_size": batch_size,
        "pad_multiple": multiple,
        "per_bin": per_bin,
    }
