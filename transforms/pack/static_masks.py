"""Static MLM masks chosen at packing time (google-research/bert create_masked_lm_predictions).

Used only with ``--static_masks``; by default the loader masks dynamically. Each dupe of an
example gets its own mask because the generator is seeded by (seed, example key, dupe).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StaticMaskConfig:
    masked_lm_prob: float = 0.15
    max_predictions_per_seq: int = 20
    whole_word: bool = False
    mask_token_frac: float = 0.8  # of chosen tokens -> [MASK]
    random_token_frac: float = 0.1  # -> a random non-special token; the rest stay unchanged


def num_to_predict(num_tokens: int, cfg: StaticMaskConfig) -> int:
    """google's budget: round(len * prob), at least 1, at most max_predictions_per_seq.

    Like google, ``num_tokens`` includes [CLS]/[SEP] although they are never chosen.
    """
    return min(cfg.max_predictions_per_seq, max(1, int(round(num_tokens * cfg.masked_lm_prob))))


def choose_positions(
    word_start: np.ndarray, candidate: np.ndarray, budget: int, whole_word: bool, rng
) -> np.ndarray:
    """Sorted positions to predict: shuffled candidate tokens (or whole words) taken greedily.

    With ``whole_word`` a word is all its tokens; a word that would overflow the budget is
    skipped and the next one tried, as in google's script.
    """
    cand = np.flatnonzero(candidate)
    if cand.shape[0] == 0 or budget <= 0:
        return np.zeros(0, dtype=np.int32)
    if not whole_word:
        picked = rng.permutation(cand)[:budget]
        return np.sort(picked).astype(np.int32)
    word_of = np.cumsum(word_start.astype(np.int64))[cand]
    # cand is sorted, so each word's tokens are one contiguous run of cand
    bounds = np.flatnonzero(np.diff(word_of)) + 1
    groups = np.split(cand, bounds)
    chosen: list[np.ndarray] = []
    total = 0
    for g in rng.permutation(len(groups)):
        if total >= budget:
            break
        size = groups[g].shape[0]
        if total + size > budget:
            continue
        chosen.append(groups[g])
        total += size
    if not chosen:
        return np.zeros(0, dtype=np.int32)
    return np.sort(np.concatenate(chosen)).astype(np.int32)


def static_mask(
    input_ids: np.ndarray,
    word_start: np.ndarray,
    special_ids: np.ndarray,
    random_pool: np.ndarray,
    cfg: StaticMaskConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(positions, ids placed there): 80% [MASK], 10% random token, 10% unchanged.

    ``special_ids[0]`` must be the [MASK] id; no special token is ever chosen. ``random_pool``
    holds the ids a random replacement may take (the non-special vocabulary).
    """
    candidate = ~np.isin(input_ids, special_ids)
    budget = num_to_predict(int(input_ids.shape[0]), cfg)
    positions = choose_positions(word_start, candidate, budget, cfg.whole_word, rng)
    u = np.asarray(rng.random(positions.shape[0]))
    ids = input_ids[positions].astype(np.int32)
    is_mask = u < cfg.mask_token_frac
    is_random = (u >= cfg.mask_token_frac) & (u < cfg.mask_token_frac + cfg.random_token_frac)
    ids[is_mask] = special_ids[0]
    if is_random.any():
        ids[is_random] = random_pool[rng.integers(0, random_pool.shape[0], int(is_random.sum()))]
    return positions, ids
