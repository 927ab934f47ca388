"""Split reading of Wikipedia multistream dumps: one dump file, many workers.

``<db>-<date>-pages-articles-multistream.xml.bz2`` is a concatenation of independent bz2
streams (the first holds the ``<siteinfo>`` header, then ~100 pages per stream, the last
``</mediawiki>``), and ``...-multistream-index.txt.bz2`` maps every page to the byte offset of
its stream (``offset:page_id:title``). A byte range of whole streams therefore decompresses on
its own, so a dump becomes many ranges read in parallel. Each stream is decompressed whole
before its pages are parsed: bz2 checks a block's CRC only at its end, so a corrupt stream
must not hand half-decoded bytes to the parser.
"""

from __future__ import annotations

import bz2
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
from transforms.read.xml_ranges import ChunkStream
from transforms.shared.accounting import Count, Rejected

DUMP_SUFFIX = "-multistream.xml.bz2"
INDEX_SUFFIX = "-multistream-index.txt.bz2"
_CHUNK = 1 << 20
_HEADER_CAP = 1 << 26  # decompressed bytes of the first stream searched for <siteinfo>


@dataclass(frozen=True)
class StreamRange:
    """Bytes [start, end) of a multistream dump: whole bz2 streams of pages."""

    path: str
    start: int
    end: int
    site: SiteInfo  # from the dump's first stream, read once when the file is expanded
    last: bool  # the range ends at the end of the file, so it holds </mediawiki>

    @property
    def record_id(self) -> str:
        return f"bytes={self.start}-{self.end}"


def index_path_for(path: str) -> str | None:
    """``X-multistream.xml.bz2`` -> ``X-multistream-index.txt.bz2``; None for other names."""
    if not path.endswith(DUMP_SUFFIX):
        return None
    return path[: -len(DUMP_SUFFIX)] + INDEX_SUFFIX


def read_multistream_index(index_path: str) -> list[int]:
    """The sorted distinct stream offsets of an index (``offset:page_id:title`` lines)."""
    import smart_open

    offsets: set[int] = set()
    with smart_open.open(index_path, "rb") as f:
        for n, line in enumerate(f, 1):
            head, sep, _ = line.partition(b":")
            if not sep:
                if line.strip():
                    raise ValueError(f"{index_path} line {n}: no 'offset:' prefix")
                continue
            offsets.add(int(head))
    return sorted(offsets)


def plan_ranges(
    offsets: list[int], file_size: int, streams_per_range: int
) -> list[tuple[int, int]]:
    """Byte ranges [start, end) of ``streams_per_range`` consecutive page streams each; the
    last runs to the end of the file (it also holds the footer stream)."""
    if streams_per_range < 1:
        raise ValueError("streams_per_range must be >= 1")
    if any(b <= a for a, b in zip(offsets, offsets[1:], strict=False)):
        raise ValueError("offsets must be sorted and distinct")
    if offsets and (offsets[0] < 0 or offsets[-1] >= file_size):
        raise ValueError(f"offsets must lie in [0, {file_size})")
    bounds = offsets[::streams_per_range] + [file_size]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def iter_streams(f: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """Seek to ``start`` and yield the decompressed bytes of each whole bz2 stream up to
    ``end``. Raises OSError for corrupt data, EOFError for a stream cut off at ``end``."""
    f.seek(start)
    remaining = end - start
    dec, parts, data, fed = bz2.BZ2Decompressor(), [], b"", False
    while True:
        if not data:
            if remaining <= 0:
                break
            data = f.read(min(_CHUNK, remaining))
            if not data:
                raise EOFError(f"file ends {remaining} B before byte {end}")
            remaining -= len(data)
        parts.append(dec.decompress(data))
        data, fed = b"", True
        if dec.eof:
            yield b"".join(parts)
            data, dec, parts, fed = dec.unused_data, bz2.BZ2Decompressor(), [], False
    if fed:
        raise EOFError(f"bz2 stream ends before its end marker at byte {end}")


def _open_raw(path: str):
    import smart_open

    return smart_open.open(path, "rb", compression="disable")


def read_siteinfo(path: str) -> SiteInfo:
    """Parse the dump header from the first stream (bytes before its first ``<page>``)."""
    with _open_raw(path) as f:
        size = f.seek(0, 2)
        first = next(iter_streams(f, 0, size), b"")
    header = first[:_HEADER_CAP].split(b"<page>", 1)[0]
    return parse_siteinfo(header)


def expand_multistream(path: str, streams_per_range: int, count: Count) -> list[StreamRange]:
    """A multistream dump with its index beside it -> its ranges (counts input_files once).

    Returns [] when ``path`` is not such a dump or its index or header cannot be read (any
    error, as filesystems raise their own types); the caller then reads the file whole,
    which reports a broken dump as usual.
    """
    index = index_path_for(path)
    if index is None:
        return []
    try:
        offsets = read_multistream_index(index)
        site = read_siteinfo(path)
        with _open_raw(path) as f:
            size = f.seek(0, 2)
        spans = plan_ranges(offsets, size, streams_per_range)
    except Exception as e:  # any failure (e.g. gs NotFound): read it whole
        logging.getLogger(__name__).warning("reading %s whole, not by ranges: %r", path, e)
        return []
    if not spans:
        return []
    count(INPUT_FILES)
    return [StreamRange(path, a, b, site, b == size) for a, b in spans]


def read_range(rng: StreamRange, cfg: ReaderConfig, count: Count) -> Iterator[RawDoc | Rejected]:
    """One multistream range -> RawDocs and dead letters: wiki_xml.read_range_pages
    over this module's page events (what lies outside pages is judged in _page_events)."""
    return read_range_pages(rng, _page_events(rng, cfg), cfg=cfg, count=count)


def _page_events(rng: StreamRange, cfg: ReaderConfig) -> Iterator[tuple[str, bytes]]:
    with _open_raw(rng.path) as f:
        stream = cast(BinaryIO, ChunkStream(iter_streams(f, rng.start, rng.end)))
        for kind, data in split_pages(stream, cfg.max_record_bytes):
            if kind == "header":  # before the range's first page: whitespace, or the
                if not data.strip() or b"<mediawiki" in data:  # dump header at offset 0
                    continue
                kind = "stray"
            elif kind == "no_end":
                if rng.last:
                    raise FileRejected("truncated_file", "no </mediawiki> in the last range")
                continue
            elif kind == "truncated":
                raise FileRejected("truncated_range", "range ends inside a page")
            yield kind, data


__all__ = [
    "FAILED_RANGES",
    "StreamRange",
    "expand_multistream",
    "index_path_for",
    "iter_streams",
    "plan_ranges",
    "read_multistream_index",
    "read_range",
    "read_siteinfo",
]
