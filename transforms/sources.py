"""Read raw documents from Wikipedia dumps, Gutenberg books, FASTA files and plain text.

``ReadSource`` expands an input pattern to files, spreads them over workers and reads each
file with its source's reader. Every file opens through smart_open (local, gs://, s3://,
http(s)://; .bz2 .gz .zst .xz by extension). A file that cannot be read as a whole (empty,
binary, truncated or corrupt stream, not XML) becomes one dead letter naming the file, and
records read before the failure are kept.
"""

from __future__ import annotations

import codecs
import io
import lzma
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Literal

import apache_beam as beam

from transforms.accounting import REJECTED_TAG, BeamCount, Count, Rejected
from transforms.rawdoc import RawDoc
from transforms.textlines import READ_DOCS, FileRejected

SOURCES = ("wiki", "books", "protein", "text")
TEXT_FORMATS = ("lines", "blank_line", "file", "jsonl", "tsv")
INPUT_FILES = "input_files"
FAILED_FILES = "failed_files"
FILE_RECORD_ID = "<file>"  # record_id of a file-level dead letter
_HEAD_BYTES = 1 << 16
_READ_BYTES = 1 << 16
_GLOB_CHARS = "*?["


@dataclass(frozen=True)
class ReaderConfig:
    text_format: Literal["lines", "blank_line", "file", "jsonl", "tsv"] = "lines"
    text_field: str = "text"  # jsonl
    tsv_columns: tuple[str, ...] = ("id", "lang", "text")  # tsv (tatoeba: id<TAB>lang<TAB>text)
    max_record_bytes: int | None = 20_000_000  # larger records -> dead letter, "too_large"
    lang_hint: str | None = None  # e.g. "ja" for a jawiki dump; None = detect later
    streams_per_range: int = 100  # wiki multistream dumps: bz2 streams (~100 pages) per task

    def __post_init__(self) -> None:
        if self.text_format not in TEXT_FORMATS:
            raise ValueError(f"text_format must be one of {TEXT_FORMATS}, got {self.text_format!r}")
        if self.max_record_bytes is not None and self.max_record_bytes <= 0:
            raise ValueError("max_record_bytes must be positive or None")
        if self.text_format == "tsv" and "text" not in self.tsv_columns:
            raise ValueError("tsv_columns must name a 'text' column")
        if self.streams_per_range < 1:
            raise ValueError("streams_per_range must be >= 1")


Reader = Callable[..., Iterator[RawDoc | Rejected]]


def reader_for(source: str) -> Reader:
    """The per-file reader of ``source``; imported lazily so ``--help`` stays instant."""
    if source == "wiki":
        from transforms.wiki_xml import read_wiki_dump

        return read_wiki_dump
    if source == "books":
        from transforms.books import read_book

        return read_book
    if source == "protein":
        from transforms.fasta import read_fasta

        return read_fasta
    if source == "text":
        from transforms.textlines import read_text

        return read_text
    raise ValueError(f"source must be one of {SOURCES}, got {source!r}")


def expand_input_pattern(pattern: str) -> list[str]:
    """Comma list of paths, globs, directories and URIs -> sorted unique file list.

    Globs expand through Beam's FileSystems (local, gs://, s3://); http(s) URIs pass as is.
    Raises ValueError for a glob or directory that matches no file.
    """
    import os

    from apache_beam.io.filesystems import FileSystems

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
            files.append(part)
            continue
        matched = [m.path for m in FileSystems.match([part])[0].metadata_list]
        matched = [m for m in matched if "://" in m or os.path.isfile(m)]
        if not matched:
            raise ValueError(f"input pattern {part!r} matches no files")
        files.extend(sorted(matched))
    return sorted(set(files))


def _is_remote_glob(part: str) -> bool:
    remote = "://" in part and not part.startswith(("http://", "https://", "file://"))
    return remote and any(c in part for c in _GLOB_CHARS)


class _SniffedStream(io.RawIOBase):
    """Serves already-read head bytes, then the rest; optionally transcodes UTF-16 to UTF-8
    so every reader sees UTF-8 (bgwiki's dump is UTF-16 LE with a BOM)."""

    def __init__(self, raw: BinaryIO, head: bytes, encoding: str | None) -> None:
        # Small read1 calls: when a truncated stream raises, the bytes a read had gathered are
        # lost with it, so small reads keep all but the last <= 64 KiB before the cut.
        self._read = getattr(raw, "read1", raw.read)
        self._decoder = codecs.getincrementaldecoder(encoding)("strict") if encoding else None
        self._pending = memoryview(self._convert(head, final=False))
        self._eof = False

    def _convert(self, data: bytes, final: bool) -> bytes:
        if self._decoder is None:
            return data
        return self._decoder.decode(data, final=final).encode("utf-8")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not len(self._pending) and not self._eof:
            chunk = self._read(_READ_BYTES)
            self._eof = not chunk
            self._pending = memoryview(self._convert(chunk, final=self._eof))
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _sniff(head: bytes) -> tuple[bytes, str | None]:
    """(head without a UTF-8 BOM, encoding to transcode from or None); rejects empty/binary."""
    if not head:
        raise FileRejected("empty_file", "no bytes after decompression")
    if head.startswith(codecs.BOM_UTF8):
        return head[len(codecs.BOM_UTF8) :], None
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head, "utf-16"
    if head.startswith(b"<\x00"):
        return head, "utf-16-le"
    if head.startswith(b"\x00<"):
        return head, "utf-16-be"
    if b"\x00" in head:
        raise FileRejected("binary_file", f"NUL bytes in the first {len(head)} B")
    return head, None


@contextmanager
def open_source_file(path: str) -> Iterator[BinaryIO]:
    """Open ``path`` (any smart_open URI, decompressed by extension) as UTF-8-ish bytes."""
    import smart_open

    with smart_open.open(path, "rb") as raw:
        head = raw.read(_HEAD_BYTES)
        head, encoding = _sniff(head)
        yield io.BufferedReader(_SniffedStream(raw, head, encoding), buffer_size=1 << 20)


def _stream_error_reason(error: BaseException) -> str:
    if isinstance(error, EOFError):
        return "truncated_stream"  # bz2/gzip/xz stream ended before its end marker
    status = getattr(getattr(error, "response", None), "status_code", None)  # requests (http)
    if isinstance(error, FileNotFoundError) or status == 404:
        return "not_found"
    if isinstance(error, UnicodeError):
        return "undecodable"
    if isinstance(error, (lzma.LZMAError, zlib.error)) or "zstd" in type(error).__module__:
        return "corrupt_stream"
    if isinstance(error, OSError):
        # Decompressors raise OSError without an errno (bz2 "Invalid data stream",
        # gzip.BadGzipFile); real I/O and network errors carry one or come from a client.
        remote = type(error).__module__.split(".")[0] in ("requests", "urllib3", "botocore")
        return "read_error" if error.errno is not None or remote else "corrupt_stream"
    return "read_error"


def _stream_errors() -> tuple[type[BaseException], ...]:
    """What a bad stream raises: truncation (EOFError), I/O and codec errors."""
    import zstandard

    return (EOFError, OSError, ValueError, lzma.LZMAError, zlib.error, zstandard.ZstdError)


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
    except FileRejected as e:
        reason, detail = e.reason, e.detail
    except _stream_errors() as e:
        reason, detail = _stream_error_reason(e), f"{type(e).__name__}: {e}"
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
        else:  # a byte range of a wiki multistream dump
            from transforms.multistream import read_range

            items = read_range(path, self.cfg, self.count)
        for item in items:
            if isinstance(item, Rejected):
                yield beam.pvalue.TaggedOutput(REJECTED_TAG, item.to_json())
            else:
                yield item


class _SplitMultistreamFn(beam.DoFn):
    """wiki file path -> its multistream byte ranges where an index lies beside it, else the
    path itself. Runs before the Reshuffle so the ranges spread over workers."""

    def __init__(self, cfg: ReaderConfig) -> None:
        self.cfg = cfg

    def setup(self) -> None:
        self.count = BeamCount()

    def process(self, path: str):
        from transforms.multistream import expand_multistream

        ranges = expand_multistream(path, self.cfg.streams_per_range, self.count)
        yield from ranges if ranges else [path]


class ReadSource(beam.PTransform):
    """PBegin -> (PCollection[RawDoc], PCollection[str]: Rejected JSON).

    Counters: input_files, failed_files, failed_ranges (file level, not in the ledger); input,
    read_docs, dropped_<reason>, failed (records; emitted is counted when documents are written).
    A wiki ``X-multistream.xml.bz2`` with ``X-multistream-index.txt.bz2`` beside it is read as
    byte ranges spread over workers (transforms/multistream.py); other files are read whole.
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
        if self.source == "wiki":  # multistream dumps with an index split into byte ranges
            listed = listed | "SplitMultistream" >> beam.ParDo(_SplitMultistreamFn(self.cfg))
        read = (
            listed
            | "SpreadFiles" >> beam.Reshuffle()
            | "ReadFiles"
            >> beam.ParDo(_ReadFileFn(self.source, self.cfg)).with_outputs(
                REJECTED_TAG, main="docs"
            )
        )
        return read.docs, read[REJECTED_TAG]


__all__ = [
    "FAILED_FILES",
    "FILE_RECORD_ID",
    "INPUT_FILES",
    "READ_DOCS",
    "ReadSource",
    "ReaderConfig",
    "expand_input_pattern",
    "read_file",
]
