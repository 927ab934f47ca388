"""Beam transforms that write and read bertcorpus shard sets deterministically.

``WriteShards`` groups rows by shard key and sorts each shard by a caller-given sort key, so
the bytes written depend only on the data and the seed, never on bundling or worker count.
The grouping goes through sorted spill files (transforms/shared/spill.py) and each shard is
written a record batch at a time, so memory does not grow with the corpus or the shard.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Mapping

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from schemas.manifest import MANIFEST_FILE
from schemas.shards import (
    COMPRESSIONS,
    ShardInfo,
    build_manifest,
    open_shard,
    parse_manifest,
    read_manifest,
    write_manifest,
    write_shard,
)
from transforms.shared.spill import (
    GroupThroughFiles,
    Segment,
    delete_temp_dir,
    read_partition,
)
from transforms.shared.staging import is_local, local_copy, local_path, staged_folder

# (shard name, length bin or None), e.g. ("docs-00003", None) or ("bin02-00007", 2)
ShardKey = tuple[str, int | None]
SPILL_DIR = "_spill"  # under a job's output: its grouping spill files while it runs


def _write_one_shard(
    item: tuple[ShardKey, Iterable[Segment]],
    output_dir: str,
    schema: pa.Schema,
    tokens_of: Callable[[Mapping], int] | None,
    to_table: Callable[[list], pa.Table] | None = None,
    compression: str | None = "zstd",
) -> ShardInfo:
    (name, length_bin), segments = item
    num_tokens = 0

    def rows() -> Iterator[Mapping]:
        # Sorted by the caller's sort key (ties broken by the record's bytes), so row order
        # never depends on arrival order; streamed, so memory holds one batch of rows.
        nonlocal num_tokens
        for _, row in read_partition(segments):
            num_tokens += tokens_of(row) if tokens_of else 0
            yield row

    with staged_folder(output_dir) as folder:
        info = write_shard(
            folder,
            name,
            rows(),
            schema=schema,
            length_bin=length_bin,
            compression=compression,
            to_table=to_table,  # compact rows (token ids as bytes) -> columns, a batch at a time
        )
    return dataclasses.replace(info, num_tokens=num_tokens)


def _write_manifest(
    shards: list[ShardInfo], output_dir: str, schema: pa.Schema, fields: Mapping
) -> str:
    manifest = build_manifest(shards, schema=schema, created_by="bertcorpus", **fields)
    return _save_manifest(output_dir, manifest)


def _save_manifest(output_dir: str, manifest: Mapping) -> str:
    with staged_folder(output_dir) as folder:
        path = write_manifest(folder, manifest)
    return path if is_local(output_dir) else FileSystems.join(output_dir, MANIFEST_FILE)


class WriteShards(beam.PTransform):
    """(ShardKey, (sort_key, row dict)) -> manifest path (one element).

    Writes ``output_dir/<name>.arrow`` per shard key (Arrow IPC; ``compression`` "zstd",
    "lz4" or None) and ``manifest.json`` with ``manifest_fields`` (tokenizer hash, special
    ids, config, ...). Rows are grouped through spill files under ``temp_dir`` (default
    ``output_dir/_spill``), which is removed, with anything else a job spilled there, once
    the manifest is written.
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
        temp_dir: str | None = None,
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
        self.temp_dir = temp_dir or FileSystems.join(output_dir, SPILL_DIR)

    def expand(self, keyed_rows):
        manifest = (
            keyed_rows
            | "GroupByShard" >> GroupThroughFiles(self.temp_dir)
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
        _ = manifest | "DeleteSpill" >> beam.Map(delete_temp_dir, self.temp_dir)
        return manifest


def finalize_manifest(output_dir: str, **fields: object) -> dict:
    """After a run: add driver-side facts (counters) to a written manifest and rewrite it."""
    manifest = read_manifest_any(output_dir)
    manifest.update(fields)
    _save_manifest(output_dir, manifest)
    return manifest


def read_manifest_any(directory: str) -> dict:
    """read_manifest for local folders and any Beam filesystem URI."""
    if is_local(directory):
        return read_manifest(local_path(directory))
    path = FileSystems.join(directory, MANIFEST_FILE)
    with FileSystems.open(path) as f:
        return parse_manifest(f.read(), where=path)


# What each kind of shard set is, in a user's words (and which job writes it).
_SHARD_SET_KINDS = {
    "bertcorpus.document": "cleaned documents (pipeline.clean)",
    "bertcorpus.example": "pretraining examples (pipeline.shards)",
}


def check_shard_sets(
    directories: list[str], *, schema: pa.Schema, flag: str, remote: bool = False
) -> list[dict]:
    """The manifests of ``directories``, each checked to be a shard set of ``schema``; a
    UserError naming ``flag`` otherwise (no folder, no manifest, another kind of shard set).

    Remote folders are checked only with ``remote`` (else their manifests are read inside the
    pipeline, see ReadShardSet, and an empty list entry stands for them).
    """
    from schemas.cli import UserError
    from schemas.shards import ShardError, schema_version_of

    if not directories:
        raise UserError(f"{flag}: give at least one shard set folder")
    name, version = schema_version_of(schema)
    manifests = []
    for directory in directories:
        if not remote and not is_local(directory):
            continue
        if is_local(directory) and not os.path.isdir(local_path(directory)):
            raise UserError(f"{flag} {directory}: no such folder")
        try:
            manifest = read_manifest_any(directory)
        except ShardError as exc:
            raise UserError(f"{flag}: {exc}") from exc
        held = (manifest["schema_name"], manifest["schema_version"])
        if held != (name, version):
            kind = _SHARD_SET_KINDS.get(held[0], held[0])
            want = _SHARD_SET_KINDS.get(name, name)
            raise UserError(
                f"{flag} {directory} holds {kind} v{held[1]}; this job reads {want} v{version}"
            )
        manifests.append(manifest)
    return manifests


def _rows(table: pa.Table) -> Iterator[dict]:
    for batch in table.to_batches():
        yield from batch.to_pylist()


def read_shard_rows(directory: str, entry: Mapping, schema: pa.Schema) -> Iterator[dict]:
    """Rows of one manifest entry, verified (checksum, schema, row count) before the first
    row; converted to Python one record batch at a time to keep memory flat."""
    with local_copy(directory, entry["path"]) as path:
        table = open_shard(path, schema=schema, sha256=entry["sha256"], num_rows=entry["num_rows"])
        yield from _rows(table)


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
        from transforms.shared.accounting import REJECTED_DIR

        if not isinstance(rejected, beam.PCollection):
            rejected = tuple(rejected) | "AllRejected" >> beam.Flatten()
        return rejected | "Write" >> beam.io.WriteToText(
            FileSystems.join(self.output_dir, REJECTED_DIR, "rejected"),
            file_name_suffix=".jsonl",
            num_shards=1,
        )
