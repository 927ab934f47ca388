"""Opening one source file: smart_open (any URI, decompressed by extension), BOM and UTF-16
sniffing, and the errors a bad stream raises, named as dead-letter reasons."""

from __future__ import annotations

import codecs
import io
import lzma
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from transforms.read.textlines import FileRejected

INPUT_FILES = "input_files"
FAILED_FILES = "failed_files"
FILE_RECORD_ID = "<file>"  # record_id of a file-level dead letter
_HEAD_BYTES = 1 << 16
_READ_BYTES = 1 << 16


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


def stream_error_reason(error: BaseException) -> str:
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


def stream_errors() -> tuple[type[BaseException], ...]:
    """What a bad stream raises: truncation (EOFError), I/O and codec errors."""
    import zstandard

    return (EOFError, OSError, ValueError, lzma.LZMAError, zlib.error, zstandard.ZstdError)


def read_errors() -> tuple[type[BaseException], ...]:
    """What reading a file or a byte range raises for bad input: FileRejected (not its source
    type) and the stream errors."""
    return (FileRejected, *stream_errors())


def read_failure(error: BaseException) -> tuple[str, str]:
    """(dead-letter reason, detail) of one of ``read_errors()``."""
    if isinstance(error, FileRejected):
        return error.reason, error.detail
    return stream_error_reason(error), f"{type(error).__name__}: {error}"
