"""A local stand-in for the internet: an HTTP server on 127.0.0.1 serving the sample data laid out
as on dumps.wikimedia.org, gutenberg.org, GitHub raw and ftp.uniprot.org (``MIRROR/HOST/PATH``,
see pipeline/catalog.py), with Range support and connections cut midway on request."""

from __future__ import annotations

import bz2
import functools
import gzip
import hashlib
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

from pipeline import catalog

# Gutenberg id -> the sample file holding that book (../shared/data/SOURCES.md).
BOOK_FILES = {
    11: "11-0.txt",
    1952: "1952-0.txt",
    41: "41-0.txt",
    844: "pg844.txt",
    43: "43-0.txt",
    46: "46-0.txt",
    35: "35-0.txt",
    1080: "pg1080.txt",
    4791: "fr_Voyage-au-Centre-de-la-Terre-.txt",
}
EN_WIKI = "wiki/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
WIKI_PARTS = ("p1p41242", "p41243p151573")
DUMP_DATE = "20990101"  # two parts, as a big wiki is published


class MirrorHandler(http.server.SimpleHTTPRequestHandler):
    """Static files plus ``Range: bytes=N-``; a path in ``cut`` is cut off halfway once."""

    cut: set[str] = set()
    ranges: list[tuple[str, int]] = []

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def send_head(self):
        path = self.translate_path(self.path)
        header = self.headers.get("Range", "")
        if not os.path.isfile(path) or (not header and self.path not in self.cut):
            return super().send_head()
        f = open(path, "rb")  # noqa: SIM115 - closed by the base class or below
        size = f.seek(0, 2)
        start = int(header[len("bytes=") : -1]) if header else 0
        f.seek(start)
        self.send_response(206 if header else 200)
        if header:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            type(self).ranges.append((self.path, start))
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        if self.path in self.cut:  # send half, then drop the connection
            self.cut.discard(self.path)
            self.wfile.write(f.read((size - start) // 2))
            f.close()
            self.close_connection = True
            return None
        return f


def serve(root: Path):
    """(server, base URL); call server.shutdown() when done."""
    handler = functools.partial(MirrorHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _place(root: Path, url: str, data: bytes) -> Path:
    path = root / url.split("://", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _first_pages(xml: bytes, n: int) -> bytes:
    """The dump's header, its first ``n`` pages and its closing tag."""
    ends = [m.end() for m in re.finditer(rb"</page>\s*\n", xml)]
    return xml[: ends[n - 1]] + b"</mediawiki>\n"


def build_wiki(root: Path, shared: Path, pages: int) -> None:
    """enwiki dated DUMP_DATE as two multistream parts (real streams and index), with
    ``latest/enwiki-latest-sha1sums.txt`` listing their dated names, as Wikimedia does."""
    from tests.test_multistream import build_multistream

    xml = _first_pages(bz2.decompress((shared / EN_WIKI).read_bytes()), pages)
    folder = f"{catalog.WIKIMEDIA}/enwiki/{DUMP_DATE}"
    sums = []
    for n, span in enumerate(WIKI_PARTS, 1):
        ms = build_multistream(xml, root / "tmp_ms", pages_per_stream=10)
        names = (
            f"enwiki-{DUMP_DATE}-pages-articles-multistream{n}.xml-{span}.bz2",
            f"enwiki-{DUMP_DATE}-pages-articles-multistream-index{n}.txt-{span}.bz2",
        )
        blobs = (ms.dump.read_bytes(), bz2.compress(ms.index_text.encode()))
        for name, blob in zip(names, blobs, strict=True):
            _place(root, f"{folder}/{name}", blob)
            sums.append(f"{hashlib.sha1(blob).hexdigest()}  {name}\n")
    shutil.rmtree(root / "tmp_ms")
    _place(root, f"{folder}/enwiki-{DUMP_DATE}-sha1sums.txt", "".join(sums).encode())
    latest = f"{catalog.WIKIMEDIA}/enwiki/latest/enwiki-latest-sha1sums.txt"
    _place(root, latest, "".join(sums).encode())


def build_mirror(root: Path, shared: Path, *, wiki_pages: int = 30) -> Path:
    """Lay the sample data out under ``root`` as ``pipeline.catalog`` expects to find it."""
    build_wiki(root, shared, wiki_pages)
    for book_id, name in BOOK_FILES.items():
        url = f"{catalog.GUTENBERG}/{book_id}/pg{book_id}.txt"
        _place(root, url, (shared / "books" / name).read_bytes())
    _place(root, catalog.BERT_SAMPLE, (shared / "bert" / "sample_text.txt").read_bytes())
    _place(root, catalog.UDHR_ZIP, (shared / "multilingual" / "udhr2.zip").read_bytes())
    fasta = gzip.compress((shared / "protein" / "mmseqs2_QUERY_uniprot500.fasta").read_bytes())
    path = _place(root, catalog.UNIPROT["sprot"], fasta)
    md5 = hashlib.md5(fasta).hexdigest()
    (path.parent / "RELEASE.metalink").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<metalink xmlns="http://www.metalinker.org/" version="3.0"><files>'
        f'<file name="{path.name}"><size>{len(fasta)}</size>'
        f'<verification><hash type="md5">{md5}</hash></verification></file>'
        "</files></metalink>\n"
    )
    return root
