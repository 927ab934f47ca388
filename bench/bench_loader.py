"""Loader + dynamic masking throughput, one core, against transformers' MLM collator.

Both sides get the same examples (full-length [CLS] A [SEP] B [SEP] rows of ``seq_len``
tokens, uncased BERT vocabulary) and produce padded, masked batches of 32 as int64 tensors:
- ours: PretrainingData over an Arrow shard set (gather, pad to a multiple of 8, token types,
  pair labels, 15% token masking 80/10/10), num_workers=0;
- peer: transformers.DataCollatorForLanguageModeling(BertTokenizer(vocab=...),
  pad_to_multiple_of=8) fed the rows as lists of ids (dicts with input_ids, token_type_ids).
Whole-word and span masking are measured for us only (no like-for-like peer).
``seq128.ours_token_uncompressed``: the same rows written without compression (zero-copy
views of the memory-mapped file). ``rss_after_construct``: resident memory a fresh process
gains while constructing the loader over one larger set written zstd vs uncompressed (total
and anonymous RSS, MB; anonymous = private copies of the data).

    python -m bench.bench_loader [--quick]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from schemas.special_tokens import CLS, MASK, PAD, SEP, UNK

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
VOCAB = SHARED / "vocab" / "bert-base-uncased-vocab_from_all-MiniLM-L6-v2.txt"
SPECIALS = {PAD: 0, UNK: 100, CLS: 101, SEP: 102, MASK: 103}  # bert-base-uncased ids
VOCAB_SIZE = 30522
BATCH = 32


def make_rows(num: int, seq_len: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Full-length pair rows; words of 1-3 pieces (word_start) like real WordPiece output."""
    from schemas.hashing import stable_hash

    rng = np.random.default_rng(stable_hash("bench_loader", seed, seq_len))
    ids = rng.integers(1000, VOCAB_SIZE, size=(num, seq_len), dtype=np.int32)
    b_start = rng.integers(seq_len // 4, 3 * seq_len // 4, size=num).astype(np.int32)
    ids[:, 0] = SPECIALS[CLS]
    ids[:, -1] = SPECIALS[SEP]
    ids[np.arange(num), b_start - 1] = SPECIALS[SEP]
    word_start = (rng.random((num, seq_len)) < 0.7).astype(np.uint8)
    word_start[:, 0] = word_start[:, -1] = 1
    word_start[np.arange(num), b_start - 1] = word_start[np.arange(num), b_start] = 1
    return {"ids": ids, "b_start": b_start, "word_start": word_start}


def write_set(
    directory: str, rows: dict[str, np.ndarray], seq_len: int, compression: str | None = "zstd"
) -> None:
    import pyarrow as pa

    from schemas.example import EXAMPLE_SCHEMA, PAIR_IS_NEXT
    from schemas.shards import build_manifest, write_manifest, write_shard

    num = len(rows["ids"])
    offsets = pa.array(np.arange(num + 1, dtype=np.int32) * seq_len)

    def lists(matrix: np.ndarray) -> pa.ListArray:  # columnar: fast for large sets
        return pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1)))

    table = pa.table(
        {
            "input_ids": lists(rows["ids"]),
            "num_tokens": np.full(num, seq_len, np.int32),
            "segment_b_start": rows["b_start"],
            "pair_label": np.full(num, PAIR_IS_NEXT, np.int8),
            "word_start": lists(rows["word_start"]),
            "static_mask_positions": pa.nulls(num, pa.list_(pa.int32())),
            "static_mask_ids": pa.nulls(num, pa.list_(pa.int32())),
            "length_bin": np.zeros(num, np.int16),
            "doc_id": [f"d{i}" for i in range(num)],
            "b_doc_id": pa.nulls(num, pa.string()),
        },
        schema=EXAMPLE_SCHEMA,
    )
    info = write_shard(
        directory,
        "examples-00000",
        table,
        schema=EXAMPLE_SCHEMA,
        length_bin=0,
        compression=compression,
    )
    manifest = build_manifest(
        [info],
        schema=EXAMPLE_SCHEMA,
        created_by="bench.bench_loader",
        tokenizer_hash="bench",
        special_token_ids=SPECIALS,
        vocab_size=VOCAB_SIZE,
        pair_task="nsp",
        max_seq_len=seq_len,
        length_bin_edges=[seq_len],
        static_masks=False,
    )
    write_manifest(directory, manifest)


def _rate(step, min_seconds: float) -> float:
    """Sequences per second of ``step()`` (returns sequences done), repeated >= min_seconds."""
    step()  # warm-up
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_seconds:
        done += step()
    return done / elapsed


def ours(directory: str, strategy: str, min_seconds: float) -> float:
    from trainer.data import LoaderConfig, PretrainingData
    from trainer.masking import MaskingConfig

    cfg = LoaderConfig(batch_size=BATCH, masking=MaskingConfig(strategy=strategy))
    data = PretrainingData(directory, cfg)
    epoch = iter(range(10**9))

    def one_epoch() -> int:
        data.set_epoch(next(epoch))
        return sum(batch["input_ids"].shape[0] for batch in data)

    return _rate(one_epoch, min_seconds)


def peer(rows: dict[str, np.ndarray], min_seconds: float) -> float:
    from transformers import BertTokenizer, DataCollatorForLanguageModeling

    tokenizer = BertTokenizer(vocab=str(VOCAB), do_lower_case=True)
    collator = DataCollatorForLanguageModeling(
        tokenizer, mlm_probability=0.15, pad_to_multiple_of=8
    )
    seq_len = rows["ids"].shape[1]
    features = [
        {"input_ids": ids.tolist(), "token_type_ids": [0] * b + [1] * (seq_len - b)}
        for ids, b in zip(rows["ids"], rows["b_start"].tolist(), strict=True)
    ]
    batches = [features[i : i + BATCH] for i in range(0, len(features), BATCH)]

    def one_pass() -> int:
        return sum(collator(batch)["input_ids"].shape[0] for batch in batches)

    return _rate(one_pass, min_seconds)


_RSS_CHILD = """
import gc, json, sys
import psutil, torch
from schemas.shards import read_manifest
from trainer.data import LoaderConfig, PretrainingData

def anon():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("RssAnon:"))

read_manifest(sys.argv[1])  # pyarrow's lazy set-up is not the loader's memory
gc.collect()
process = psutil.Process()
rss, rss_anon = process.memory_info().rss, anon()
data = PretrainingData(sys.argv[1], LoaderConfig(batch_size=32))
gc.collect()
print(json.dumps([process.memory_info().rss - rss, anon() - rss_anon]))
"""


def rss_after_construct(tmp: str, num: int, seq_len: int) -> dict:
    """RSS a fresh process gains constructing the loader: zstd vs uncompressed shards."""
    import os
    import subprocess

    repo = str(Path(__file__).resolve().parents[1])
    rows = make_rows(num, seq_len, seed=1)
    out: dict = {"examples": num, "seq_len": seq_len, "token_id_mb": rows["ids"].nbytes / 2**20}
    for name, compression in (("zstd", "zstd"), ("none", None)):
        directory = f"{tmp}/rss_{name}"
        write_set(directory, rows, seq_len, compression=compression)
        done = subprocess.run(
            [sys.executable, "-c", _RSS_CHILD, directory],
            capture_output=True,
            text=True,
            check=True,
            cwd=repo,
            env={**os.environ, "PYTHONPATH": repo, "OMP_NUM_THREADS": "1"},
        )
        total, anon = json.loads(done.stdout.strip().splitlines()[-1])
        out[f"{name}_rss_mb"], out[f"{name}_anon_mb"] = total / 2**20, anon / 2**20
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in out.items()}


def run(quick: bool = False) -> dict:
    import torch

    torch.set_num_threads(1)
    min_seconds = 0.4 if quick else 2.0
    result: dict = {
        "batch_size": BATCH,
        "threads": 1,
        "peer": "transformers.DataCollatorForLanguageModeling (pad_to_multiple_of=8)",
        "unit": "sequences/s",
    }
    with tempfile.TemporaryDirectory() as tmp:
        for seq_len, num in ((128, 4096), (512, 1024)):
            rows = make_rows(num, seq_len)
            directory = f"{tmp}/set{seq_len}"
            write_set(directory, rows, seq_len)
            entry = {"ours_token": ours(directory, "token", min_seconds)}
            entry["peer_token"] = peer(rows, min_seconds)
            entry["ratio_token"] = entry["ours_token"] / entry["peer_token"]
            for strategy in ("whole_word", "span"):
                entry[f"ours_{strategy}"] = ours(directory, strategy, min_seconds / 2)
            if seq_len == 128:  # same rows, uncompressed: zero-copy views of the mapped file
                write_set(f"{directory}_none", rows, seq_len, compression=None)
                entry["ours_token_uncompressed"] = ours(f"{directory}_none", "token", min_seconds)
            result[f"seq{seq_len}"] = {k: round(v, 2) for k, v in entry.items()}
        result["rss_after_construct"] = rss_after_construct(tmp, 50_000 if quick else 200_000, 128)
    return result


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
