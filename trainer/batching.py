"""Example columns in flat numpy arrays, and one batch = pad + type ids + mask, vectorised.

Shards are read once (verified) into contiguous arrays: all token ids of all examples of all
shard sets back to back, plus per-example offsets. A batch is then a handful of numpy
gathers, whatever its size, and DataLoader workers forked from the parent share the arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.example import EXAMPLE_SCHEMA, NO_PAIR
from schemas.shards import ShardError
from trainer.masking import IGNORE_INDEX, Masker, keys_from_base

_F = EXAMPLE_SCHEMA.field  # column names come from the schema object, never literals
INPUT_IDS = _F("input_ids").name
WORD_START = _F("word_start").name
SEGMENT_B_START = _F("segment_b_start").name
PAIR_LABEL = _F("pair_label").name
LENGTH_BIN = _F("length_bin").name
STATIC_POSITIONS = _F("static_mask_positions").name
STATIC_IDS = _F("static_mask_ids").name


@dataclass
class ExampleColumns:
    """Columns of N examples; list columns flattened with offsets [N + 1]."""

    token_ids: np.ndarray  # int32 [T]
    word_start: np.ndarray  # uint8 [T]
    offsets: np.ndarray  # int64 [N + 1]
    segment_b_start: np.ndarray  # int32 [N]
    pair_label: np.ndarray  # int8 [N]
    length_bin: np.ndarray  # int16 [N]
    static_positions: np.ndarray  # int32 [S]
    static_ids: np.ndarray  # int32 [S]
    static_offsets: np.ndarray  # int64 [N + 1]
    has_static: np.ndarray  # bool [N]

    @property
    def num_examples(self) -> int:
        return len(self.segment_b_start)


def _flat_list(table: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, lengths, valid) of a list column; null lists have length 0, valid False."""
    column = table.column(name)
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    lengths = pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False)
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    return array.flatten().to_numpy(zero_copy_only=False), lengths.astype(np.int64), valid


def _scalar(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy()


def _offsets(lengths: list[np.ndarray]) -> np.ndarray:
    offsets = np.zeros(sum(len(x) for x in lengths) + 1, dtype=np.int64)
    np.cumsum(np.concatenate(lengths) if lengths else [], out=offsets[1:])
    return offsets


def columns_from_tables(tables: list[pa.Table], *, where: str) -> ExampleColumns:
    """Flatten example tables (in order) into one ExampleColumns; ShardError on bad rows."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("ids", "ws", "len", "sp", "si", "sl")}
    scalars: dict[str, list[np.ndarray]] = {k: [] for k in ("b", "pair", "bin", "static")}
    for table in tables:
        ids, lengths, _ = _flat_list(table, INPUT_IDS)
        ws, ws_lengths, _ = _flat_list(table, WORD_START)
        if not np.array_equal(lengths, ws_lengths):
            raise ShardError(f"{where}: word_start and input_ids lengths differ")
        positions, static_lengths, has_static = _flat_list(table, STATIC_POSITIONS)
        static_ids, static_id_lengths, _ = _flat_list(table, STATIC_IDS)
        if not np.array_equal(static_lengths, static_id_lengths):
            raise ShardError(f"{where}: static_mask_positions and static_mask_ids differ")
        parts["ids"].append(ids.astype(np.int32, copy=False))
        parts["ws"].append(ws.astype(np.uint8, copy=False))
        parts["len"].append(lengths)
        parts["sp"].append(positions.astype(np.int32, copy=False))
        parts["si"].append(static_ids.astype(np.int32, copy=False))
        parts["sl"].append(static_lengths)
        scalars["b"].append(_scalar(table, SEGMENT_B_START).astype(np.int32, copy=False))
        scalars["pair"].append(_scalar(table, PAIR_LABEL).astype(np.int8, copy=False))
        scalars["bin"].append(_scalar(table, LENGTH_BIN).astype(np.int16, copy=False))
        scalars["static"].append(has_static.astype(bool))

    def cat(chunks: list[np.ndarray], dtype) -> np.ndarray:
        return np.concatenate(chunks).astype(dtype, copy=False) if chunks else np.zeros(0, dtype)

    return ExampleColumns(
        token_ids=cat(parts["ids"], np.int32),
        word_start=cat(parts["ws"], np.uint8),
        offsets=_offsets(parts["len"]),
        segment_b_start=cat(scalars["b"], np.int32),
        pair_label=cat(scalars["pair"], np.int8),
        length_bin=cat(scalars["bin"], np.int16),
        static_positions=cat(parts["sp"], np.int32),
        static_ids=cat(parts["si"], np.int32),
        static_offsets=_offsets(parts["sl"]),
        has_static=cat(scalars["static"], bool),
    )


def concat_columns(columns: list[ExampleColumns]) -> ExampleColumns:
    """Several shard sets back to back (global index = position in this order)."""
    if len(columns) == 1:
        return columns[0]

    def shifted(name: str, values: str) -> np.ndarray:
        out, base = [np.zeros(1, np.int64)], 0
        for c in columns:
            out.append(getattr(c, name)[1:] + base)
            base += len(getattr(c, values))
        return np.concatenate(out)

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(c, name) for c in columns])

    return ExampleColumns(
        token_ids=cat("token_ids"),
        word_start=cat("word_start"),
        offsets=shifted("offsets", "token_ids"),
        segment_b_start=cat("segment_b_start"),
        pair_label=cat("pair_label"),
        length_bin=cat("length_bin"),
        static_positions=cat("static_positions"),
        static_ids=cat("static_ids"),
        static_offsets=shifted("static_offsets", "static_positions"),
        has_static=cat("has_static"),
    )


@dataclass(frozen=True)
class Collator:
    """Global example indices -> a padded, masked batch of numpy int64 arrays."""

    columns: ExampleColumns
    masker: Masker
    pad_id: int
    pad_multiple: int
    use_static_masks: bool

    def gather(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(input_ids [B, L] int64 padded, real [B, L] bool, flat [B, L] token offsets)."""
        c = self.columns
        starts = c.offsets[indices]
        lengths = c.offsets[indices + 1] - starts
        longest = int(lengths.max()) if len(lengths) else 0
        width = -(-longest // self.pad_multiple) * self.pad_multiple
        pos = np.arange(width)
        real = pos < lengths[:, None]
        flat = starts[:, None] + pos
        ids = np.where(real, c.token_ids.take(flat, mode="clip"), self.pad_id).astype(np.int64)
        return ids, real, flat

    def __call__(self, indices: np.ndarray, mask_base: int) -> dict[str, np.ndarray]:
        c = self.columns
        ids, real, flat = self.gather(indices)
        word_start = None
        if self.masker.cfg.strategy != "token":
            word_start = np.where(real, c.word_start.take(flat, mode="clip"), 1)
        keys = keys_from_base(mask_base, indices)
        masked, labels = self.masker(ids, keys, real=real, word_start=word_start)
        if self.use_static_masks:
            self._apply_static(indices, ids, masked, labels)
        token_type = real & (np.arange(ids.shape[1]) >= c.segment_b_start[indices][:, None])
        pair = c.pair_label[indices].astype(np.int64)
        pair[pair == NO_PAIR] = IGNORE_INDEX
        return {
            "input_ids": masked,
            "token_type_ids": token_type.astype(np.int64),
            "attention_mask": real.astype(np.int64),
            "labels": labels,
            "pair_label": pair,
        }

    def _apply_static(
        self, indices: np.ndarray, ids: np.ndarray, masked: np.ndarray, labels: np.ndarray
    ) -> None:
        """Rows whose shard carries static masks use them instead of the dynamic ones."""
        c = self.columns
        rows = np.flatnonzero(c.has_static[indices])
        if not len(rows):
            return
        masked[rows] = ids[rows]
        labels[rows] = IGNORE_INDEX
        lo, hi = c.static_offsets[indices[rows]], c.static_offsets[indices[rows] + 1]
        counts = hi - lo
        row_of = np.repeat(rows, counts)
        take = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        cols = c.static_positions[take].astype(np.int64)
        labels[row_of, cols] = ids[row_of, cols]
        masked[row_of, cols] = c.static_ids[take]
