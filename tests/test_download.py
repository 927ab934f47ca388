"""pipeline.download against a local HTTP server laid out like dumps.wikimedia.org."""

from __future__ import annotations

import bz2
import functools
import hashlib
import http.server
import shutil
import threading

import pytest

from pipeline.download import DownloadError, WikiDump, download, download_wiki, run

DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus single-range ``bytes=N-`` support, as real mirrors have."""

    ranges_served: list[int] = []

    def send_head(self):
        header = self.headers.get("Range", "")
        path = self.translate_path(self.path)
        if not header.startswith("bytes=") or not header.endswith("-"):
            return super().send_head()
        start = int(header[len("bytes=") : -1])
        f = open(path, "rb")  # noqa: SIM115 - closed by the base class after copyfile
        size = f.seek(0, 2)
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        type(self).ranges_served.append(start)
        return f


@pytest.fixture()
def mirror(tmp_path, shared_data):
    """Serve tmp_path/mirror as http://127.0.0.1:PORT with one real enwiki fragment."""
    root = tmp_path / "mirror"
    folder = root / "enwiki" / "20990101"
    folder.mkdir(parents=True)
    data = (shared_data / "wiki" / DUMP).read_bytes()
    target = folder / "enwiki-20990101-pages-articles.xml.bz2"
    target.write_bytes(data)
    sha1 = hashlib.sha1(data).hexdigest()
    (folder / "enwiki-20990101-sha1sums.txt").write_text(
        f"{sha1}  enwiki-20990101-pages-articles.xml.bz2\n0000  enwiki-20990101-other.xml.bz2\n"
    )
    handler = functools.partial(_RangeHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", target, sha1
    server.shutdown()


def test_wiki_dump_urls():
    dump = WikiDump("zh-yue", "20240101")
    assert dump.url == (
        "https://dumps.wikimedia.org/zh_yuewiki/20240101/zh_yuewiki-20240101-pages-articles.xml.bz2"
    )
    assert dump.checksum_url.endswith("/zh_yuewiki/20240101/zh_yuewiki-20240101-sha1sums.txt")


def test_download_verifies_sha1(mirror, tmp_path):
    base, target, sha1 = mirror
    path = run(
        ["--wiki", "en", "--date", "20990101", "--base_url", base, "--output", str(tmp_path / "o")]
    )
    assert open(path, "rb").read() == target.read_bytes()


def test_resume_from_partial_file(mirror, tmp_path):
    base, target, sha1 = mirror
    out = tmp_path / "o"
    out.mkdir()
    dest = out / target.name
    (out / (target.name + ".part")).write_bytes(target.read_bytes()[:100_000])
    url = f"{base}/enwiki/20990101/{target.name}"
    _RangeHandler.ranges_served.clear()
    assert download(url, str(dest), sha1=sha1) == str(dest)
    assert _RangeHandler.ranges_served == [100_000]  # only the missing tail was fetched
    assert dest.read_bytes() == target.read_bytes()


def test_corrupted_download_is_rejected(mirror, tmp_path):
    base, target, _ = mirror
    with pytest.raises(DownloadError, match="does not match published"):
        download(f"{base}/enwiki/20990101/{target.name}", str(tmp_path / "x.bz2"), sha1="00" * 20)
    assert not (tmp_path / "x.bz2").exists() and not (tmp_path / "x.bz2.part").exists()


def test_missing_dump_is_a_clear_error(mirror, tmp_path):
    base, _, _ = mirror
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_wiki(WikiDump("xx", "20990101", base_url=base), str(tmp_path))
    with pytest.raises(SystemExit, match="download failed: .*404"):
        run(["--wiki", "xx", "--base_url", base, "--output", str(tmp_path)])
    shutil.rmtree(tmp_path / "mirror", ignore_errors=True)


def test_multistream_dump_comes_with_its_index(mirror, tmp_path):
    base, target, _ = mirror
    folder = target.parent
    dump = folder / "enwiki-20990101-pages-articles-multistream.xml.bz2"
    index = folder / "enwiki-20990101-pages-articles-multistream-index.txt.bz2"
    dump.write_bytes(target.read_bytes())
    index.write_bytes(bz2.compress(b"0:10:AccessibleComputing\n"))
    sums = folder / "enwiki-20990101-sha1sums.txt"
    sums.write_text(
        sums.read_text()
        + f"{hashlib.sha1(dump.read_bytes()).hexdigest()}  {dump.name}\n"
        + f"{hashlib.sha1(index.read_bytes()).hexdigest()}  {index.name}\n"
    )
    got = download_wiki(
        WikiDump("en", "20990101", "pages-articles-multistream", base), str(tmp_path / "o")
    )
    assert got == str(tmp_path / "o" / dump.name)
    assert (tmp_path / "o" / index.name).read_bytes() == index.read_bytes()
