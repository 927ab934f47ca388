"""Arrow schema of a cleaned document: the output of ``pipeline.clean``, the input of vocab/pack."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyarrow as pa

DOCUMENT_SCHEMA_NAME = "bertcorpus.document"
DOCUMENT_SCHEMA_VERSION = "1"

# Sources a document can come from (the ``source`` column).
PROTEIN = "protein"  # also the ``lang`` of protein documents
SOURCES = ("wiki", "books", PROTEIN, "text")

DOCUMENT_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),  # stable, unique within a corpus
        pa.field("source", pa.string(), nullable=False),  # one of SOURCES
        pa.field("lang", pa.string(), nullable=False),  # ISO 639-1/3 code, "und" if unknown
        pa.field("title", pa.string()),
        # Paragraphs, each a list of sentences. Packing flattens them; paragraph breaks are
        # kept because they are natural segment boundaries for NSP/SOP.
        pa.field("paragraphs", pa.list_(pa.list_(pa.string())), nullable=False),
        pa.field("num_chars", pa.int64(), nullable=False),
        pa.field("source_file", pa.string()),  # URI the document was read from
        pa.field("metadata", pa.string()),  # JSON object: page id, accession, url, ...
    ],
    metadata={
        b"schema_name": DOCUMENT_SCHEMA_NAME.encode(),
        b"schema_version": DOCUMENT_SCHEMA_VERSION.encode(),
    },
)


@dataclass(frozen=True)
class Doc:
    """One cleaned document; ``to_row`` gives a dict matching DOCUMENT_SCHEMA."""

    doc_id: str
    source: str
    lang: str
    paragraphs: tuple[tuple[str, ...], ...]
    title: str | None = None
    source_file: str | None = None
    metadata: dict = field(default_factory=dict)

    @property
    def num_chars(self) -> int:
        return sum(len(s) for p in self.paragraphs for s in p)

    @property
    def sentences(self) -> list[str]:
        return [s for p in self.paragraphs for s in p]

    def to_row(self) -> dict:
        return {
            "doc_id": self.doc_id,
            "source": self.source,
            "lang": self.lang,
            "title": self.title,
            "paragraphs": [list(p) for p in self.paragraphs],
            "num_chars": self.num_chars,
            "source_file": self.source_file,
            "metadata": json.dumps(self.metadata, sort_keys=True, ensure_ascii=False),
        }

    @classmethod
    def from_row(cls, row: dict) -> Doc:
        return cls(
            doc_id=row["doc_id"],
            source=row["source"],
            lang=row["lang"],
            title=row.get("title"),
            paragraphs=tuple(tuple(p) for p in row["paragraphs"]),
            source_file=row.get("source_file"),
            metadata=json.loads(row["metadata"]) if row.get("metadata") else {},
        )
