"""Beam transforms that write and read bertcorpus shard sets deterministically.

``WriteShards`` groups rows by shard key and sorts each shard by a caller-given sort key, so
the bytes written depend only on the data and the seed, never on bundling or worker count.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from schemas.manifest import MANIFEST_FILE
from schemas.shards import (
    COMPRESSIONS,
    ShardInfo,
    build_manifest,
    manifest_bytes,
    open_shard,
    parse_manifest,
    read_manifest,
    write_manifest,
    write_shard,
)

# (shard name, length bin or None), e.g. ("docs-00003", None) or ("bin02-00007", 2)
ShardKey = tuple[str, int | None]


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _local(path: str) -> str:
    return path[len("file://") :] if path.startswith("file://") else path


def _write_one_shard(
    item: tuple[ShardKey, Iterable[tuple[Any, Mapping]]],
    output_dir: str,
    schema: pa.Schema,
    tokens_of: Callable[[Mapping], int] | None,
    to_table: Callable[[list], pa.Table] | None = None,
    compression: str | None = "zstd",
) -> ShardInfo:
    (name, length_bin), keyed_rows = item
    # The sort key makes row order independent of arrival order; ties cannot occur when
    # callers include a unique id in it.
    rows = [row for _, row in sorted(keyed_rows, key=lambda kv: kv[0])]
    num_tokens = sum(tokens_of(r) for r in rows) if tokens_of else 0
    if to_table is not None:  # compact rows (e.g. token ids as bytes) -> columns in one go
        rows = to_table(rows)
    # Remote output (gs://, s3://): write locally, then copy through Beam's FileSystems.
    local = _is_local(output_dir)
    folder = _local(output_dir) if local else tempfile.mkdtemp(prefix="bertcorpus-shard-")
    info = write_shard(
        folder,
        name,
        rows,
        schema=schema,
        num_tokens=num_tokens,
        length_bin=length_bin,
        compression=compression,
    )
    if local:
        return info
    tmp = folder
    try:
        with (
            open(os.path.join(tmp, info.path), "rb") as src,
            FileSystems.create(FileSystems.join(output_dir, info.path)) as dst,
        ):
            shutil.copyfileobj(src, dst, 1 << 20)
        return info
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_manifest(
    shards: list[ShardInfo], output_dir: str, schema: pa.Schema, fields: Mapping
) -> str:
    manifest = build_manifest(shards, schema=schema, created_by="bertcorpus", **fields)
    if _is_local(output_dir):
        return write_manifest(_local(output_dir), manifest)
    return _write_json_remote(output_dir, manifest)


def _write_json_remote(output_dir: str, manifest: Mapping) -> str:
    path = FileSystems.join(output_dir, MANIFEST_FILE)
    with FileSystems.create(path) as f:
        f.write(manifest_bytes(manifest))
    return path


class WriteShards(beam.PTransform):
    """(ShardKey, (sort_key, row dict)) -> manifest path (one element).

    Writes ``output_dir/<name>.arrow`` per shard key (Arrow IPC; ``compression`` "zstd",
    "lz4" or None) and ``manifest.json`` with ``manifest_fields`` (tokenizer hash, special
    ids, config, ...).
    """

    def __init__(
        self,
        output_dir: str,
        *,
        schema: pa.Schema,
        tokens_of: Callable[[Mapping], int] | None = None,
        manifest_fields: Mapping | None = None,
        to_table: Callable[[list], pa.Table] | None = None,
        compression: str | None = "zstd",
    ) -> None:
        super().__init__()
        if compression not in COMPRESSIONS:  # fail at graph construction, not in a worker
            raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
        self.compression = compression
        self.output_dir = output_dir
        self.schema = schema
        self.tokens_of = tokens_of
        self.to_table = to_table
        self.manifest_fields = dict(manifest_fields or {})

    def expand(self, keyed_rows):
        return (
            keyed_rows
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard"
            >> beam.Map(
                _write_one_shard,
                self.output_dir,
                self.schema,
                self.tokens_of,
                self.to_table,
                self.compression,
            )
            | "AllShards" >> beam.combiners.ToList()
            | "WriteManifest"
            >> beam.Map(_write_manifest, self.output_dir, self.schema, self.manifest_fields)
        )


def finalize_manifest(output_dir: str, **fields: object) -> dict:
    """After a run: add driver-side facts (counters) to a written manifest and rewrite it."""
    manifest = read_manifest_any(output_dir)
    manifest.update(fields)
    if _is_local(output_dir):
        write_manifest(_local(output_dir), manifest)
    else:
        _write_json_remote(output_dir, manifest)
    return manifest


def read_manifest_any(directory: str) -> dict:
    """read_manifest for local folders and any Beam filesystem URI."""
    if _is_local(directory):
        return read_manifest(_local(directory))
    path = FileSystems.join(directory, MANIFEST_FILE)
    with FileSystems.open(path) as f:
        return parse_manifest(f.read(), where=path)


def _rows(table: pa.Table) -> Iterator[dict]:
    for batch in table.to_batches():
        yield from batch.to_pylist()


def read_shard_rows(directory: str, entry: Mapping, schema: pa.Schema) -> Iterator[dict]:
    """Rows of one manifest entry, verified (checksum, schema, row count) before the first
    row; converted to Python one record batch at a time to keep memory flat."""
    if _is_local(directory):
        table = open_shard(
            os.path.join(_local(directory), entry["path"]),
            schema=schema,
            sha256=entry["sha256"],
            num_rows=entry["num_rows"],
        )
        yield from _rows(table)
        return
    tmp = tempfile.mkdtemp(prefix="bertcorpus-read-")
    try:
        local = os.path.join(tmp, os.path.basename(entry["path"]))
        with (
            FileSystems.open(FileSystems.join(directory, entry["path"])) as src,
            open(local, "wb") as dst,
        ):
            shutil.copyfileobj(src, dst, 1 << 20)
        table = open_shard(local, schema=schema, sha256=entry["sha256"], num_rows=entry["num_rows"])
        yield from _rows(table)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _list_shards(directory: str) -> list[tuple[str, dict]]:
    return [(directory, entry) for entry in read_manifest_any(directory)["shards"]]


class ReadShardSet(beam.PTransform):
    """Shard-set folder(s) -> row dicts. One shard per element, so shards read in parallel.

    Manifests are read inside the pipeline, not at construction, so a job graph over gs://
    inputs can be built (and submitted) from a machine that cannot read them.
    """

    def __init__(self, directories: list[str], *, schema: pa.Schema) -> None:
        super().__init__()
        self.directories = list(directories)
        self.schema = schema

    def expand(self, pbegin):
        schema = self.schema
        return (
            pbegin
            | "ListSets" >> beam.Create(self.directories)
            | "ListShards" >> beam.FlatMap(_list_shards)
            | "SpreadShards" >> beam.Reshuffle()
            | "ReadRows" >> beam.FlatMap(lambda de: read_shard_rows(de[0], de[1], schema))
        )


class WriteRejected(beam.PTransform):
    """Dead-letter JSON lines (one or more PCollections) -> OUTPUT/rejected/rejected-*.jsonl.

    One file, so users find every rejected record, with its reason, in one place.
    """

    def __init__(self, output_dir: str) -> None:
        super().__init__()
        self.output_dir = output_dir

    def expand(self, rejected):
        from transforms.accounting import REJECTED_DIR

        if not isinstance(rejected, beam.PCollection):
            rejected = tuple(rejected) | "AllRejected" >> beam.Flatten()
        return rejected | "Write" >> beam.io.WriteToText(
            FileSystems.join(self.output_dir, REJECTED_DIR, "rejected"),
            file_name_suffix=".jsonl",
            num_shards=1,
        )
