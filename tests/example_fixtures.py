"""Synthetic but realistic example shard sets for loader/trainer tests (no packing job needed).

Rows follow EXAMPLE_SCHEMA as ``pipeline.shards`` writes them: [CLS] A [SEP] B [SEP] for pairs
(or [CLS] A [SEP]), words of 1-3 WordPiece tokens (word_start 1 on the first piece, 0 on
"##" continuations, 1 on special tokens), several length bins with one or more shards each,
optional static masks, and a manifest with special-token ids from the BERT uncased vocab.

    manifest = write_example_set(tmp_path / "set", num_examples=300, seed=1)
    rows = read_rows(tmp_path / "set")  # manifest order = global example index
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np

from schemas.example import (
    EXAMPLE_SCHEMA,
    NO_PAIR,
    PAIR_IS_NEXT,
    PAIR_RANDOM_NEXT,
    SOP_IN_ORDER,
    SOP_SWAPPED,
)
from schemas.hashing import stable_hash
from schemas.shards import build_manifest, open_shard_set, write_manifest, write_shard

# bert-base-uncased ids; the loader must read them from the manifest, never assume them.
SPECIAL_TOKEN_IDS = {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103}
VOCAB_SIZE = 30522
WORD_IDS = (1000, 20000)  # first pieces of words
PIECE_IDS = (20000, VOCAB_SIZE)  # "##" continuation pieces
DEFAULT_EDGES = (32, 64, 128)


def make_row(
    rng: np.random.Generator,
    *,
    doc_id: str,
    max_seq_len: int,
    pair_task: str,
    bin_edges: Sequence[int],
    static_masks: bool,
    unk_rate: float = 0.01,
) -> dict:
    """One example row; its length is drawn so every bin gets rows (10% short ones)."""
    target = (
        int(rng.integers(8, max_seq_len + 1)) if rng.random() > 0.1 else int(rng.integers(5, 12))
    )
    paired = pair_task != "none" and rng.random() > 0.1
    budget = target - (3 if paired else 2)
    split = int(rng.integers(1, budget)) if paired and budget > 1 else budget
    seg_a, ws_a = _words(rng, split, unk_rate)
    seg_b, ws_b = _words(rng, budget - split, unk_rate) if paired else ([], [])
    cls, sep = SPECIAL_TOKEN_IDS["[CLS]"], SPECIAL_TOKEN_IDS["[SEP]"]
    ids = [cls, *seg_a, sep]
    word_start = [1, *ws_a, 1]
    segment_b_start = len(ids)
    if paired:
        ids += [*seg_b, sep]
        word_start += [*ws_b, 1]
        labels = (
            (PAIR_IS_NEXT, PAIR_RANDOM_NEXT) if pair_task == "nsp" else (SOP_IN_ORDER, SOP_SWAPPED)
        )
        pair_label = labels[int(rng.integers(2))]
    else:
        pair_label = NO_PAIR
    row = {
        "input_ids": ids,
        "num_tokens": len(ids),
        "segment_b_start": segment_b_start,
        "pair_label": pair_label,
        "word_start": word_start,
        "static_mask_positions": None,
        "static_mask_ids": None,
        "length_bin": next(i for i, edge in enumerate(bin_edges) if len(ids) <= edge),
        "doc_id": doc_id,
        "b_doc_id": f"{doc_id}-other"
        if pair_label == PAIR_RANDOM_NEXT and pair_task == "nsp"
        else None,
    }
    if static_masks:
        maskable = [i for i, t in enumerate(ids) if t not in SPECIAL_TOKEN_IDS.values()]
        chosen = sorted(rng.choice(maskable, size=max(1, len(maskable) * 15 // 100), replace=False))
        row["static_mask_positions"] = [int(p) for p in chosen]
        row["static_mask_ids"] = [SPECIAL_TOKEN_IDS["[MASK]"]] * len(chosen)
    return row


def _words(rng: np.random.Generator, n_tokens: int, unk_rate: float) -> tuple[list[int], list[int]]:
    """``n_tokens`` WordPiece ids grouped into words of 1-3 pieces (60/30/10 %)."""
    ids: list[int] = []
    starts: list[int] = []
    while len(ids) < n_tokens:
        pieces = min(int(rng.choice(3, p=(0.6, 0.3, 0.1))) + 1, n_tokens - len(ids))
        if rng.random() < unk_rate:  # WordPiece maps a whole unknown word to one [UNK]
            ids.append(SPECIAL_TOKEN_IDS["[UNK]"])
            starts.append(1)
            continue
        first = int(rng.integers(*WORD_IDS))
        ids += [first, *(int(x) for x in rng.integers(*PIECE_IDS, size=pieces - 1))]
        starts += [1] + [0] * (pieces - 1)
    return ids, starts


def make_rows(
    num_examples: int,
    *,
    seed: int = 0,
    max_seq_len: int = 128,
    pair_task: str = "nsp",
    bin_edges: Sequence[int] = DEFAULT_EDGES,
    static_masks: bool = False,
) -> list[dict]:
    rng = np.random.default_rng(stable_hash("example_fixtures", seed))
    return [
        make_row(
            rng,
            doc_id=f"doc-{seed}-{i:06d}",
            max_seq_len=max_seq_len,
            pair_task=pair_task,
            bin_edges=bin_edges,
            static_masks=static_masks and i % 2 == 0,  # half the rows carry static masks
        )
        for i in range(num_examples)
    ]


def write_example_set(
    directory: str | os.PathLike,
    *,
    num_examples: int = 300,
    seed: int = 0,
    max_seq_len: int = 128,
    pair_task: str = "nsp",
    bin_edges: Sequence[int] = DEFAULT_EDGES,
    static_masks: bool = False,
    rows_per_shard: int = 100,
    special_token_ids: dict[str, int] | None = None,
) -> dict:
    """Write a shard set (shards per length bin, ``rows_per_shard`` rows each) + manifest."""
    directory = os.fspath(directory)
    rows = make_rows(
        num_examples,
        seed=seed,
        max_seq_len=max_seq_len,
        pair_task=pair_task,
        bin_edges=bin_edges,
        static_masks=static_masks,
    )
    infos = []
    for b in range(len(bin_edges)):
        in_bin = [r for r in rows if r["length_bin"] == b]
        for k in range(0, len(in_bin), rows_per_shard):
            part = in_bin[k : k + rows_per_shard]
            infos.append(
                write_shard(
                    directory,
                    f"examples-b{b:02d}-{k // rows_per_shard:05d}",
                    part,
                    schema=EXAMPLE_SCHEMA,
                    num_tokens=sum(r["num_tokens"] for r in part),
                    length_bin=b,
                )
            )
    config = {"max_seq_len": max_seq_len, "pair_task": pair_task, "seed": seed}
    manifest = build_manifest(
        infos,
        schema=EXAMPLE_SCHEMA,
        created_by="tests.example_fixtures",
        tokenizer_hash="synthetic-bert-uncased",
        special_token_ids=special_token_ids or SPECIAL_TOKEN_IDS,
        vocab_size=VOCAB_SIZE,
        pair_task=pair_task,
        max_seq_len=max_seq_len,
        length_bin_edges=list(bin_edges),
        static_masks=static_masks,
        config=json.dumps(config, sort_keys=True),
    )
    write_manifest(directory, manifest)
    return manifest


def read_rows(directory: str | os.PathLike) -> list[dict]:
    """All rows of a shard set in manifest order (index = global example index)."""
    _, tables = open_shard_set(os.fspath(directory), schema=EXAMPLE_SCHEMA)
    return [row for table in tables for row in table.to_pylist()]


def flip_byte(path: str | os.PathLike, offset: int = -100) -> None:
    """Corrupt a file in place by inverting one byte (default: near the end)."""
    with open(path, "r+b") as f:
        f.seek(offset, os.SEEK_END if offset < 0 else os.SEEK_SET)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))


def batch_arrays(
    rows: Sequence[dict], pad_id: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input_ids int64, real bool, word_start uint8) [B, L] for masking tests, unpadded rows
    right-padded with ``pad_id``."""
    width = max(len(r["input_ids"]) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    word_start = np.ones((len(rows), width), dtype=np.uint8)
    real = np.zeros((len(rows), width), dtype=bool)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n], word_start[i, :n], real[i, :n] = r["input_ids"], r["word_start"], True
    return ids, real, word_start
