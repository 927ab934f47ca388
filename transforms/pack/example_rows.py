"""Packed instances -> EXAMPLE_SCHEMA rows, shard routing, and rows -> Arrow tables.

Rows cross Beam's shuffle with their token columns as raw bytes (``compact_row``) and become
Arrow columns in one step per shard (``rows_to_table``), never via lists of Python ints.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from schemas.example import EXAMPLE_SCHEMA
from schemas.hashing import stable_hash
from schemas.special_tokens import CLS, MASK, SEP
from transforms.pack.binning import length_bin
from transforms.pack.config import Instance, PackConfig
from transforms.pack.static_masks import static_mask


@dataclass(frozen=True)
class Vocab:
    """What packing needs to know about the tokenizer (looked up, never assumed)."""

    cls_id: int
    sep_id: int
    mask_id: int
    vocab_size: int
    special_ids: tuple[int, ...]  # all special tokens; never masked statically
    random_pool: np.ndarray | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_special_ids(cls, ids: dict[str, int], vocab_size: int) -> Vocab:
        special = tuple(sorted(set(ids.values())))
        pool = np.setdiff1d(np.arange(vocab_size, dtype=np.int32), np.array(special))
        return cls(ids[CLS], ids[SEP], ids[MASK], vocab_size, special, pool)

    def mask_specials(self) -> np.ndarray:
        """Special ids with [MASK] first, as static_mask expects."""
        rest = [i for i in self.special_ids if i != self.mask_id]
        return np.array([self.mask_id, *rest], dtype=np.int32)


def assemble(inst: Instance, vocab: Vocab) -> tuple[list[int], list[int], int]:
    """(input_ids, word_start, segment_b_start) for [CLS] A [SEP] (B [SEP]), as lists.

    A segment's first token is marked a word start even when truncation cut into a word, so
    whole-word grouping never joins it to the previous segment.
    """
    doc, a0, a1 = inst.a
    ids = [vocab.cls_id, *doc.ids[a0:a1].tolist(), vocab.sep_id]
    word_start = [1, *doc.word_start[a0:a1].tolist(), 1]
    word_start[1] = 1
    b_start = len(ids)
    if inst.b is not None:
        bdoc, b0, b1 = inst.b
        ids += bdoc.ids[b0:b1].tolist()
        ids.append(vocab.sep_id)
        word_start += bdoc.word_start[b0:b1].tolist()
        word_start.append(1)
        word_start[b_start] = 1
    return ids, word_start, b_start


def example_row(inst: Instance, vocab: Vocab, cfg: PackConfig, key: tuple[str, int, int]) -> dict:
    """An EXAMPLE_SCHEMA row for ``inst``; ``key`` = (doc_id, dupe, index) is unique."""
    ids, word_start, b_start = assemble(inst, vocab)
    positions = mask_ids = None
    if cfg.static_masks is not None:
        assert vocab.random_pool is not None, "Vocab.from_special_ids fills random_pool"
        rng = np.random.default_rng(stable_hash(cfg.seed, *key, "static_mask"))
        pos, mids = static_mask(
            np.array(ids, np.int32),
            np.array(word_start, np.uint8),
            vocab.mask_specials(),
            vocab.random_pool,
            cfg.static_masks,
            rng,
        )
        positions, mask_ids = pos.tolist(), mids.tolist()
    b_doc = inst.b[0].doc_id if inst.b is not None else None
    a_doc = inst.a[0].doc_id
    n = len(ids)
    return {
        "input_ids": ids,
        "num_tokens": n,
        "segment_b_start": b_start,
        "pair_label": inst.pair_label,
        "word_start": word_start,
        "static_mask_positions": positions,
        "static_mask_ids": mask_ids,
        "length_bin": length_bin(n, cfg.bin_edges),
        "doc_id": a_doc,
        "b_doc_id": b_doc if b_doc != a_doc else None,
    }


@functools.lru_cache(maxsize=4096)
def _doc_hash(seed: int, doc_id: str, dupe: int) -> int:
    return stable_hash(seed, doc_id, dupe)


def shard_key(key: tuple[str, int, int], row: dict, cfg: PackConfig) -> tuple[str, int]:
    """(shard name, bin): each shard holds one length bin; a document's examples go round
    robin over the bin's shards from a stable per-document offset."""
    b = row["length_bin"]
    k = (_doc_hash(cfg.seed, key[0], key[1]) + key[2]) % cfg.shards_per_bin
    return f"bin{b:02d}-{k:05d}", b


_TOKEN_COLUMNS = {"input_ids": np.int32, "word_start": np.uint8}


def compact_row(row: dict) -> dict:
    """The row with its token columns as raw bytes: ~8x smaller to shuffle and hold than
    lists of Python ints. ``rows_to_table`` reads both forms."""
    out = dict(row)
    for name, dtype in _TOKEN_COLUMNS.items():
        out[name] = np.asarray(row[name], dtype=dtype).tobytes()
    return out


def _list_column(values: list, dtype, arrow_type: pa.DataType) -> pa.Array:
    arrays = [
        np.frombuffer(v, dtype) if isinstance(v, bytes) else np.asarray(v, dtype) for v in values
    ]
    offsets = np.zeros(len(arrays) + 1, dtype=np.int32)
    np.cumsum([a.shape[0] for a in arrays], out=offsets[1:])
    flat = np.concatenate(arrays) if arrays else np.zeros(0, dtype)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=arrow_type.value_type))


def rows_to_table(rows: list[dict]) -> pa.Table:
    """Example rows (token columns as lists, arrays or bytes) -> an EXAMPLE_SCHEMA table,
    built column by column from numpy buffers."""
    columns = []
    for f in EXAMPLE_SCHEMA:
        values = [r[f.name] for r in rows]
        if f.name in _TOKEN_COLUMNS:
            columns.append(_list_column(values, _TOKEN_COLUMNS[f.name], f.type))
        else:
            columns.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(columns, schema=EXAMPLE_SCHEMA)


def example_tokens(row: Mapping) -> int:
    """Tokens of an example row (WriteShards' per-shard token count)."""
    return row["num_tokens"]
