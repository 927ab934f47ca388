"""Foundation: schemas, shard I/O round trips, corruption detection, datasets compatibility."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pytest

from schemas.document import DOCUMENT_SCHEMA, Doc
from schemas.example import EXAMPLE_SCHEMA, NO_PAIR, PAIR_IS_NEXT
from schemas.hashing import bucket_of, seeded_rng, stable_hash
from schemas.manifest import MANIFEST_FILE
from schemas.shards import (
    ShardError,
    build_manifest,
    open_shard,
    open_shard_set,
    read_manifest,
    shard_paths,
    write_manifest,
    write_shard,
)


def _examples(n: int, offset: int = 0) -> list[dict]:
    rows = []
    for i in range(offset, offset + n):
        ids = [2] + list(range(10, 10 + i % 7 + 1)) + [3] + [20, 21] + [3]
        rows.append(
            {
                "input_ids": ids,
                "num_tokens": len(ids),
                "segment_b_start": len(ids) - 3,
                "pair_label": PAIR_IS_NEXT if i % 2 else NO_PAIR,
                "word_start": [1] * len(ids),
                "static_mask_positions": [1] if i % 3 == 0 else None,
                "static_mask_ids": [4] if i % 3 == 0 else None,
                "length_bin": 0,
                "doc_id": f"doc-{i}",
                "b_doc_id": None,
            }
        )
    return rows


def _write_set(directory: str, parts: int = 3, per: int = 50) -> dict:
    infos = [
        write_shard(
            directory,
            f"examples-{k:05d}",
            _examples(per, k * per),
            schema=EXAMPLE_SCHEMA,
            num_tokens=sum(r["num_tokens"] for r in _examples(per, k * per)),
            length_bin=0,
        )
        for k in range(parts)
    ]
    manifest = build_manifest(
        infos,
        schema=EXAMPLE_SCHEMA,
        created_by="test",
        tokenizer_hash="abc",
        special_token_ids={"[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "[PAD]": 0, "[UNK]": 1},
        pair_task="nsp",
        max_seq_len=128,
    )
    write_manifest(directory, manifest)
    return manifest


def test_stable_hash_is_stable_and_typed():
    assert stable_hash(1, "a") == stable_hash(1, "a")
    assert stable_hash(1, "a") != stable_hash("1", "a")  # types are part of the key
    assert stable_hash("ab", "c") != stable_hash("a", "bc")  # parts are length-prefixed
    assert seeded_rng(7, "d").random() == seeded_rng(7, "d").random()
    counts = [0] * 8
    for i in range(8000):
        counts[bucket_of(i, 8)] += 1
    assert min(counts) > 850  # roughly uniform: expected 1000, sd ~30


def test_round_trip_memory_mapped(tmp_path):
    manifest = _write_set(str(tmp_path))
    assert manifest["num_rows"] == 150
    loaded, tables = open_shard_set(str(tmp_path), schema=EXAMPLE_SCHEMA)
    assert loaded == manifest
    rows = [r for t in tables for r in t.to_pylist()]
    assert rows == _examples(150)
    # memory-mapped: buffers are not owned by Python heap allocations
    assert tables[0].column("input_ids").chunk(0).buffers()[-1].is_cpu


def test_shards_are_byte_identical_for_identical_rows(tmp_path):
    a = write_shard(str(tmp_path / "a"), "s", _examples(30), schema=EXAMPLE_SCHEMA)
    b = write_shard(str(tmp_path / "b"), "s", _examples(30), schema=EXAMPLE_SCHEMA)
    assert a.sha256 == b.sha256 and a.num_bytes == b.num_bytes


def test_truncated_shard_is_named(tmp_path):
    _write_set(str(tmp_path))
    victim = tmp_path / "examples-00001.arrow"
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    with pytest.raises(ShardError, match="examples-00001.arrow"):
        open_shard_set(str(tmp_path), schema=EXAMPLE_SCHEMA)
    # without the checksum the truncation is still caught by the IPC reader
    with pytest.raises(ShardError, match="examples-00001.arrow.*truncated"):
        open_shard(str(victim))


def test_flipped_byte_is_named(tmp_path):
    _write_set(str(tmp_path))
    victim = tmp_path / "examples-00002.arrow"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(ShardError, match="examples-00002.arrow.*sha256"):
        open_shard_set(str(tmp_path), schema=EXAMPLE_SCHEMA)


def test_schema_mismatch_is_rejected(tmp_path):
    _write_set(str(tmp_path))
    with pytest.raises(ShardError, match="expected bertcorpus.document"):
        open_shard_set(str(tmp_path), schema=DOCUMENT_SCHEMA)
    path = tmp_path / "examples-00000.arrow"
    with pytest.raises(ShardError, match="examples-00000.arrow: schema"):
        open_shard(str(path), schema=DOCUMENT_SCHEMA)


def test_manifest_validation(tmp_path):
    _write_set(str(tmp_path))
    raw = json.loads((tmp_path / MANIFEST_FILE).read_text())
    raw["shards"][0]["num_rows"] = "many"
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(raw))
    with pytest.raises(ShardError, match="manifest schema"):
        read_manifest(str(tmp_path))
    raw["shards"][0]["num_rows"] = 49
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(raw))
    with pytest.raises(ShardError, match="num_rows"):
        read_manifest(str(tmp_path))
    with pytest.raises(ShardError, match="no manifest"):
        read_manifest(str(tmp_path / "nowhere"))


def test_row_count_mismatch_is_detected(tmp_path):
    _write_set(str(tmp_path))
    raw = json.loads((tmp_path / MANIFEST_FILE).read_text())
    raw["shards"][0]["num_rows"] += 1
    raw["num_rows"] += 1
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(raw))
    with pytest.raises(ShardError, match="examples-00000.arrow: 50 rows, manifest says 51"):
        open_shard_set(str(tmp_path), schema=EXAMPLE_SCHEMA, verify=False)


def test_documents_round_trip(tmp_path):
    docs = [
        Doc("wiki:1", "wiki", "en", (("A b.", "C d."), ("E.",)), title="T", metadata={"id": 1}),
        Doc("wiki:2", "wiki", "ja", (("日本。",),), source_file="x.bz2"),
    ]
    write_shard(str(tmp_path), "docs-00000", [d.to_row() for d in docs], schema=DOCUMENT_SCHEMA)
    table = open_shard(str(tmp_path / "docs-00000.arrow"), schema=DOCUMENT_SCHEMA)
    assert [Doc.from_row(r) for r in table.to_pylist()] == docs
    assert table.schema.metadata[b"schema_version"] == b"1"


def test_loads_with_hf_datasets(tmp_path):
    import datasets

    _write_set(str(tmp_path / "set"))
    ds = datasets.load_dataset(
        "arrow",
        data_files=shard_paths(str(tmp_path / "set")),
        split="train",
        cache_dir=str(tmp_path / "cache"),
    )
    assert len(ds) == 150
    assert ds[0]["input_ids"] == _examples(1)[0]["input_ids"]
    assert set(ds.column_names) == set(EXAMPLE_SCHEMA.names)


def test_table_input_is_cast_to_schema(tmp_path):
    table = pa.Table.from_pylist(_examples(5), schema=EXAMPLE_SCHEMA)
    info = write_shard(str(tmp_path), "t", table, schema=EXAMPLE_SCHEMA)
    assert info.num_rows == 5 and os.path.exists(tmp_path / "t.arrow")
