"""Vectorised dynamic MLM masking: token, whole-word (Google WWM) and span (SpanBERT) strategies.

Every random decision comes from a counter-based hash (splitmix64) of a per-example key and a
position or pass counter, so an example's mask depends only on (seed, epoch, example index) and
never on which other examples share its batch, the padded length, the worker or the rank.
Keys come from ``example_keys``; ``schemas.hashing.stable_hash`` seeds them.

Selection rules (candidates = real tokens whose id is not a special token):
- token: each candidate is chosen independently with probability ``mask_rate`` (RoBERTa/HF).
- whole_word: a budget of floor(n_candidates * mask_rate + U) tokens (stochastic rounding, so the
  expected rate is exact); words are visited in random order and taken whole while they fit,
  skipping words that would overflow the budget, exactly like google-research/bert's WWM.
- span: SpanBERT: repeatedly draw a span length in words from a geometric(p) law clipped to
  ``max_span`` and a uniformly chosen anchor word, and mask that run of whole words (cut at the
  segment end and at the budget, never inside a word) until the budget is spent.
Chosen tokens get label = original id; of them ``mask_token_frac`` become [MASK],
``random_token_frac`` a uniformly drawn non-special id, the rest stay unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from schemas.hashing import GOLDEN_GAMMA, splitmix64, stable_hash
from schemas.special_tokens import MASK

IGNORE_INDEX = -100  # label of positions that are not predicted (torch CrossEntropyLoss default)

_U64 = np.uint64
_GAMMA = _U64(GOLDEN_GAMMA)
_S32 = _U64(32)
_LOW32 = _U64(0xFFFFFFFF)
_TWO32 = float(1 << 32)
# Per-row streams; xor-ed into the example key so they never meet the per-position stream.
_STREAM_BUDGET = _U64(0x5EED0B0D6E7A11CE)
_STREAM_SPAN = _U64(0x5BA9B1C0FFEE0001)
_MAX_SPAN_FAILURES = 16  # anchor already masked / anchor word does not fit: retries per row


@dataclass(frozen=True)
class MaskingConfig:
    mask_rate: float = 0.15
    mask_token_frac: float = 0.8
    random_token_frac: float = 0.1
    strategy: Literal["token", "whole_word", "span"] = "token"
    span_geometric_p: float = 0.2  # SpanBERT
    max_span: int = 10
    use_static_masks: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.mask_rate <= 1.0:
            raise ValueError(f"mask_rate must be in [0, 1], got {self.mask_rate}")
        fracs = (self.mask_token_frac, self.random_token_frac)
        if min(fracs) < 0.0 or sum(fracs) > 1.0 + 1e-12:
            raise ValueError(f"mask_token_frac + random_token_frac must lie in [0, 1], got {fracs}")
        if self.strategy not in ("token", "whole_word", "span"):
            raise ValueError(f"unknown masking strategy {self.strategy!r}")
        if not 0.0 < self.span_geometric_p <= 1.0 or self.max_span < 1:
            raise ValueError("span_geometric_p must be in (0, 1] and max_span >= 1")


def example_keys(seed: int, epoch: int, example_index: np.ndarray) -> np.ndarray:
    """uint64 key per example: stream ``example_index`` of splitmix64 seeded by (seed, epoch)."""
    return keys_from_base(stable_hash(seed, epoch), example_index)


def keys_from_base(base: int, example_index: np.ndarray) -> np.ndarray:
    idx = np.asarray(example_index, dtype=_U64) + _U64(1)
    return splitmix64(_U64(base) + idx * _GAMMA)


def position_hash(keys: np.ndarray, length: int) -> np.ndarray:
    """[B, L] uint64: hash of (key, position); position p of every row is independent."""
    steps = (np.arange(1, length + 1, dtype=_U64) * _GAMMA)[None, :]
    return splitmix64(keys[:, None] + steps)


def row_hash(keys: np.ndarray, stream: np.uint64, counter: int) -> np.ndarray:
    """[B] uint64: the ``counter``-th draw of a per-row stream."""
    step = _U64((counter + 1) * int(_GAMMA) & 0xFFFFFFFFFFFFFFFF)
    return splitmix64((keys ^ stream) + step)


def span_length_cdf(p: float, max_span: int) -> np.ndarray:
    """uint64 thresholds (scaled by 2^32) of the geometric(p) law on 1..max_span, renormalised."""
    lengths = np.arange(1, max_span + 1)
    pmf = p * (1.0 - p) ** (lengths - 1)
    cdf = np.cumsum(pmf / pmf.sum())
    return np.minimum(np.round(cdf * _TWO32), _TWO32).astype(_U64)


def sample_span_lengths(u32: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """Span lengths in words (1..len(cdf)) by inverse CDF from uniform 32-bit draws."""
    return np.minimum(np.searchsorted(cdf, u32, side="right"), len(cdf) - 1) + 1


class Masker:
    """Masks padded id batches for one vocabulary; callable, stateless between calls."""

    def __init__(
        self, cfg: MaskingConfig, *, special_token_ids: Mapping[str, int], vocab_size: int
    ) -> None:
        if MASK not in special_token_ids:
            raise ValueError(f"special_token_ids lacks {MASK}")
        self.cfg = cfg
        self.mask_id = int(special_token_ids[MASK])
        size = max(vocab_size, max(special_token_ids.values()) + 1)
        self.is_special = np.zeros(size, dtype=bool)
        self.is_special[list(special_token_ids.values())] = True
        self.replacement_ids = np.flatnonzero(~self.is_special[:vocab_size]).astype(np.int64)
        self.rate_threshold = _U64(round(cfg.mask_rate * _TWO32))
        self.t_mask = _U64(round(cfg.mask_token_frac * _TWO32))
        self.t_random = _U64(round((cfg.mask_token_frac + cfg.random_token_frac) * _TWO32))
        self.span_cdf = span_length_cdf(cfg.span_geometric_p, cfg.max_span)

    def candidates(self, input_ids: np.ndarray, real: np.ndarray) -> np.ndarray:
        """Maskable positions: real tokens that are not special tokens."""
        return real & ~self.is_special[input_ids]

    def __call__(
        self,
        input_ids: np.ndarray,
        keys: np.ndarray,
        *,
        real: np.ndarray,
        word_start: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """input_ids [B, L] int64, keys [B] uint64, real [B, L] bool (1 = not padding),
        word_start [B, L] (whole_word/span) -> (masked input_ids, labels), both [B, L] int64."""
        cand = self.candidates(input_ids, real)
        h = position_hash(keys, input_ids.shape[1])
        if self.cfg.strategy == "token":
            selected = cand & ((h >> _S32) < self.rate_threshold)
        else:
            if word_start is None:
                raise ValueError(f"{self.cfg.strategy} masking needs word_start")
            cand, starts, word_end = word_bounds(cand, word_start, real)
            budget = self._budget(cand, keys)
            if self.cfg.strategy == "whole_word":
                selected = select_whole_words(h >> _S32, starts, word_end, cand, budget)
            else:
                selected = self._select_spans(cand, starts, word_end, keys, budget)
        return self.corrupt(input_ids, selected, h & _LOW32)

    def _budget(self, cand: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Tokens to predict per row: floor(n * rate + U), U uniform (unbiased rounding)."""
        n = cand.sum(axis=1).astype(_U64)
        u = row_hash(keys, _STREAM_BUDGET, 0) >> _S32
        return ((n * self.rate_threshold + u) >> _S32).astype(np.int64)

    def corrupt(
        self, input_ids: np.ndarray, selected: np.ndarray, u32: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Apply the [MASK] / random / keep split to the selected positions (per-token draws)."""
        flat_sel = np.flatnonzero(selected)
        original = input_ids.ravel()[flat_sel]
        labels = np.full(input_ids.shape, IGNORE_INDEX, dtype=np.int64)
        labels.ravel()[flat_sel] = original
        out = input_ids.copy()
        v = u32.ravel()[flat_sel]
        out.ravel()[flat_sel[v < self.t_mask]] = self.mask_id
        rnd = (v >= self.t_mask) & (v < self.t_random)
        if rnd.any():
            width = self.t_random - self.t_mask
            pick = ((v[rnd] - self.t_mask) * _U64(len(self.replacement_ids))) // width
            out.ravel()[flat_sel[rnd]] = self.replacement_ids[pick.astype(np.int64)]
        return out, labels

    def _select_spans(
        self,
        cand: np.ndarray,
        starts: np.ndarray,
        word_end: np.ndarray,
        keys: np.ndarray,
        budget: np.ndarray,
    ) -> np.ndarray:
        """SpanBERT span selection, one span per row per pass, all rows at once."""
        rows = np.arange(cand.shape[0])
        word_rank = np.cumsum(starts, axis=1) - 1  # ordinal of each token's word in the row
        segment = np.cumsum(~cand, axis=1)  # candidate runs between special tokens
        n_words = starts.sum(axis=1).astype(_U64)
        n_cand = cand.sum(axis=1)
        masked = np.zeros_like(cand)
        remaining = budget.copy()
        failures = np.zeros_like(remaining)
        active = (remaining > 0) & (n_words > 0)
        counter = 0
        while active.any():
            r = row_hash(keys, _STREAM_SPAN, counter)
            counter += 1
            anchor = (((r >> _S32) * n_words) >> _S32).astype(np.int64)
            span = sample_span_lengths(r & _LOW32, self.span_cdf)
            anchor_pos = np.argmax(starts & (word_rank == anchor[:, None]), axis=1)
            usable = active & ~masked[rows, anchor_pos]
            in_span = (
                cand
                & ~masked
                & (word_rank >= anchor[:, None])
                & (word_rank < (anchor + span)[:, None])
                & (segment == segment[rows, anchor_pos][:, None])
                & usable[:, None]
            )
            filled = np.take_along_axis(np.cumsum(in_span, axis=1), word_end, axis=1)
            add = in_span & (filled <= remaining[:, None])
            added = add.sum(axis=1)
            masked |= add
            remaining -= added
            failures += active & (added == 0)
            active &= (remaining > 0) & (failures < _MAX_SPAN_FAILURES)
            active &= n_cand - (budget - remaining) > 0
        return masked


def word_bounds(
    cand: np.ndarray, word_start: np.ndarray, real: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Words are a word_start=1 token plus the 0s after it (padding always starts a word).
    Returns (cand_words, starts, word_end), all [B, L]: tokens of words made only of
    candidates (a word holding a special token, e.g. [UNK] + "##s", is never partly masked),
    the first tokens of those words, and the index of the last token of each token's word."""
    length = cand.shape[1]
    pos = np.arange(length)
    ws = (word_start != 0) | ~real
    ws[:, 0] = True
    last = np.ones_like(ws)
    last[:, :-1] = ws[:, 1:]
    word_end = np.minimum.accumulate(np.where(last, pos, length)[:, ::-1], axis=1)[:, ::-1]
    start_of = np.maximum.accumulate(np.where(ws, pos, 0), axis=1)
    bad = np.cumsum(~cand, axis=1)
    bad_before = np.where(
        start_of > 0, np.take_along_axis(bad, np.maximum(start_of - 1, 0), axis=1), 0
    )
    cand_words = cand & (np.take_along_axis(bad, word_end, axis=1) == bad_before)
    return cand_words, ws & cand_words, word_end


def select_whole_words(
    u32: np.ndarray,
    starts: np.ndarray,
    word_end: np.ndarray,
    cand: np.ndarray,
    budget: np.ndarray,
) -> np.ndarray:
    """Google WWM: words in random order (u32 at their first token), taken whole while they
    fit in the budget; words that would overflow are skipped and later, shorter ones still
    taken. Each pass takes the longest fitting prefix of the remaining candidates; iterating
    until nothing fits reproduces the sequential greedy exactly."""
    length = cand.shape[1]
    pos = np.arange(length)
    word_len = np.where(starts, word_end - pos + 1, 0)
    order = np.argsort(np.where(starts, u32, _U64(1 << 33)), axis=1, kind="stable")
    sorted_len = np.take_along_axis(word_len, order, axis=1)
    chosen = np.zeros(cand.shape, dtype=bool)
    remaining = budget.copy()
    while True:
        fits = (sorted_len > 0) & ~chosen & (sorted_len <= remaining[:, None])
        if not fits.any():
            break
        taken = np.cumsum(np.where(fits, sorted_len, 0), axis=1)
        add = fits & (taken <= remaining[:, None])
        chosen |= add
        remaining -= np.where(add, sorted_len, 0).sum(axis=1)
    chosen_start = np.zeros_like(chosen)
    np.put_along_axis(chosen_start, order, chosen, axis=1)
    start_of = np.maximum.accumulate(np.where(starts, pos, 0), axis=1)
    return cand & np.take_along_axis(chosen_start, start_of, axis=1)
