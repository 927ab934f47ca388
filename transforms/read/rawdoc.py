"""The element that source readers emit and the cleaning steps consume.

A RawDoc is one document as read from its source, before normalisation, filtering, language
identification and sentence splitting turn it into a ``schemas.document.Doc``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.document import Doc


@dataclass(frozen=True)
class RawDoc:
    doc_id: str  # stable and unique: "<source>:<file stem>:<page id / accession / line no>"
    source: str  # one of schemas.document.SOURCES
    paragraphs: tuple[str, ...]  # plain text, one entry per paragraph (no markup left)
    title: str | None = None
    lang: str | None = None  # a hint from the source (dump language, TSV column), or None
    source_file: str | None = None
    metadata: dict = field(default_factory=dict)

    def to_doc(self, paragraphs: tuple[tuple[str, ...], ...]) -> Doc:
        """This document as a ``Doc`` whose paragraphs are ``paragraphs`` (tuples of
        sentences); an unknown language becomes "und"."""
        return Doc(
            doc_id=self.doc_id,
            source=self.source,
            lang=self.lang or "und",
            paragraphs=paragraphs,
            title=self.title,
            source_file=self.source_file,
            metadata=dict(self.metadata),
        )
