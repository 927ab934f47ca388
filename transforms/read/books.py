"""Project Gutenberg plain-text books -> one RawDoc per book.

The PG header and licence footer are cut at their markers: ``*** START OF THE/THIS PROJECT
GUTENBERG EBOOK X ***`` (also without spaces, or with the title wrapped onto the next line),
the old ``*END*THE SMALL PRINT!`` header, and ``*** END OF ...`` / ``End of (the) Project
Gutenberg('s) EBook ...`` footers. Hard-wrapped lines are joined; a blank line ends a paragraph.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from transforms.read.config import ReaderConfig
from transforms.read.rawdoc import RawDoc
from transforms.read.textlines import (
    READ_DOCS,
    TOO_LARGE,
    UNDECODABLE,
    block_paragraphs,
    file_stem,
    normalise_newlines,
    read_limited,
    reject,
)
from transforms.shared.accounting import DROPPED_EMPTY, INPUT, Count, Rejected

BOOKS_NO_MARKERS = "books_no_markers"  # info: no START marker, whole text kept
BOOKS_NO_END_MARKER = "books_no_end_marker"  # info: START but no END marker, kept to the end

_START = re.compile(
    r"^[ \t]*\*{3}[ \t]*START OF (?:THE|THIS) PROJECT GUTENBERG E-?(?:BOOK|TEXT)"
    r"|^\*?END\*?THE SMALL PRINT",
    re.I | re.M,
)
_END = re.compile(
    r"^[ \t]*\*{3}[ \t]*END OF (?:THE|THIS) PROJECT GUTENBERG"
    r"|^[ \t]*End of (?:the )?Project Gutenberg(?:['’]s)? (?:E-?BOOK|E-?TEXT|Work)"
    r"|^[ \t]*End of (?:the )?Project Gutenberg\b",
    re.I | re.M,
)
_MARKER_TAIL_LINES = 3  # "*** START OF THIS PROJECT GUTENBERG EBOOK\nTHE TITLE ***"
_PRODUCER = re.compile(
    r"(?:Produced|Prepared|Transcribed|E-?text prepared|This (?:e-?text|e-?book) was "
    r"(?:produced|prepared))\b",
    re.I,
)
_ILLUSTRATION = re.compile(r"\[Illustration[^\]]*\]", re.I)
# Not anchored at line start: some headers glue "Title:" to the previous line (PG #1952).
_HEADER_FIELD = re.compile(
    r"(Title|Author|Language|Release Date|Character set encoding):[ \t]*(.+)$", re.M
)
_EBOOK_NO = re.compile(r"\[E(?:Book|Text) #(\d+)\]", re.I)
_LANGUAGES = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "finnish": "fi", "russian": "ru", "latin": "la",
    "swedish": "sv", "danish": "da", "norwegian": "no", "polish": "pl", "greek": "el",
    "chinese": "zh", "japanese": "ja", "hungarian": "hu", "czech": "cs", "esperanto": "eo",
}  # fmt: skip


def strip_gutenberg(text: str, count: Count) -> tuple[str, str]:
    """(header, body): the PG header and the book body between the START and END markers."""
    start = _START.search(text)
    if start is None:
        count(BOOKS_NO_MARKERS)
        header, body_start = "", 0
    else:
        header = text[: start.start()]
        body_start = _after_marker(text, start.end())
    end = _END.search(text, body_start)
    if end is None and start is not None:
        count(BOOKS_NO_END_MARKER)
    body = text[body_start : end.start() if end else len(text)]
    return header, body


def _after_marker(text: str, pos: int) -> int:
    """Where the body starts: after the marker line, or after the line that closes a marker
    wrapped over several lines with ``***``."""
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    if "***" in text[pos:line_end] or "SMALL PRINT" in text[pos - 20 : pos].upper():
        return line_end + 1
    cursor = line_end
    for _ in range(_MARKER_TAIL_LINES):
        nxt = text.find("\n", cursor + 1)
        nxt = len(text) if nxt < 0 else nxt
        if text[cursor + 1 : nxt].rstrip().endswith("***"):
            return nxt + 1
        cursor = nxt
    return line_end + 1


def book_paragraphs(body: str) -> tuple[str, ...]:
    """Unwrapped paragraphs without the producer credit and illustration placeholders."""
    paragraphs = list(block_paragraphs(_ILLUSTRATION.sub("", body)))
    if paragraphs and _PRODUCER.match(paragraphs[0]):
        paragraphs.pop(0)
    return tuple(p for p in paragraphs if any(c.isalnum() for c in p))


def header_fields(header: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in _HEADER_FIELD.findall(header):
        fields.setdefault(key.lower().replace(" ", "_"), value.strip())
    if m := _EBOOK_NO.search(header):
        fields["ebook_no"] = m.group(1)
    return fields


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM); Latin-1 where the PG header declares it."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        head = data[:4000].decode("ascii", "replace").lower()
        if re.search(r"character set encoding:\s*(iso-8859-1|latin-1|iso latin-1)", head):
            return data.decode("latin-1")
        raise


def read_book(
    stream: BinaryIO, *, source_file: str, cfg: ReaderConfig, count: Count
) -> Iterator[RawDoc | Rejected]:
    """One Gutenberg text file -> one RawDoc ``books:<file stem>``.

    Counters: input, read_docs, dropped_empty, failed (too_large, undecodable); info:
    books_no_markers, books_no_end_marker.
    """
    stem = file_stem(source_file)
    data = read_limited(stream, cfg.max_record_bytes)
    count(INPUT)  # only once read: a stream error before this is a file-level failure
    if data is None:
        detail = f"book over {cfg.max_record_bytes} B"
        yield reject(count, source_file, stem, TOO_LARGE, detail)
        return
    try:
        text = normalise_newlines(_decode(data))
    except UnicodeDecodeError as e:
        excerpt = data[max(0, e.start - 40) : e.end + 40]
        yield reject(count, source_file, stem, UNDECODABLE, str(e), excerpt)
        return
    header, body = strip_gutenberg(text, count)
    paragraphs = book_paragraphs(body)
    if not paragraphs:
        count(DROPPED_EMPTY)
        return
    fields = header_fields(header)
    count(READ_DOCS)
    yield RawDoc(
        doc_id=f"books:{stem}",
        source="books",
        paragraphs=paragraphs,
        title=fields.get("title"),
        lang=cfg.lang_hint or _LANGUAGES.get(fields.get("language", "").lower()),
        source_file=source_file,
        metadata=fields,
    )
