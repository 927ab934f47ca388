"""A MediaWiki XML dump's byte stream -> header, page fragments and what is wrong between them.

The stream is cut into ``<page>...</page>`` fragments as it arrives, so memory stays at one page
(at most ``max_page_bytes``) and ``wiki_xml`` parses each fragment on its own. Page markup is
escaped inside ``<text>``, so a literal ``<page>`` can only be a page boundary. Used by the
whole-dump reader (``wiki_xml``) and the multistream range reader.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from transforms.read.textlines import FileRejected

_OPEN, _CLOSE, _END = b"<page>", b"</page>", b"</mediawiki>"
_HEADER_CAP = 1 << 26  # bytes before the first <page>
_GAP_CAP = 1 << 20  # bytes between pages held while waiting for the next <page>
_CHUNK = 1 << 20  # bytes per read
_EXCERPT = 2000  # bytes of a page over the limit kept for its dead letter
# The tags as regexes: a dump's "<" is rare (markup inside <text> is escaped), and the regex
# engine skips to the next "<" twice as fast as bytes.find looks for the whole tag.
_OPEN_TAG, _CLOSE_TAG = re.compile(re.escape(_OPEN)), re.compile(re.escape(_CLOSE))


@dataclass
class _SplitState:
    """Where ``split_pages`` stands between two reads."""

    limit: int  # largest page in bytes, 0: no limit
    header_cap: int
    header_done: bool = False
    skipping: bool = False  # inside a page over the limit: discard up to its </page>
    ended: bool = False  # </mediawiki> seen


def split_pages(stream: BinaryIO, max_page_bytes: int | None) -> Iterator[tuple[str, bytes]]:
    """Cut a dump into events: ("header", bytes before the first page), ("page", fragment),
    ("too_large", first bytes of a page over the limit), ("unclosed", a page with no
    ``</page>`` before the next ``<page>``), ("stray", non-space bytes between pages),
    ("truncated", start of the page the stream ended inside), ("no_end", b"") when the
    stream ends without ``</mediawiki>``."""
    limit = max_page_bytes or 0
    state = _SplitState(limit=limit, header_cap=limit or _HEADER_CAP)
    buf, eof = b"", False
    while not eof:
        chunk = stream.read(_CHUNK)
        eof = not chunk
        buf += chunk
        if not state.header_done and (head := buf.lstrip()) and not head.startswith(b"<"):
            raise FileRejected("not_xml", f"starts with {head[:40]!r}")
        pos = yield from _scan(buf, eof, state)
        buf = buf[pos:]
    if not state.ended:
        yield "no_end", b""


def _scan(buf: bytes, eof: bool, st: _SplitState) -> Generator[tuple[str, bytes], None, int]:
    """The events of ``buf`` up to the first incomplete page; returns where to resume."""
    pos = 0
    while True:
        if st.skipping:
            end = _find(_CLOSE_TAG, buf, pos)
            if end < 0:
                return max(pos, len(buf) - len(_CLOSE))
            pos, st.skipping = end + len(_CLOSE), False
            continue
        start = _find(_OPEN_TAG, buf, pos)
        gap = buf[pos:] if start < 0 else buf[pos:start]
        if start < 0 and not eof:  # wait for the next page to start
            if len(gap) > (st.header_cap if not st.header_done else _GAP_CAP):
                if not st.header_done:
                    raise FileRejected("not_mediawiki_xml", f"no <page> in {len(gap)} B")
                yield "stray", gap
                pos = len(buf) - len(_OPEN)
            return pos
        yield from _gap_events(gap, st)
        if start < 0:
            return len(buf)
        end = _find(_CLOSE_TAG, buf, start)
        if end < 0:
            return (yield from _open_page(buf, start, eof, st))
        nxt = _find(_OPEN_TAG, buf, start + len(_OPEN), end)
        if nxt >= 0:
            yield "unclosed", buf[start:nxt]
            pos = nxt
            continue
        end += len(_CLOSE)
        if st.limit and end - start > st.limit:
            yield "too_large", buf[start : start + _EXCERPT]
        else:
            yield "page", buf[start:end]
        pos = end


def _find(tag: re.Pattern[bytes], buf: bytes, start: int, end: int | None = None) -> int:
    """``buf.find(tag, start, end)``."""
    m = tag.search(buf, start, len(buf) if end is None else end)
    return m.start() if m else -1


def _gap_events(gap: bytes, st: _SplitState) -> Iterator[tuple[str, bytes]]:
    """The bytes before a page: the header the first time, later a stray event if not blank."""
    if not st.header_done:
        st.header_done, st.ended = True, _END in gap
        yield "header", gap
        return
    st.ended = st.ended or _END in gap
    if gap.replace(_END, b"").strip():
        yield "stray", gap


def _open_page(
    buf: bytes, start: int, eof: bool, st: _SplitState
) -> Generator[tuple[str, bytes], None, int]:
    """A page whose </page> is not in ``buf`` yet: too large, truncated, or wait for more."""
    if st.limit and len(buf) - start > st.limit:
        yield "too_large", buf[start : start + _EXCERPT]
        st.skipping = True
        return len(buf) - len(_CLOSE)
    if eof:
        yield "truncated", buf[start : start + _EXCERPT]
        return len(buf)
    return start
