"""Schema of a shard set's manifest (``manifest.json``): what makes shards self-describing.

The manifest is JSON for humans and tools, validated against MANIFEST_SCHEMA (one Arrow row)
so that its shape is declared once, here.
"""

from __future__ import annotations

import pyarrow as pa

MANIFEST_SCHEMA_NAME = "bertcorpus.manifest"
MANIFEST_SCHEMA_VERSION = "1"
MANIFEST_FILE = "manifest.json"

SHARD_ENTRY_TYPE = pa.struct(
    [
        pa.field("path", pa.string(), nullable=False),  # relative to the manifest's folder
        pa.field("num_rows", pa.int64(), nullable=False),
        pa.field("num_tokens", pa.int64(), nullable=False),  # 0 for document shards
        pa.field("num_bytes", pa.int64(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("length_bin", pa.int16()),  # null when the shard mixes bins
    ]
)

MANIFEST_SCHEMA = pa.schema(
    [
        pa.field("manifest_schema_version", pa.string(), nullable=False),
        pa.field("schema_name", pa.string(), nullable=False),  # schema of the rows in shards
        pa.field("schema_version", pa.string(), nullable=False),
        pa.field("num_rows", pa.int64(), nullable=False),
        pa.field("num_tokens", pa.int64(), nullable=False),
        pa.field("shards", pa.list_(SHARD_ENTRY_TYPE), nullable=False),
        # Example shard sets only (null for documents):
        pa.field("tokenizer_hash", pa.string()),
        pa.field("special_token_ids", pa.map_(pa.string(), pa.int32())),
        pa.field("vocab_size", pa.int32()),
        pa.field("pair_task", pa.string()),  # nsp | sop | none
        pa.field("max_seq_len", pa.int32()),
        pa.field("length_bin_edges", pa.list_(pa.int32())),  # upper bounds, inclusive
        pa.field("static_masks", pa.bool_()),
        pa.field("counters", pa.map_(pa.string(), pa.int64())),
        pa.field("config", pa.string()),  # JSON of the frozen config that produced the set
        pa.field("created_by", pa.string()),
    ],
    metadata={
        b"schema_name": MANIFEST_SCHEMA_NAME.encode(),
        b"schema_version": MANIFEST_SCHEMA_VERSION.encode(),
    },
)
