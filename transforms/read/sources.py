"""Read raw documents from Wikipedia dumps, Gutenberg books, FASTA files and plain text.

``ReadSource`` expands an input pattern to files, spreads them over workers and reads each
file with its source's reader. Every file opens through smart_open (local, gs://, s3://,
http(s)://; .bz2 .gz .zst .xz by extension). A file that cannot be read as a whole (empty,
binary, truncated or corrupt stream, not XML) becomes one dead letter naming the file, and
records read before the failure are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import apache_beam as beam

from schemas.document import PROTEIN, SOURCES
from transforms.read.config import ReaderConfig
from transforms.read.files import (
    FAILED_FILES,
    FILE_RECORD_ID,
    INPUT_FILES,
    open_source_file,
    read_errors,
    read_failure,
)
from transforms.read.rawdoc import RawDoc
from transforms.shared.accounting import REJECTED_TAG, BeamCount, Count, Rejected

_GLOB_CHARS = "*?["


Reader = Callable[..., Iterator[RawDoc | Rejected]]


def reader_for(source: str) -> Reader:
    """The per-file reader of ``source``; imported lazily so ``--help`` stays instant."""
    if source == "wiki":
        from transforms.read.wiki_xml import read_wiki_dump

        return read_wiki_dump
    if source == "books":
        from transforms.read.books import read_book

        return read_book
    if source == PROTEIN:
        from transforms.read.fasta import read_fasta

        return read_fasta
    if source == "text":
        from transforms.read.textlines import read_text

        return read_text
    raise ValueError(f"source must be one of {SOURCES}, got {source!r}")


def expand_input_pattern(pattern: str) -> list[str]:
    """Comma list of paths, globs, directories and URIs -> sorted unique file list.

    Globs expand through Beam's FileSystems (local, gs://, s3://); http(s) URIs pass as is.
    Raises UserError for a glob or directory that matches no file and for a local path that
    does not exist (remote paths are checked when read: a missing one is a dead letter).
    """
    import os

    from apache_beam.io.filesystems import FileSystems

    from schemas.cli import UserError

    files: list[str] = []
    for part in (p.strip() for p in pattern.split(",")):
        if not part:
            continue
        if part.startswith(("http://", "https://")):
            files.append(part)
            continue
        if "://" not in part and os.path.isdir(part):
            part = os.path.join(part, "*")
        if not any(c in part for c in _GLOB_CHARS):
            if "://" not in part and not os.path.isfile(part):
                raise UserError(f"input {part}: no such file")
            files.append(part)
            continue
        matched = [m.path for m in FileSystems.match([part])[0].metadata_list]
        matched = [m for m in matched if "://" in m or os.path.isfile(m)]
        if not matched:
            raise UserError(f"input pattern {part!r} matches no files")
        files.extend(sorted(matched))
    return sorted(set(files))


def _is_remote_glob(part: str) -> bool:
    remote = "://" in part and not part.startswith(("http://", "https://", "file://"))
    return remote and any(c in part for c in _GLOB_CHARS)


def read_file(
    source: str, path: str, cfg: ReaderConfig, count: Count
) -> Iterator[RawDoc | Rejected]:
    """One file of ``source`` -> RawDocs and dead letters, never an exception for bad input.

    Counters: input_files, failed_files, plus the reader's record counters.
    """
    reader = reader_for(source)
    count(INPUT_FILES)
    docs = 0
    try:
        with open_source_file(path) as stream:
            for item in reader(stream, source_file=path, cfg=cfg, count=count):
                docs += isinstance(item, RawDoc)
                yield item
        return
    except read_errors() as e:
        reason, detail = read_failure(e)
    count(FAILED_FILES)
    yield Rejected(path, FILE_RECORD_ID, reason, f"{detail} ({docs} documents read before)")


class _ReadFileFn(beam.DoFn):
    """file path -> RawDoc (main output) and Rejected JSON (REJECTED_TAG)."""

    def __init__(self, source: str, cfg: ReaderConfig) -> None:
        self.source = source
        self.cfg = cfg

    def setup(self) -> None:
        self.count = BeamCount()

    def process(self, path):
        if isinstance(path, str):
            items = read_file(self.source, path, self.cfg, self.count)
        else:  # a byte range of a wiki dump
            from transforms.read.multistream import StreamRange, read_range
            from transforms.read.xml_ranges import read_xml_range

            read = read_range if isinstance(path, StreamRange) else read_xml_range
            items = read(path, self.cfg, self.count)
        for item in items:
            if isinstance(item, Rejected):
                yield beam.pvalue.TaggedOutput(REJECTED_TAG, item.to_json())
            else:
                yield item


class _SplitDumpFn(beam.DoFn):
    """wiki file path -> its byte ranges (a multistream dump with its index beside it, or a
    large uncompressed .xml dump), else the path itself. Runs before the Reshuffle so the
    ranges spread over workers."""

    def __init__(self, cfg: ReaderConfig) -> None:
        self.cfg = cfg

    def setup(self) -> None:
        self.count = BeamCount()

    def process(self, path: str):
        from transforms.read.multistream import expand_multistream
        from transforms.read.xml_ranges import expand_plain_xml

        ranges: list = expand_multistream(path, self.cfg.streams_per_range, self.count)
        if not ranges and self.cfg.xml_range_bytes:
            ranges = expand_plain_xml(path, self.cfg.xml_range_bytes, self.count)
        yield from ranges if ranges else [path]


class ReadSource(beam.PTransform):
    """PBegin -> (PCollection[RawDoc], PCollection[str]: Rejected JSON).

    Counters: input_files, failed_files, failed_ranges (file level, not in the ledger); input,
    read_docs, dropped_<reason>, failed (records; emitted is counted when documents are written).
    A wiki ``X-multistream.xml.bz2`` with ``X-multistream-index.txt.bz2`` beside it, and an
    uncompressed wiki ``.xml`` over ``cfg.xml_range_bytes``, are read as byte ranges spread over
    workers (transforms/read/multistream.py, xml_ranges.py); other files are read whole.
    """

    def __init__(self, source: str, input_pattern: str, cfg: ReaderConfig = ReaderConfig()):
        super().__init__()
        reader_for(source)  # validates the source name at construction
        self.source = source
        self.input_pattern = input_pattern
        self.cfg = cfg

    def expand(self, pbegin):
        # Local patterns expand now, so a typo fails before the job starts; globs on remote
        # filesystems (gs://, s3://) expand inside the pipeline, where credentials live and so
        # a graph can be built (e.g. a Dataflow dry run) from a machine without them.
        parts = [p.strip() for p in self.input_pattern.split(",") if p.strip()]
        remote_globs = [p for p in parts if _is_remote_glob(p)]
        local = ",".join(p for p in parts if not _is_remote_glob(p))
        files = (expand_input_pattern(local) if local else []) + remote_globs
        listed = (
            pbegin
            | "ListFiles" >> beam.Create(files)
            | "ExpandRemoteGlobs"
            >> beam.FlatMap(lambda f: expand_input_pattern(f) if _is_remote_glob(f) else [f])
        )
        if self.source == "wiki":  # indexed multistream and large .xml dumps: byte ranges
            listed = listed | "SplitDumps" >> beam.ParDo(_SplitDumpFn(self.cfg))
        read = (
            listed
            | "SpreadFiles" >> beam.Reshuffle()
            | "ReadFiles"
            >> beam.ParDo(_ReadFileFn(self.source, self.cfg)).with_outputs(
                REJECTED_TAG, main="docs"
            )
        )
        return read.docs, read[REJECTED_TAG]


__all__ = ["ReadSource", "expand_input_pattern", "read_file", "reader_for"]
