"""Zero-copy loading: uncompressed shards are read as views of the memory-mapped files, and
the batches do not depend on compression or on how shards are cut into record batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from schemas.example import EXAMPLE_SCHEMA, PAIR_IS_NEXT
from schemas.shards import (
    ShardError,
    build_manifest,
    open_shard,
    open_shard_set,
    read_manifest,
    write_manifest,
    write_shard,
)
from tests.example_fixtures import SPECIAL_TOKEN_IDS, VOCAB_SIZE, read_rows, write_example_set
from trainer.columns import columns_from_tables
from trainer.data import LoaderConfig, PretrainingData
from trainer.masking import MaskingConfig

REPO = Path(__file__).resolve().parents[1]
_MANIFEST_OWN = frozenset(
    ("manifest_schema_version", "schema_name", "schema_version", "num_rows", "num_tokens")
    + ("shards", "created_by")
)


def rewrite_set(src: str, dst: str, *, compression: str | None, batch_rows: int) -> str:
    """Copy a shard set with another compression and record-batch size (same rows, order)."""
    manifest = read_manifest(src)
    infos = []
    for entry in manifest["shards"]:
        table = open_shard(os.path.join(src, entry["path"]), schema=EXAMPLE_SCHEMA)
        infos.append(
            write_shard(
                dst,
                entry["path"],
                table,
                schema=EXAMPLE_SCHEMA,
                num_tokens=entry["num_tokens"],
                length_bin=entry["length_bin"],
                batch_rows=batch_rows,
                compression=compression,
            )
        )
    fields = {k: v for k, v in manifest.items() if k not in _MANIFEST_OWN}
    write_manifest(dst, build_manifest(infos, schema=EXAMPLE_SCHEMA, created_by="test", **fields))
    return dst


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict[str, list[str]]:
    """Two shard sets (one with static masks) as written (zstd, one batch per shard), and
    rewritten uncompressed / lz4 in small record batches (several chunks per shard)."""
    root = tmp_path_factory.mktemp("mmap")
    write_example_set(root / "a", num_examples=400, seed=11, rows_per_shard=70)
    write_example_set(root / "b", num_examples=200, seed=12, static_masks=True, rows_per_shard=90)
    out: dict[str, list[str]] = {"zstd": [str(root / "a"), str(root / "b")]}
    for name, compression, batch_rows in (("none", None, 23), ("lz4", "lz4", 41)):
        out[name] = [
            rewrite_set(
                d,
                str(root / f"{Path(d).name}-{name}"),
                compression=compression,
                batch_rows=batch_rows,
            )
            for d in out["zstd"]
        ]
    return out


def epoch_batches(dirs: list[str], cfg: LoaderConfig, workers: int, epoch: int = 1) -> list:
    data = PretrainingData(dirs, cfg, num_workers=workers)
    data.set_epoch(epoch)
    return [{k: v.numpy() for k, v in b.items()} for b in data]


def assert_same(xs: list[dict], ys: list[dict]) -> None:
    assert len(xs) == len(ys) > 0
    for x, y in zip(xs, ys, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            assert x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k]), k


CONFIGS = {
    "token": LoaderConfig(batch_size=16, seed=3),
    "whole_word_mixture": LoaderConfig(
        batch_size=12, seed=4, mixture_alpha=0.5, masking=MaskingConfig(strategy="whole_word")
    ),
    "static": LoaderConfig(batch_size=20, seed=5, masking=MaskingConfig(use_static_masks=True)),
}


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_batches_identical_whatever_the_compression_and_chunking(variants, config, workers):
    cfg = CONFIGS[config]
    reference = epoch_batches(variants["zstd"], cfg, workers=0)
    for name in ("none", "lz4") if workers == 0 else ("none",):
        assert_same(epoch_batches(variants[name], cfg, workers=workers), reference)


def test_chunks_follow_record_batches(variants):
    data = PretrainingData(variants["none"], LoaderConfig())
    rows = read_rows(variants["zstd"][0]) + read_rows(variants["zstd"][1])
    columns = data.columns
    assert len(columns.chunks) > len(data.manifests[0]["shards"]) + 1  # several per shard
    assert columns.chunk_starts[-1] == data.num_examples == len(rows)
    every = np.arange(len(rows))
    chunk_of, local = columns.locate(every)
    for i in (0, 1, 22, 23, 24, len(rows) // 2, len(rows) - 1):
        chunk = columns.chunks[chunk_of[i]]
        lo, hi = chunk.offsets[local[i]], chunk.offsets[local[i] + 1]
        assert chunk.token_ids[lo:hi].tolist() == rows[i]["input_ids"]
        assert chunk.word_start[lo:hi].tolist() == rows[i]["word_start"]
        assert columns.segment_b_start[i] == rows[i]["segment_b_start"]


def _mapping_of(array: np.ndarray) -> str | None:
    """The file whose mapping holds ``array``'s first byte, or None for anonymous memory."""
    address = array.__array_interface__["data"][0]
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if lo <= address < hi:
                return parts[5] if len(parts) > 5 and parts[5].startswith("/") else None
    return None


def _base_chain(array: np.ndarray) -> tuple[list[bool], object]:
    owns: list[bool] = []
    base: object = array
    while isinstance(base, np.ndarray):
        owns.append(base.flags.owndata)
        base = base.base
    return owns, base


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux /proc")
def test_uncompressed_arrays_are_views_of_the_mapped_files(variants):
    data = PretrainingData(variants["none"], LoaderConfig())
    shard_dirs = {os.path.realpath(d) for d in variants["none"]}
    checked = set()
    for chunk in data.columns.chunks:
        for name in ("token_ids", "word_start", "offsets", "static_positions", "static_ids"):
            array = getattr(chunk, name)
            if not len(array):  # e.g. no static masks in this set: nothing to map
                continue
            owns, base = _base_chain(array)
            assert not any(owns) and type(base).__module__.startswith("pyarrow"), name
            mapped = _mapping_of(array)
            assert mapped is not None and os.path.dirname(mapped) in shard_dirs, name
            checked.add(name)
    assert checked == {"token_ids", "word_start", "offsets", "static_positions", "static_ids"}
    compressed = PretrainingData(variants["zstd"], LoaderConfig())
    assert _mapping_of(compressed.columns.chunks[0].token_ids) is None  # decompressed in RAM


def test_misaligned_sibling_lists_are_rejected(tmp_path):
    ids = pa.array([[101, 5, 102], [101, 102]], type=pa.list_(pa.int32()))
    ws = pa.array([[1, 1, 1], [1, 1, 1]], type=pa.list_(pa.uint8()))
    table = pa.table(
        {
            "input_ids": ids,
            "num_tokens": pa.array([3, 2], pa.int32()),
            "segment_b_start": pa.array([3, 2], pa.int32()),
            "pair_label": pa.array([-1, -1], pa.int8()),
            "word_start": ws,
            "static_mask_positions": pa.nulls(2, pa.list_(pa.int32())),
            "static_mask_ids": pa.nulls(2, pa.list_(pa.int32())),
            "length_bin": pa.array([0, 0], pa.int16()),
            "doc_id": ["a", "b"],
            "b_doc_id": pa.nulls(2, pa.string()),
        },
        schema=EXAMPLE_SCHEMA,
    )
    with pytest.raises(ShardError, match="word_start and input_ids"):
        columns_from_tables([table], where="here")


def test_sliced_tables_give_the_same_rows(variants):
    """Slices (non-zero array offsets) index the right tokens, and word_start whose child
    is laid out differently from input_ids' is realigned."""
    _, tables = open_shard_set(variants["zstd"][0], schema=EXAMPLE_SCHEMA)
    table = pa.concat_tables(tables).combine_chunks()
    rows = table.to_pylist()
    ws = table.column("word_start").chunk(0)
    shifted = pa.ListArray.from_arrays(
        pa.array(np.asarray(ws.offsets) + 3),
        pa.concat_arrays([pa.array([9, 9, 9], pa.uint8()), ws.values]),
    )
    table = table.set_column(table.schema.get_field_index("word_start"), "word_start", shifted)
    table = table.cast(EXAMPLE_SCHEMA)
    parts = [table.slice(0, 50), table.slice(50, 7), table.slice(57)]
    columns = columns_from_tables(parts, where="sliced")
    assert columns.chunks[0].word_start.flags.owndata  # realigned: the one case that copies
    chunk_of, local = columns.locate(np.arange(len(rows)))
    for i in range(len(rows)):
        chunk = columns.chunks[chunk_of[i]]
        lo, hi = chunk.offsets[local[i]], chunk.offsets[local[i] + 1]
        assert chunk.token_ids[lo:hi].tolist() == rows[i]["input_ids"]
        assert chunk.word_start[lo:hi].tolist() == rows[i]["word_start"]


# --- resident memory: a subprocess measures RSS around the constructor ------------------------

_CHILD = textwrap.dedent(
    """
    import gc, json, sys
    import psutil, torch  # imported before measuring
    from schemas.shards import read_manifest
    from trainer.data import LoaderConfig, PretrainingData

    def anon():  # resident anonymous memory: what a copy of the data would grow
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) * 1024 for l in f if l.startswith("RssAnon:"))

    read_manifest(sys.argv[1])  # pyarrow's lazy set-up (~50 MB) happens here, not below
    gc.collect()
    process = psutil.Process()
    rss, rss_anon = process.memory_info().rss, anon()
    data = PretrainingData(sys.argv[1], LoaderConfig(batch_size=32))
    gc.collect()
    growth, anon_growth = process.memory_info().rss - rss, anon() - rss_anon
    first = next(iter(data))  # the views must be usable
    print(json.dumps({"growth": growth, "anon_growth": anon_growth,
                      "tokens": data.columns.num_tokens,
                      "batch_rows": int(first["input_ids"].shape[0])}))
    """
)


def write_big_set(directory: str, *, num: int, seq_len: int, compression: str | None) -> int:
    """``num`` full rows of ``seq_len`` random ids, built columnar (fast); returns id bytes."""
    rng = np.random.default_rng(7)
    ids = rng.integers(1000, VOCAB_SIZE, size=num * seq_len, dtype=np.int32)
    offsets = pa.array(np.arange(num + 1, dtype=np.int32) * seq_len)
    table = pa.table(
        {
            "input_ids": pa.ListArray.from_arrays(offsets, pa.array(ids)),
            "num_tokens": np.full(num, seq_len, np.int32),
            "segment_b_start": np.full(num, seq_len // 2, np.int32),
            "pair_label": np.full(num, PAIR_IS_NEXT, np.int8),
            "word_start": pa.ListArray.from_arrays(offsets, pa.array(np.ones(len(ids), np.uint8))),
            "static_mask_positions": pa.nulls(num, pa.list_(pa.int32())),
            "static_mask_ids": pa.nulls(num, pa.list_(pa.int32())),
            "length_bin": np.zeros(num, np.int16),
            "doc_id": pa.array(np.char.add("d", np.arange(num).astype(str))),
            "b_doc_id": pa.nulls(num, pa.string()),
        },
        schema=EXAMPLE_SCHEMA,
    )
    infos = [
        write_shard(
            directory,
            f"examples-{k:05d}",
            table.slice(k * num // 2, num // 2),
            schema=EXAMPLE_SCHEMA,
            length_bin=0,
            compression=compression,
        )
        for k in range(2)
    ]
    manifest = build_manifest(
        infos,
        schema=EXAMPLE_SCHEMA,
        created_by="test",
        tokenizer_hash="big",
        special_token_ids=SPECIAL_TOKEN_IDS,
        vocab_size=VOCAB_SIZE,
        pair_task="nsp",
        max_seq_len=seq_len,
        length_bin_edges=[seq_len],
        static_masks=False,
    )
    write_manifest(directory, manifest)
    return ids.nbytes


def rss_growth(directory: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, directory],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="Linux RSS accounting")
def test_uncompressed_set_is_not_copied_into_ram(tmp_path):
    """51 MB of token ids (+13 MB word_start) in 512-token rows, opened in a fresh process.

    Total RSS still grows a little with an uncompressed set: the per-example scalars and
    list offsets are read, and the kernel maps already-cached neighbours of every touched
    file page (fault-around; shared, clean page cache, not a copy). Anonymous RSS is what a
    copy would grow, so it is bounded tighter."""
    big = {"num": 25_000, "seq_len": 512}
    token_bytes = write_big_set(str(tmp_path / "none"), **big, compression=None)
    write_big_set(str(tmp_path / "zstd"), **big, compression="zstd")
    assert token_bytes >= 50_000_000
    mapped = rss_growth(str(tmp_path / "none"))
    copied = rss_growth(str(tmp_path / "zstd"))
    assert mapped["tokens"] == copied["tokens"] == token_bytes // 4
    assert mapped["batch_rows"] == copied["batch_rows"] == 32
    assert mapped["growth"] < 0.25 * token_bytes, mapped
    assert mapped["anon_growth"] < 0.10 * token_bytes, mapped
    # zstd decompresses ids + word_start (1.25x token_bytes): shows the measurement works.
    assert copied["anon_growth"] > 0.75 * token_bytes, copied


# --- the packing job writes uncompressed shards on request ------------------------------------


@pytest.fixture(scope="module")
def packed_both(shared_data, tmp_path_factory) -> dict[str, str]:
    from pipeline import shards
    from tests.corpus_fixtures import sample_text_docs, write_doc_shard_set
    from transforms.vocab.tokenizer_dir import tokenizer_from_vocab

    root = tmp_path_factory.mktemp("packed_mmap")
    vocab = shared_data / "vocab" / "bert-base-uncased-vocab_from_all-MiniLM-L6-v2.txt"
    tokenizer_from_vocab(str(vocab), str(root / "tok"), True)
    write_doc_shard_set(root / "clean", sample_text_docs(shared_data))
    out = {}
    for compression in ("none", "zstd"):
        out[compression] = str(root / compression)
        shards.run(
            [
                f"--input={root / 'clean'}",
                f"--tokenizer={root / 'tok'}",
                f"--output={out[compression]}",
                "--max_seq_len=64",
                "--bins=32,64",
                "--static_masks",
                f"--compression={compression}",
            ]
        )
    return out


def test_pipeline_compression_none(packed_both):
    plain, packed = packed_both["none"], packed_both["zstd"]
    manifest = read_manifest(plain)
    assert json.loads(manifest["config"])["compression"] == "none"
    assert json.loads(read_manifest(packed)["config"])["compression"] == "zstd"
    rows = read_rows(plain)  # verifies every shard (sha256, schema, row counts)
    assert rows == read_rows(packed) and len(rows) >= 10
    # Uncompressed IPC holds the raw little-endian ids; zstd does not.
    first = manifest["shards"][0]["path"]
    raw = np.asarray(rows[0]["input_ids"], dtype="<i4").tobytes()
    assert raw in Path(plain, first).read_bytes()
    assert raw not in Path(packed, first).read_bytes()
    cfg = LoaderConfig(batch_size=8, masking=MaskingConfig(use_static_masks=True))
    assert_same(epoch_batches([plain], cfg, workers=0), epoch_batches([packed], cfg, workers=0))


def test_write_shard_rejects_unknown_compression(tmp_path):
    with pytest.raises(ValueError, match="compression"):
        write_shard(str(tmp_path), "x", [], schema=EXAMPLE_SCHEMA, compression="gzip")
