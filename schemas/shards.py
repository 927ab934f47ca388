"""Shard I/O: Arrow IPC files (zstd, lz4 or uncompressed) plus a manifest, opened
memory-mapped and verified.

Uncompressed shards are read zero-copy: the loader's arrays are views of the mapped file, so
token data stays on disk, paged in on demand and shared by every process on the node.
Compressed shards are smaller to store and move, but are decompressed into each process's RAM.

Shared by the Beam sinks (``transforms/``) and the loader (``trainer/``), so it imports only
pyarrow and the standard library.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import pyarrow as pa

from schemas.cli import UserError
from schemas.hashing import sha256_file
from schemas.manifest import MANIFEST_FILE, MANIFEST_SCHEMA, MANIFEST_SCHEMA_VERSION

SHARD_SUFFIX = ".arrow"
COMPRESSION = "zstd"  # the default
COMPRESSIONS = ("zstd", "lz4", None)  # None = uncompressed (true zero-copy mmap)


class ShardError(UserError, RuntimeError):
    """A shard or manifest is missing, truncated, corrupted or of the wrong schema (a user
    error: a command prints it as one ``error:`` line)."""


@dataclass(frozen=True)
class ShardInfo:
    """What the manifest records about one written shard."""

    path: str  # relative to the shard set's folder
    num_rows: int
    num_tokens: int
    num_bytes: int
    sha256: str
    length_bin: int | None = None

    def to_entry(self) -> dict:
        return {
            "path": self.path,
            "num_rows": self.num_rows,
            "num_tokens": self.num_tokens,
            "num_bytes": self.num_bytes,
            "sha256": self.sha256,
            "length_bin": self.length_bin,
        }


def schema_version_of(schema: pa.Schema) -> tuple[str, str]:
    meta = schema.metadata or {}
    return (
        meta.get(b"schema_name", b"").decode(),
        meta.get(b"schema_version", b"").decode(),
    )


def write_shard(
    directory: str,
    name: str,
    rows: Iterable[Mapping] | pa.Table,
    *,
    schema: pa.Schema,
    num_tokens: int = 0,
    length_bin: int | None = None,
    batch_rows: int = 4096,
    compression: str | None = COMPRESSION,
    to_table: Callable[[list], pa.Table] | None = None,
) -> ShardInfo:
    """Write ``rows`` (dicts or a Table) as one Arrow IPC file ``directory/name``.

    ``compression``: "zstd" (default), "lz4" or None (uncompressed, for zero-copy reads).
    Rows given as an iterable are written ``batch_rows`` at a time (memory holds one batch,
    whatever the shard's size), each batch converted by ``to_table`` if given.
    Written to a temporary name and renamed, so a crashed writer never leaves a shard that
    looks complete. Byte-identical for identical rows (no timestamps in the file).
    """
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
    if not name.endswith(SHARD_SUFFIX):
        name += SHARD_SUFFIX
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, name)
    tmp = final + ".tmp"
    options = pa.ipc.IpcWriteOptions(compression=compression)
    num_rows = 0
    with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, schema, options=options) as writer:
        if isinstance(rows, pa.Table):
            table = rows.cast(schema) if rows.schema != schema else rows
            writer.write_table(table, max_chunksize=batch_rows)
            num_rows = table.num_rows
        else:
            buffer: list[Mapping] = []
            for row in itertools.chain(rows, [None]):
                if row is not None:
                    buffer.append(row)
                if buffer and (row is None or len(buffer) >= batch_rows):
                    if to_table is None:
                        writer.write_batch(pa.RecordBatch.from_pylist(buffer, schema=schema))
                    else:
                        writer.write_table(to_table(buffer), max_chunksize=batch_rows)
                    num_rows += len(buffer)
                    buffer = []
    os.replace(tmp, final)
    return ShardInfo(
        path=name,
        num_rows=num_rows,
        num_tokens=num_tokens,
        num_bytes=os.path.getsize(final),
        sha256=sha256_file(final),
        length_bin=length_bin,
    )


def open_shard(
    path: str,
    *,
    schema: pa.Schema | None = None,
    sha256: str | None = None,
    num_rows: int | None = None,
) -> pa.Table:
    """Open one shard memory-mapped; verify checksum, schema name/version and row count.

    Raises ShardError naming the file on any mismatch, truncation or unreadable bytes.
    """
    if not os.path.exists(path):
        raise ShardError(f"shard {path}: file not found")
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256:
            raise ShardError(
                f"shard {path}: sha256 mismatch (manifest {sha256[:12]}…, file {actual[:12]}…); "
                "the file is corrupted or was rewritten"
            )
    try:
        source = pa.memory_map(path, "r")
        table = pa.ipc.open_file(source).read_all()
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise ShardError(f"shard {path}: unreadable Arrow IPC file ({exc}); truncated?") from exc
    if schema is not None:
        expected, actual_v = schema_version_of(schema), schema_version_of(table.schema)
        if expected != actual_v:
            raise ShardError(
                f"shard {path}: schema {actual_v[0]} v{actual_v[1]} but expected "
                f"{expected[0]} v{expected[1]}"
            )
        if not table.schema.equals(schema, check_metadata=False):
            raise ShardError(f"shard {path}: columns differ from {expected[0]} v{expected[1]}")
    if num_rows is not None and table.num_rows != num_rows:
        raise ShardError(f"shard {path}: {table.num_rows} rows, manifest says {num_rows}")
    return table


def build_manifest(
    shards: Iterable[ShardInfo], *, schema: pa.Schema, created_by: str, **fields: object
) -> dict:
    """Assemble a manifest dict (shards sorted by path) and validate it."""
    ordered = sorted(shards, key=lambda s: s.path)
    name, version = schema_version_of(schema)
    manifest = {
        "manifest_schema_version": MANIFEST_SCHEMA_VERSION,
        "schema_name": name,
        "schema_version": version,
        "num_rows": sum(s.num_rows for s in ordered),
        "num_tokens": sum(s.num_tokens for s in ordered),
        "shards": [s.to_entry() for s in ordered],
        "created_by": created_by,
        **fields,
    }
    validate_manifest(manifest)
    return manifest


def validate_manifest(manifest: Mapping, *, where: str = "manifest") -> None:
    """Check ``manifest`` against MANIFEST_SCHEMA; raise ShardError naming ``where``."""
    unknown = set(manifest) - set(MANIFEST_SCHEMA.names)
    if unknown:
        raise ShardError(f"{where}: unknown fields {sorted(unknown)}")
    row = {k: _as_map(v) if isinstance(v, Mapping) else v for k, v in manifest.items()}
    try:
        pa.Table.from_pylist([row], schema=MANIFEST_SCHEMA).validate(full=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, KeyError) as exc:
        raise ShardError(f"{where}: does not match the manifest schema ({exc})") from exc
    for name in MANIFEST_SCHEMA.names:
        if not MANIFEST_SCHEMA.field(name).nullable and manifest.get(name) is None:
            raise ShardError(f"{where}: required field {name!r} missing")
    if manifest["manifest_schema_version"] != MANIFEST_SCHEMA_VERSION:
        raise ShardError(
            f"{where}: manifest version {manifest['manifest_schema_version']}, "
            f"this bertcorpus reads {MANIFEST_SCHEMA_VERSION}"
        )
    if manifest["num_rows"] != sum(s["num_rows"] for s in manifest["shards"]):
        raise ShardError(f"{where}: num_rows differs from the sum over shards")


def _as_map(value: Mapping) -> list[tuple]:
    return sorted(value.items())


def manifest_bytes(manifest: Mapping) -> bytes:
    """The validated manifest as the bytes of manifest.json (local or remote)."""
    validate_manifest(manifest)
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def parse_manifest(data: bytes | str, *, where: str) -> dict:
    """manifest.json bytes -> validated manifest; ShardError naming ``where`` otherwise."""
    try:
        manifest = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ShardError(f"{where}: not valid JSON ({exc})") from exc
    validate_manifest(manifest, where=where)
    return manifest


def write_manifest(directory: str, manifest: Mapping) -> str:
    data = manifest_bytes(manifest)
    os.makedirs(directory, exist_ok=True)  # an empty shard set has no shard that made it
    path = os.path.join(directory, MANIFEST_FILE)
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)
    return path


def read_manifest(directory: str) -> dict:
    path = os.path.join(directory, MANIFEST_FILE)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError as exc:
        raise ShardError(f"{path}: no manifest; is {directory} a bertcorpus shard set?") from exc
    return parse_manifest(data, where=path)


def open_shard_set(
    directory: str, *, schema: pa.Schema, verify: bool = True
) -> tuple[dict, list[pa.Table]]:
    """Read a shard set's manifest and open every shard (memory-mapped), verifying all.

    Every shard is checked before any is returned, so a corrupted file is reported by name
    before training starts.
    """
    manifest = read_manifest(directory)
    name, version = schema_version_of(schema)
    if (manifest["schema_name"], manifest["schema_version"]) != (name, version):
        raise ShardError(
            f"{directory}: holds {manifest['schema_name']} v{manifest['schema_version']}, "
            f"expected {name} v{version}"
        )
    tables = [
        open_shard(
            os.path.join(directory, entry["path"]),
            schema=schema,
            sha256=entry["sha256"] if verify else None,
            num_rows=entry["num_rows"],
        )
        for entry in manifest["shards"]
    ]
    return manifest, tables


def shard_paths(directory: str) -> list[str]:
    """Absolute shard paths of a shard set in manifest order (for datasets.load_dataset)."""
    manifest = read_manifest(directory)
    return [os.path.join(directory, e["path"]) for e in manifest["shards"]]
