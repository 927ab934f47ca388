"""Example columns as per-chunk numpy views of the Arrow buffers, plus small per-example arrays.

One chunk = one record batch of one shard. The token-sized arrays of a chunk (input_ids,
word_start, static masks and their list offsets) are views of the Arrow buffers, never copies:
for an uncompressed shard opened memory-mapped they point into the mapped file, so token data
stays on disk, is paged in by the OS on demand and is shared by every process on the node
(DataLoader workers, ranks). Compressed shards are decompressed once by Arrow when opened and
the views point at those buffers. Only per-example scalars (segment_b_start, pair_label,
length_bin, has_static: 8 bytes per example) are materialised, concatenated over all chunks,
because the sampler and the collator index them globally.

Global example index = position in manifest order (shard sets, shards, record batches, rows);
``ExampleColumns.locate`` maps it to (chunk, local row) by binary search over chunk starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from schemas.example import EXAMPLE_SCHEMA
from schemas.shards import ShardError

_F = EXAMPLE_SCHEMA.field  # column names come from the schema object, never literals
INPUT_IDS = _F("input_ids").name
WORD_START = _F("word_start").name
SEGMENT_B_START = _F("segment_b_start").name
PAIR_LABEL = _F("pair_label").name
LENGTH_BIN = _F("length_bin").name
STATIC_POSITIONS = _F("static_mask_positions").name
STATIC_IDS = _F("static_mask_ids").name


@dataclass(frozen=True)
class ExampleChunk:
    """The rows of one record batch; ``offsets[i]:offsets[i + 1]`` are row i's tokens."""

    token_ids: np.ndarray  # int32 [T], a view of the Arrow values buffer
    word_start: np.ndarray  # uint8 [T], shares token_ids' offsets (checked at load)
    offsets: np.ndarray  # int32 [n + 1], a view of the Arrow offsets buffer
    static_positions: np.ndarray  # int32 [S]
    static_ids: np.ndarray  # int32 [S], shares static_positions' offsets (checked)
    static_offsets: np.ndarray  # int32 [n + 1]

    @property
    def num_rows(self) -> int:
        return len(self.offsets) - 1


@dataclass(frozen=True)
class ExampleColumns:
    """N examples: token data per chunk, scalars [N] concatenated in global order."""

    chunks: tuple[ExampleChunk, ...]
    chunk_starts: np.ndarray  # int64 [C + 1]: global index of each chunk's first row, then N
    segment_b_start: np.ndarray  # int32 [N]
    pair_label: np.ndarray  # int8 [N]
    length_bin: np.ndarray  # int16 [N]
    has_static: np.ndarray  # bool [N]

    @property
    def num_examples(self) -> int:
        return len(self.segment_b_start)

    @property
    def num_tokens(self) -> int:
        return sum(len(c.token_ids) for c in self.chunks)

    def locate(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Global indices -> (chunk number, row within that chunk), both int64."""
        chunk_of = np.searchsorted(self.chunk_starts, indices, side="right") - 1
        return chunk_of, indices - self.chunk_starts[chunk_of]


def _view(array: pa.Array, dtype: type) -> np.ndarray:
    """A numpy view of a null-free primitive Arrow array (a copy only if it must convert)."""
    try:
        values = array.to_numpy(zero_copy_only=True)
    except pa.ArrowInvalid:  # nulls inside: cannot be a view (never written by our jobs)
        values = array.to_numpy(zero_copy_only=False)
    return values.astype(dtype, copy=False)


def _list_views(array: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(values, offsets, valid or None when no list is null) of a list array; values and
    offsets are views of its buffers.

    ``array.offsets`` honours the array's own slice offset and indexes ``array.values`` (the
    whole child), so slices need no adjustment. Nothing here reads the token pages, and an
    all-null column (no static masks) does not even read its offsets.
    """
    offsets = _view(array.offsets, np.int32)
    valid = None
    if array.null_count == len(array):
        valid = np.zeros(len(array), dtype=bool)
    elif array.null_count:
        valid = array.is_valid().to_numpy(zero_copy_only=False)
    return _view(array.values, array.type.value_type.to_pandas_dtype()), offsets, valid


def _lengths(offsets: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    lengths = np.diff(offsets)
    if valid is not None:  # null lists count as length 0
        lengths[~valid] = 0
    return lengths


def _sibling(
    values: np.ndarray,
    offsets: np.ndarray,
    valid: np.ndarray | None,
    target: np.ndarray,
    target_valid: np.ndarray | None,
    *,
    error: str,
) -> np.ndarray:
    """Values of a list column whose rows must be as long as its sibling's (``target``
    offsets), laid out by the sibling's offsets so one offsets array serves both. Our writer
    lays siblings out identically, so this is the view itself; only a file laid out
    otherwise gets a copy. ShardError(``error``) when row lengths differ."""
    if valid is not None and target_valid is not None and not (valid.any() or target_valid.any()):
        return values  # both all-null: nothing to read or check
    if valid is None and target_valid is None and np.array_equal(offsets, target):
        return values  # the usual case: one pass over the offsets, no temporaries
    lengths = _lengths(offsets, valid)
    if not np.array_equal(lengths, _lengths(target, target_valid)):
        raise ShardError(error)
    rows = np.flatnonzero(lengths > 0)
    if np.array_equal(offsets[rows], target[rows]):  # differ only where there is no data
        return values
    n = lengths[rows].astype(np.int64)
    within = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    out = np.zeros(int(target[-1]) if len(target) else 0, dtype=values.dtype)
    out[np.repeat(target[rows], n) + within] = values[np.repeat(offsets[rows], n) + within]
    return out


def chunk_from_batch(batch: pa.RecordBatch, *, where: str) -> tuple[ExampleChunk, dict]:
    """One record batch -> (ExampleChunk of views, its scalar columns); ShardError if the
    list columns that must align do not."""
    ids, offsets, valid = _list_views(batch.column(INPUT_IDS))
    ws = _sibling(
        *_list_views(batch.column(WORD_START)),
        offsets,
        valid,
        error=f"{where}: word_start and input_ids lengths differ",
    )
    positions, static_offsets, has_static = _list_views(batch.column(STATIC_POSITIONS))
    static_ids = _sibling(
        *_list_views(batch.column(STATIC_IDS)),
        static_offsets,
        has_static,
        error=f"{where}: static_mask_positions and static_mask_ids differ",
    )
    chunk = ExampleChunk(ids, ws, offsets, positions, static_ids, static_offsets)
    scalars = {
        "b": _view(batch.column(SEGMENT_B_START), np.int32),
        "pair": _view(batch.column(PAIR_LABEL), np.int8),
        "bin": _view(batch.column(LENGTH_BIN), np.int16),
        "static": np.ones(batch.num_rows, dtype=bool) if has_static is None else has_static,
    }
    return chunk, scalars


def columns_from_tables(tables: list[pa.Table], *, where: str) -> ExampleColumns:
    """Example tables (in order) -> ExampleColumns of per-record-batch views; ShardError on
    bad rows. Empty record batches are skipped (they hold no example)."""
    chunks: list[ExampleChunk] = []
    scalars: dict[str, list[np.ndarray]] = {k: [] for k in ("b", "pair", "bin", "static")}
    for table in tables:
        for batch in table.to_batches():
            if batch.num_rows == 0:
                continue
            chunk, values = chunk_from_batch(batch, where=where)
            chunks.append(chunk)
            for key, array in values.items():
                scalars[key].append(array)
    return _assemble(chunks, scalars)


def _assemble(chunks: list[ExampleChunk], scalars: dict[str, list[np.ndarray]]) -> ExampleColumns:
    starts = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum([c.num_rows for c in chunks], out=starts[1:])

    def cat(parts: list[np.ndarray], dtype) -> np.ndarray:
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)

    return ExampleColumns(
        chunks=tuple(chunks),
        chunk_starts=starts,
        segment_b_start=cat(scalars["b"], np.int32),
        pair_label=cat(scalars["pair"], np.int8),
        length_bin=cat(scalars["bin"], np.int16),
        has_static=cat(scalars["static"], bool),
    )


def concat_columns(columns: list[ExampleColumns]) -> ExampleColumns:
    """Several shard sets back to back (global index = position in this order); token data
    is not touched, only the chunk lists are joined and the small scalars concatenated."""
    if len(columns) == 1:
        return columns[0]
    return _assemble(
        [chunk for c in columns for chunk in c.chunks],
        {
            "b": [c.segment_b_start for c in columns],
            "pair": [c.pair_label for c in columns],
            "bin": [c.length_bin for c in columns],
            "static": [c.has_static for c in columns],
        },
    )
