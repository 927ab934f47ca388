"""Split reading of uncompressed MediaWiki XML dumps: one ``.xml`` file, many workers.

A decompressed dump (users often ``bunzip2`` the dump once; mirrors serve some as plain XML)
has no index, but ``<page>`` can only be a page boundary in it (markup inside ``<text>`` is
escaped), so it splits like a text file: the file is cut into equal byte ranges and range
``[start, end)`` reads every page whose ``<page>`` tag starts in it, i.e. the bytes from the
first ``<page>`` at or after ``start`` (from byte 0 for the first range: the header) up to
the first ``<page>`` at or after ``end`` (or the end of the file). Consecutive ranges thus
read consecutive, disjoint spans that cover the file, whatever bytes the cuts fall on, and
pages come out exactly as a whole-file read gives them.

Equal-sized ranges also keep workers evenly loaded: runners that hand a stage's elements out
round-robin (the local runner does) would otherwise give one worker the larger files.
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

from transforms.read.config import ReaderConfig
from transforms.read.files import INPUT_FILES
from transforms.read.rawdoc import RawDoc
from transforms.read.textlines import FileRejected
from transforms.read.wiki_split import split_pages
from transforms.read.wiki_xml import FAILED_RANGES, SiteInfo, parse_siteinfo, read_range_pages
from transforms.shared.accounting import Count, Rejected

PLAIN_SUFFIX = ".xml"
_OPEN = b"<page>"
_CHUNK = 1 << 20
_HEADER_CAP = 1 << 26  # bytes searched for the first <page> when the header is read


@dataclass(frozen=True)
class XmlRange:
    """Bytes [start, end) of an uncompressed dump: the pages whose ``<page>`` starts there."""

    path: str
    start: int
    end: int
    site: SiteInfo  # from the file's header, read once when the file is expanded
    last: bool  # the range ends at the end of the file

    @property
    def record_id(self) -> str:
        return f"bytes={self.start}-{self.end}"


class ChunkStream:
    """``read()`` over an iterator of byte chunks, one chunk per call (what split_pages
    needs; it asks for a size but takes what it gets)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def read(self, _size: int = -1) -> bytes:
        for data in self._chunks:
            if data:
                return data
        return b""


def plan_equal_ranges(size: int, max_bytes: int) -> list[tuple[int, int]]:
    """[0, size) cut into the fewest equal ranges of at most ``max_bytes`` each."""
    if max_bytes < 1:
        raise ValueError("max_bytes must be >= 1")
    if size <= 0:
        return []
    n = -(-size // max_bytes)
    bounds = [size * i // n for i in range(n + 1)]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _open_raw(path: str):
    import smart_open

    return smart_open.open(path, "rb", compression="disable")


def next_page_start(f: BinaryIO, pos: int, limit: int | None = None) -> int | None:
    """Offset of the first ``<page>`` starting at or after ``pos`` (and before ``pos +
    limit``, when given); None if there is none."""
    f.seek(pos)
    carry, stop = b"", None if limit is None else pos + limit
    while (stop is None or pos < stop) and (chunk := f.read(_CHUNK)):
        buf = carry + chunk
        i = buf.find(_OPEN)
        if i >= 0:
            return pos - len(carry) + i
        carry = buf[-(len(_OPEN) - 1) :]
        pos += len(chunk)
    return None


class PageSpan:
    """Iterates over the bytes range ``[start, end)`` reads: from the first ``<page>`` at or
    after ``start`` (byte 0 when ``start`` is 0) up to the first ``<page>`` at or after
    ``end``. ``reached_eof`` tells, once iterated, that no such later ``<page>`` exists, so
    this span ends the file and must hold ``</mediawiki>`` (a range with no page of its own
    reads nothing: the span before it runs to the end)."""

    def __init__(self, f: BinaryIO, start: int, end: int) -> None:
        self.f, self.start, self.end = f, start, end
        self.reached_eof = False

    def __iter__(self) -> Iterator[bytes]:
        f, end = self.f, self.end
        if self.start == 0:
            first: int | None = len(codecs.BOM_UTF8) if f.read(3) == codecs.BOM_UTF8 else 0
        else:
            first = next_page_start(f, self.start)
        if first is None or first >= end:
            return
        f.seek(first)
        pos, held = first, b""  # held: bytes read, not yet yielded (a tag may span reads)
        while chunk := f.read(_CHUNK):
            buf, base = held + chunk, pos - len(held)
            stop = buf.find(_OPEN, max(0, end - base))
            if stop >= 0:
                yield buf[:stop]
                return
            keep = len(_OPEN) - 1
            yield buf[:-keep]
            held, pos = buf[-keep:], pos + len(chunk)
        self.reached_eof = True
        yield held


def read_xml_header(path: str, split_above: int = 0) -> tuple[SiteInfo, int] | None:
    """(the dump's SiteInfo, file size), or None when the file need not or cannot be split:
    no larger than ``split_above`` bytes (then nothing is scanned: most files are small), not
    UTF-8 (a UTF-16 dump is transcoded while read whole), or no ``<page>`` within the header
    cap."""
    with _open_raw(path) as f:
        size = f.seek(0, 2)
        if size <= split_above:
            return None
        cut = next_page_start(f, 0, limit=_HEADER_CAP)
        if cut is None:
            return None
        f.seek(0)
        head = f.read(cut)
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    if b"\x00" in head[:4096]:
        return None
    return parse_siteinfo(head), size


def expand_plain_xml(path: str, max_bytes: int, count: Count) -> list[XmlRange]:
    """An uncompressed dump larger than ``max_bytes`` -> its ranges (counts input_files once).

    Returns [] for other files, for a dump that fits one range, and when the header cannot be
    read or parsed (any error, as filesystems raise their own types): the caller then reads
    the file whole, which reports a broken file as usual.
    """
    if not path.lower().endswith(PLAIN_SUFFIX) or path.startswith(("http://", "https://")):
        return []
    try:
        header = read_xml_header(path, split_above=max_bytes)
    except Exception as e:  # any failure (e.g. gs NotFound): read it whole
        logging.getLogger(__name__).warning("reading %s whole, not by ranges: %r", path, e)
        return []
    if header is None:
        return []
    site, size = header
    count(INPUT_FILES)
    return [XmlRange(path, a, b, site, b == size) for a, b in plan_equal_ranges(size, max_bytes)]


def read_xml_range(rng: XmlRange, cfg: ReaderConfig, count: Count) -> Iterator[RawDoc | Rejected]:
    """One uncompressed byte range -> RawDocs and dead letters: wiki_xml.read_range_pages
    over this module's page events (what lies outside pages is judged in _page_events)."""
    return read_range_pages(rng, _page_events(rng, cfg), cfg=cfg, count=count)


def _page_events(rng: XmlRange, cfg: ReaderConfig) -> Iterator[tuple[str, bytes]]:
    with _open_raw(rng.path) as f:
        span = PageSpan(f, rng.start, rng.end)
        stream = cast(BinaryIO, ChunkStream(iter(span)))
        for kind, data in split_pages(stream, cfg.max_record_bytes):
            if kind == "header":  # the dump header (first range), else nothing
                continue
            if kind == "no_end":
                if span.reached_eof:
                    raise FileRejected("truncated_file", "no </mediawiki> at the end")
                continue
            if kind == "truncated":
                if span.reached_eof:
                    raise FileRejected("truncated_file", "the file ends inside a page")
                kind = "unclosed"  # the span stopped at the next <page>: as a whole read
            yield kind, data


__all__ = [
    "ChunkStream",
    "FAILED_RANGES",
    "XmlRange",
    "expand_plain_xml",
    "next_page_start",
    "PageSpan",
    "plan_equal_ranges",
    "read_xml_header",
    "read_xml_range",
]
