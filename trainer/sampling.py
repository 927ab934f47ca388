"""Deterministic epoch plans: which examples form which batch, in which order, on which rank.

A plan is a pure function of (seed, epoch, shard-set sizes and length bins, batch size,
world size), never of worker count or wall clock, so every rank and every DataLoader worker
computes the same plan on its own and a resumed run sees exactly the batches it would have.

One shard set, one "cycle" = one pass over it: shuffle the examples of each length bin, cut
each bin into batches (the last one of a bin may be partial), shuffle the batch order. The
Generator is numpy's PCG64 seeded by ``stable_hash(seed, cycle, set_index)``.

Mixtures: an epoch is a fixed number of batches, N = the sum over sets of their batches per
cycle. Set i gets exactly n_i = round(N * p_i) of them (largest remainder), drawn in order from
its own endless stream of cycles (epoch e takes stream batches e*n_i .. (e+1)*n_i - 1), and the
slot order of the N batches is shuffled with ``stable_hash(seed, "mixture", epoch)``. With
weights proportional to batch counts (the default, or alpha = 1 up to partial batches) an epoch
is exactly one cycle of every set. A single shard set is the mixture of one: cycle = epoch.

Ranks: rank r takes batches r, r + W, ... of the epoch's batch list. When the batch count is
not a multiple of W, batches near the end are split in halves (largest first, so never across
length bins) until it is: every rank runs the same number of steps (no rank waits on a
collective) and each example is seen exactly once per epoch, at the price of a few smaller
batches. Only when the last 2W batches hold fewer examples than needed do the last ranks get
one batch fewer. ``drop_last`` instead drops partial bin batches and the trailing batches that
do not fill a round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from schemas.hashing import stable_hash


@dataclass(frozen=True)
class PlannedBatch:
    indices: np.ndarray  # global example indices (manifest order across shard sets), int64
    cycle: int  # pass over its shard set that the batch belongs to: seeds its masks


class SetSampler:
    """Batches of one shard set, cycle by cycle; examples are global indices offset..offset+n."""

    def __init__(
        self,
        length_bins: np.ndarray,
        *,
        offset: int,
        set_index: int,
        batch_size: int,
        seed: int,
        shuffle: bool,
        drop_last: bool,
    ) -> None:
        order = np.argsort(length_bins, kind="stable")
        edges = np.flatnonzero(np.diff(length_bins[order])) + 1
        self.groups = [g + offset for g in np.split(order, edges)] if len(order) else []
        self.num_examples = len(length_bins)
        self.set_index, self.batch_size, self.seed = set_index, batch_size, seed
        self.shuffle, self.drop_last = shuffle, drop_last
        per_bin = [len(g) // batch_size if drop_last else -(-len(g) // batch_size) for g in self]
        self.batches_per_cycle = int(sum(per_bin))
        self._plans: dict[int, list[np.ndarray]] = {}  # a plain dict pickles into workers

    def __iter__(self):
        return iter(self.groups)

    def cycle_plan(self, cycle: int) -> list[np.ndarray]:
        if cycle not in self._plans:
            if len(self._plans) >= 4:
                self._plans.pop(next(iter(self._plans)))
            self._plans[cycle] = self._make_cycle_plan(cycle)
        return self._plans[cycle]

    def _make_cycle_plan(self, cycle: int) -> list[np.ndarray]:
        rng = np.random.default_rng(stable_hash(self.seed, cycle, self.set_index))
        size = self.batch_size
        batches: list[np.ndarray] = []
        for group in self.groups:
            examples = rng.permutation(group) if self.shuffle else group
            if self.drop_last:
                examples = examples[: len(examples) - len(examples) % size]
            batches.extend(examples[i : i + size] for i in range(0, len(examples), size))
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def stream(self, start: int, count: int) -> list[PlannedBatch]:
        """Batches ``start .. start + count - 1`` of this set's endless sequence of cycles."""
        per = self.batches_per_cycle
        out = []
        for j in range(start, start + count):
            cycle, k = divmod(j, per)
            out.append(PlannedBatch(self.cycle_plan(cycle)[k], cycle))
        return out


def mixture_probabilities(
    sizes: Sequence[int], *, weights: Sequence[float] | None, alpha: float | None
) -> np.ndarray:
    """p_i from explicit weights, or p_i ∝ n_i ** alpha (alpha = 1: proportional to size)."""
    if weights is not None and alpha is not None:
        raise ValueError("give mixture_weights or mixture_alpha, not both")
    if weights is not None:
        if len(weights) != len(sizes):
            raise ValueError(f"{len(weights)} mixture weights for {len(sizes)} shard sets")
        p = np.asarray(weights, dtype=np.float64)
    else:
        p = np.asarray(sizes, dtype=np.float64) ** (1.0 if alpha is None else alpha)
    if (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"mixture weights must be non-negative with a positive sum, got {p}")
    return p / p.sum()


def largest_remainder(total: int, p: np.ndarray) -> np.ndarray:
    """Integer counts summing to ``total`` closest to total * p (ties to the lower index)."""
    exact = total * p
    counts = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


class EpochPlanner:
    """The batch list of every epoch over one or more shard sets, and each rank's share."""

    def __init__(
        self,
        sets: Sequence[SetSampler],
        *,
        seed: int,
        shuffle: bool,
        drop_last: bool,
        world_size: int,
        weights: Sequence[float] | None = None,
        alpha: float | None = None,
    ) -> None:
        self.sets, self.seed, self.shuffle, self.drop_last = list(sets), seed, shuffle, drop_last
        self.world_size = world_size
        per_cycle = [s.batches_per_cycle for s in self.sets]
        if len(self.sets) == 1 or (weights is None and alpha is None):
            self.counts = np.asarray(per_cycle, dtype=np.int64)  # one cycle of every set
        else:
            p = mixture_probabilities(
                [s.num_examples for s in self.sets], weights=weights, alpha=alpha
            )
            self.counts = largest_remainder(sum(per_cycle), p)
        for s, n in zip(self.sets, self.counts, strict=True):
            if n > 0 and s.batches_per_cycle == 0:
                raise ValueError(f"shard set {s.set_index} has no batches but a mixture weight")
        self._epochs: dict[int, list[PlannedBatch]] = {}

    def epoch_batches(self, epoch: int) -> list[PlannedBatch]:
        """All ranks' batches of ``epoch``, a multiple of world_size long where possible."""
        if epoch not in self._epochs:
            self._epochs = {epoch: self._make_epoch_batches(epoch)}
        return self._epochs[epoch]

    def _make_epoch_batches(self, epoch: int) -> list[PlannedBatch]:
        streams = [
            iter(s.stream(epoch * int(n), int(n)))
            for s, n in zip(self.sets, self.counts, strict=True)
        ]
        slots = np.repeat(np.arange(len(self.sets)), self.counts)
        if self.shuffle and len(self.sets) > 1:
            slots = np.random.default_rng(stable_hash(self.seed, "mixture", epoch)).permutation(
                slots
            )
        batches = [next(streams[i]) for i in slots]
        return split_for_ranks(batches, self.world_size, drop_last=self.drop_last)

    def rank_batches(self, epoch: int, rank: int) -> list[PlannedBatch]:
        return self.epoch_batches(epoch)[rank :: self.world_size]


def split_for_ranks(
    batches: list[PlannedBatch], world_size: int, *, drop_last: bool
) -> list[PlannedBatch]:
    """Make the batch count a multiple of ``world_size`` (see module docstring): split the
    largest of the last 2 * world_size batches in halves, in place, as often as needed."""
    need = -len(batches) % world_size
    if need == 0:
        return batches
    if drop_last:
        return batches[: len(batches) - (world_size - need)]
    head = len(batches) - min(len(batches), 2 * world_size)
    window = batches[head:]
    for _ in range(need):
        big = max(range(len(window)), key=lambda i: (len(window[i].indices), -i))
        piece = window[big]
        if len(piece.indices) < 2:
            break  # fewer examples than ranks left: the last ranks get one batch fewer
        half = -(-len(piece.indices) // 2)
        window[big : big + 1] = [
            PlannedBatch(piece.indices[:half], piece.cycle),
            PlannedBatch(piece.indices[half:], piece.cycle),
        ]
    return batches[:head] + window
