"""Fine-tuning features and the batches built from them.

A ``Feature`` is one model input (``[CLS] ... [SEP]`` ids and segment ids) with its label: an
int (sentence/pair classification), a list of per-position labels with ``IGNORE_INDEX`` on
positions that are not scored (tagging), or a (start, end) token pair (extractive QA).

Batches are length-bucketed: an epoch shuffles the features (seeded), sorts each window of
``BUCKET_BATCHES`` batches by length, cuts it into batches and shuffles the batch order; every
batch is padded to its own longest row, never to ``max_seq_len``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schemas.hashing import stable_hash
from trainer.masking import IGNORE_INDEX

BUCKET_BATCHES = 50  # batches sorted together: long enough to group lengths, short enough to mix
PAD_MULTIPLE = 8  # padded lengths are multiples of 8 (tensor-core and SIMD friendly)

Label = int | list[int] | tuple[int, int]


@dataclass(frozen=True)
class Feature:
    input_ids: list[int]
    token_type_ids: list[int]
    label: Label


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Feature indices per batch for one training epoch (a pure function of its arguments)."""
    rng = np.random.default_rng(stable_hash(seed, "finetune-order", epoch))
    order = rng.permutation(len(lengths))
    window = batch_size * BUCKET_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window].tolist(), key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def eval_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Feature indices per batch for prediction: sorted by length, no shuffling."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def collate(features: list[Feature], pad_id: int) -> dict[str, np.ndarray]:
    """-> input_ids, token_type_ids, attention_mask [B, L] and labels ([B], [B, L] or [B, 2])."""
    longest = max(len(f.input_ids) for f in features)
    width = -(-longest // PAD_MULTIPLE) * PAD_MULTIPLE
    batch = len(features)
    input_ids = np.full((batch, width), pad_id, dtype=np.int64)
    token_type_ids = np.zeros((batch, width), dtype=np.int64)
    attention_mask = np.zeros((batch, width), dtype=np.int64)
    for row, f in enumerate(features):
        n = len(f.input_ids)
        input_ids[row, :n] = f.input_ids
        token_type_ids[row, :n] = f.token_type_ids
        attention_mask[row, :n] = 1
    out = {
        "input_ids": input_ids,
        "token_type_ids": token_type_ids,
        "attention_mask": attention_mask,
    }
    first = features[0].label
    if isinstance(first, list):
        labels = np.full((batch, width), IGNORE_INDEX, dtype=np.int64)
        for row, f in enumerate(features):
            labels[row, : len(f.label)] = f.label  # type: ignore[arg-type]
        out["labels"] = labels
    else:
        out["labels"] = np.asarray([f.label for f in features], dtype=np.int64)
    return out
