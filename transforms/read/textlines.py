"""Plain-text readers (lines, blank-line documents, whole files, JSONL, TSV) and the stream
helpers every reader shares: bounded line iteration, bounded whole-file reads, file stems and
the record-level dead letter.

Readers take an already opened, decompressed binary stream and yield ``RawDoc`` or
``Rejected``; ``transforms.read.sources`` opens files and turns stream errors into file-level
dead letters.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator
from typing import BinaryIO

from transforms.read.config import COMPRESSION_SUFFIXES, ReaderConfig, text_format_of
from transforms.read.rawdoc import RawDoc
from transforms.shared.accounting import DROPPED_EMPTY, FAILED, INPUT, Count, Rejected

TOO_LARGE = "too_large"
UNDECODABLE = "undecodable"
_BLANK = re.compile(rb"\s*")
_SPACE = re.compile(r"\s+")

# Info counter: documents a reader yields. ``emitted`` proper is counted by the cleaning job
# when documents are written; readers guarantee input = read_docs + dropped_* + failed.
READ_DOCS = "read_docs"


class FileRejected(Exception):
    """A whole file cannot be read as its source type (empty, binary, not XML, ...)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def file_stem(path: str) -> str:
    """``.../enwiki-x.xml.bz2`` -> ``enwiki-x.xml``... minus one text extension: ``enwiki-x``."""
    name = posixpath.basename(path.rstrip("/").split("?", 1)[0]) or path
    for ext in COMPRESSION_SUFFIXES:
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    stem, dot, ext = name.rpartition(".")
    return stem if dot and stem and len(ext) <= 5 else name


def reject(
    count: Count, source_file: str, record_id: str, reason: str, detail: str = "", excerpt=""
) -> Rejected:
    """Count a failed record and return its dead letter."""
    count(FAILED)
    if isinstance(excerpt, bytes):
        excerpt = excerpt[:500].decode("utf-8", "backslashreplace")
    return Rejected(source_file, record_id, reason, detail, excerpt)


def iter_lines(stream: BinaryIO, max_bytes: int | None) -> Iterator[tuple[int, bytes | None]]:
    """(1-based line number, line without its line end) or (n, None) for a line over
    ``max_bytes``, which is consumed without being held in memory."""
    limit = (max_bytes + 1) if max_bytes else -1
    line_no = 0
    while True:
        line = stream.readline(limit)
        if not line:
            return
        line_no += 1
        if max_bytes and len(line) > max_bytes and not line.endswith(b"\n"):
            while (rest := stream.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield line_no, None
            continue
        yield line_no, line.rstrip(b"\r\n")


def read_limited(stream: BinaryIO, max_bytes: int | None) -> bytes | None:
    """The whole stream, or None when it is larger than ``max_bytes``."""
    if not max_bytes:
        return stream.read()
    data = stream.read(max_bytes + 1)
    return None if len(data) > max_bytes else data


def decode_line(line: bytes, first: bool) -> str:
    text = line.decode("utf-8")
    return text.lstrip("\ufeff") if first else text


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def block_paragraphs(text: str) -> tuple[str, ...]:
    """Blank lines separate paragraphs; a paragraph's hard-wrapped lines are joined."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        paragraph = _SPACE.sub(" ", block).strip()
        if paragraph:
            paragraphs.append(paragraph)
    return tuple(paragraphs)


def read_text(
    stream: BinaryIO, *, source_file: str, cfg: ReaderConfig, count: Count
) -> Iterator[RawDoc | Rejected]:
    """One text file in ``cfg.text_format`` (None: from the file's extension, so one input
    may mix formats) -> RawDocs (``text:<stem>:<line of the record>``).

    Counters: input, read_docs, dropped_empty, failed (too_large, undecodable, bad_json,
    bad_tsv_row, missing_text_field).
    """
    items = _read_text_items(stream, source_file, cfg, count)
    return (item for item in items if item is not None)


def _read_text_items(stream: BinaryIO, source_file: str, cfg: ReaderConfig, count: Count):
    text_format = cfg.text_format or text_format_of(source_file)
    max_record_bytes = cfg.max_record_bytes
    stem = file_stem(source_file)
    ctx = _Ctx(source_file, stem, count, cfg.lang_hint)
    if text_format == "file":
        yield from _read_file(stream, ctx, max_record_bytes)
    elif text_format == "blank_line":
        yield from _read_blank_line(stream, ctx, max_record_bytes)
    elif text_format in ("lines", "jsonl", "tsv"):
        for line_no, line in iter_lines(stream, max_record_bytes):
            count(INPUT)
            rid = f"{stem}:{line_no}"
            if line is None:
                yield reject(count, source_file, rid, TOO_LARGE, f"line over {max_record_bytes} B")
                continue
            try:
                text = decode_line(line, line_no == 1)
            except UnicodeDecodeError as e:
                yield reject(count, source_file, rid, UNDECODABLE, str(e), line)
                continue
            if text_format == "lines":
                yield ctx.doc(line_no, (text.strip(),))
            elif text_format == "jsonl":
                yield _jsonl_record(text, line_no, ctx, cfg.text_field)
            else:
                yield _tsv_record(text, line_no, ctx, cfg.tsv_columns)
    else:
        raise ValueError(f"unknown text_format {text_format!r}")


class _Ctx:
    """What every record of one file shares; ``doc`` counts and builds one RawDoc."""

    def __init__(self, source_file: str, stem: str, count: Count, lang: str | None) -> None:
        self.source_file, self.stem, self.count, self.lang = source_file, stem, count, lang

    def doc(self, line_no: int, paragraphs, lang: str | None = None, **metadata) -> RawDoc | None:
        paragraphs = tuple(p for p in paragraphs if p)
        if not paragraphs:
            self.count(DROPPED_EMPTY)
            return None
        self.count(READ_DOCS)
        return RawDoc(
            doc_id=f"text:{self.stem}:{line_no}",
            source="text",
            paragraphs=paragraphs,
            lang=lang or self.lang,
            source_file=self.source_file,
            metadata={"line": line_no, **metadata},
        )

    def reject(self, line_no: int, reason: str, detail: str = "", excerpt="") -> Rejected:
        return reject(
            self.count, self.source_file, f"{self.stem}:{line_no}", reason, detail, excerpt
        )


def _jsonl_record(text: str, line_no: int, ctx: _Ctx, text_field: str):
    if not text.strip():
        ctx.count(DROPPED_EMPTY)
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        return ctx.reject(line_no, "bad_json", str(e), text)
    value = record.get(text_field) if isinstance(record, dict) else None
    if not isinstance(value, str):
        return ctx.reject(line_no, "missing_text_field", f"no string field {text_field!r}", text)
    # Web-style text: each line of the field is a paragraph.
    paragraphs = (_SPACE.sub(" ", p).strip() for p in value.split("\n"))
    return ctx.doc(line_no, paragraphs, lang=record.get("lang") or None)


def _tsv_record(text: str, line_no: int, ctx: _Ctx, columns: tuple[str, ...]):
    fields = text.split("\t")
    if len(fields) != len(columns):
        return ctx.reject(
            line_no, "bad_tsv_row", f"{len(fields)} fields, expected {len(columns)}", text
        )
    row = dict(zip(columns, fields, strict=True))
    lang = row.pop("lang", None)
    lang = None if lang in (None, "", "\\N") else lang
    body = row.pop("text", "")
    return ctx.doc(line_no, (_SPACE.sub(" ", body).strip(),), lang=lang, **row)


def _read_file(stream: BinaryIO, ctx: _Ctx, max_bytes: int | None):
    data = read_limited(stream, max_bytes)
    ctx.count(INPUT)  # only once read: a stream error before this is a file-level failure
    if data is None:
        yield ctx.reject(1, TOO_LARGE, f"file over {max_bytes} B")
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        yield ctx.reject(1, UNDECODABLE, str(e), data[max(0, e.start - 40) : e.end + 40])
        return
    yield ctx.doc(1, block_paragraphs(normalise_newlines(text)))


def _read_blank_line(stream: BinaryIO, ctx: _Ctx, max_bytes: int | None):
    """Documents separated by blank lines, one paragraph per line (BERT sample_text.txt)."""
    block: _Block | None = None
    for line_no, line in iter_lines(stream, max_bytes):
        if line is not None and _BLANK.fullmatch(line):
            if block is not None:
                yield block.finish(ctx)
                block = None
            continue
        if block is None:
            block = _Block(line_no)
        block.add(line_no, line, max_bytes)
    if block is not None:
        yield block.finish(ctx)


class _Block:
    """The lines of one blank-line-separated document, or why it cannot be read."""

    def __init__(self, start: int) -> None:
        self.start, self.size = start, 0
        self.lines: list[str] = []
        self.bad: tuple[str, str, bytes] | None = None

    def add(self, line_no: int, line: bytes | None, max_bytes: int | None) -> None:
        if self.bad is not None:
            return
        self.size += len(line) if line is not None else 0
        if line is None or (max_bytes and self.size > max_bytes):
            self.bad = (TOO_LARGE, f"document over {max_bytes} B", b"")
            return
        try:
            self.lines.append(decode_line(line, line_no == 1).strip())
        except UnicodeDecodeError as e:
            self.bad = (UNDECODABLE, f"line {line_no}: {e}", line)

    def finish(self, ctx: _Ctx) -> RawDoc | Rejected | None:
        ctx.count(INPUT)
        if self.bad is not None:
            return ctx.reject(self.start, *self.bad)
        return ctx.doc(self.start, self.lines)
