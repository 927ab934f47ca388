"""One batch = gather rows from their chunks, pad, type ids, mask; vectorised per chunk.

Example columns live in ``trainer.columns``: per record batch, views of the (memory-mapped)
Arrow buffers, never one flat copy. A batch's rows are grouped by chunk (a batch from one
length bin touches a handful of chunks, often one) and each group is a few numpy gathers, so
the output is identical to gathering from one flat array, whatever the chunking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schemas.example import NO_PAIR
from trainer.columns import ExampleChunk, ExampleColumns
from trainer.masking import IGNORE_INDEX, Masker, keys_from_base

# (chunk, rows of the batch it holds or slice(None) for all of them, local rows in the chunk)
Group = tuple[ExampleChunk, np.ndarray | slice, np.ndarray]


@dataclass(frozen=True)
class Gathered:
    """Where a batch's tokens are: per chunk group (chunk, rows of the batch or a slice for
    all of them, local rows in the chunk), and the [B, L] token offsets into each chunk."""

    groups: list[Group]
    flat: np.ndarray  # int64 [B, L], offset into the row's own chunk
    real: np.ndarray  # bool [B, L]

    def take(self, name: str, fill: int, dtype: type) -> np.ndarray:
        """Column ``name`` of every chunk gathered to [B, L]; ``fill`` where not real."""
        if len(self.groups) == 1 and isinstance(self.groups[0][1], slice):
            values = getattr(self.groups[0][0], name)
            if len(values):  # clip: padding positions may point past the last row's tokens
                return np.where(self.real, values.take(self.flat, mode="clip"), fill)
        out: np.ndarray = np.zeros(self.flat.shape, dtype=dtype)
        for chunk, rows, _ in self.groups:
            values = getattr(chunk, name)
            if len(values):
                out[rows] = values.take(self.flat[rows], mode="clip")
        return np.where(self.real, out, fill)


@dataclass(frozen=True)
class Collator:
    """Global example indices -> a padded, masked batch of numpy int64 arrays."""

    columns: ExampleColumns
    masker: Masker
    pad_id: int
    pad_multiple: int
    use_static_masks: bool

    def locate(self, indices: np.ndarray) -> Gathered:
        """Group the batch's rows by chunk and compute their token offsets."""
        chunks = self.columns.chunks
        groups: list[Group] = []
        if len(chunks) == 1:  # no search needed: global index = local row
            chunk_of, local = None, indices
        else:
            chunk_of, local = self.columns.locate(indices)
        if chunk_of is None or not len(chunk_of) or (chunk_of == chunk_of[0]).all():
            chunk = chunks[int(chunk_of[0]) if chunk_of is not None and len(local) else 0]
            groups.append((chunk, slice(None), local))  # common: one chunk, no fancy rows
            starts = chunk.offsets[local].astype(np.int64)
            lengths = chunk.offsets[local + 1] - starts
        else:
            starts = np.zeros(len(indices), dtype=np.int64)
            lengths = np.zeros(len(indices), dtype=np.int64)
            for c in np.unique(chunk_of):
                rows = np.flatnonzero(chunk_of == c)
                groups.append((chunks[c], rows, local[rows]))
                starts[rows] = chunks[c].offsets[local[rows]]
                lengths[rows] = chunks[c].offsets[local[rows] + 1] - starts[rows]
        longest = int(lengths.max()) if len(lengths) else 0
        width = -(-longest // self.pad_multiple) * self.pad_multiple
        pos = np.arange(width)
        return Gathered(groups, starts[:, None] + pos, pos < lengths[:, None])

    def gather(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, Gathered]:
        """(input_ids [B, L] int64 padded, real [B, L] bool, where the tokens are)."""
        where = self.locate(indices)
        ids = where.take("token_ids", self.pad_id, np.int32).astype(np.int64)
        return ids, where.real, where

    def __call__(self, indices: np.ndarray, mask_base: int) -> dict[str, np.ndarray]:
        c = self.columns
        ids, real, where = self.gather(indices)
        word_start = None
        if self.masker.cfg.strategy != "token":
            word_start = where.take("word_start", 1, np.uint8)
        keys = keys_from_base(mask_base, indices)
        masked, labels = self.masker(ids, keys, real=real, word_start=word_start)
        if self.use_static_masks:
            self._apply_static(indices, where, ids, masked, labels)
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
        self,
        indices: np.ndarray,
        where: Gathered,
        ids: np.ndarray,
        masked: np.ndarray,
        labels: np.ndarray,
    ) -> None:
        """Rows whose shard carries static masks use them instead of the dynamic ones."""
        has_static = self.columns.has_static[indices]
        if not has_static.any():
            return
        for chunk, rows, loc in where.groups:
            rows = np.arange(len(indices))[rows]  # a slice (one chunk) -> explicit rows
            keep = has_static[rows]
            rows, loc = rows[keep], loc[keep]
            if not len(rows):
                continue
            masked[rows] = ids[rows]
            labels[rows] = IGNORE_INDEX
            lo = chunk.static_offsets[loc].astype(np.int64)
            counts = chunk.static_offsets[loc + 1] - lo
            row_of = np.repeat(rows, counts)
            take = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            cols = chunk.static_positions[take].astype(np.int64)
            labels[row_of, cols] = ids[row_of, cols]
            masked[row_of, cols] = chunk.static_ids[take]
