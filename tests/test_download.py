"""pipeline.download against a local HTTP server laid out like dumps.wikimedia.org."""

from __future__ import annotations

import bz2
import functools
import hashlib
import http.server
import os
import re
import shutil
import threading

import pytest

from pipeline import catalog
from pipeline.catalog import Options, fetch_input, rebase
from pipeline.download import run
from pipeline.fetch import DownloadError, WikiDump, download, download_wiki, expected_sha1
from tests.mirror import MirrorHandler, build_mirror, serve
from transforms.read.multistream import index_path_for

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


# --- every recipe source, from a local mirror of the real sites (tests/mirror.py) ---


@pytest.fixture(scope="module")
def site(shared_data, tmp_path_factory):
    """(base URL, mirror root) serving the sample data as dumps/gutenberg/uniprot lay it out."""
    root = build_mirror(tmp_path_factory.mktemp("site"), shared_data)
    server, base = serve(root)
    yield base, root
    server.shutdown()


def test_cut_connection_resumes_within_one_download(site, tmp_path):
    base, root = site
    url = rebase(catalog.UNIPROT["sprot"], base)
    path = url.split(base, 1)[1]
    MirrorHandler.ranges.clear()
    MirrorHandler.cut.add(path)
    got = download(url, str(tmp_path / "sprot.fasta.gz"))
    size = (root / path.lstrip("/")).stat().st_size
    assert MirrorHandler.ranges == [(path, size // 2)]  # reconnected once, for the tail only
    assert open(got, "rb").read() == (root / path.lstrip("/")).read_bytes()


def test_wiki_parts_come_with_their_index_under_readable_names(site, tmp_path):
    base, _ = site
    paths = fetch_input("wiki_en", str(tmp_path), Options(mirror=base, wiki_parts=1))
    names = sorted(os.path.basename(p) for p in paths)
    assert names == [
        "enwiki-20990101-p1p41242-pages-articles-multistream-index.txt.bz2",
        "enwiki-20990101-p1p41242-pages-articles-multistream.xml.bz2",
    ]  # only part 1; the index lies where pipeline.clean looks for it
    dump = [p for p in paths if p.endswith(".xml.bz2")][0]
    assert index_path_for(dump) == [p for p in paths if "index" in p][0]
    everything = fetch_input("wiki_en", str(tmp_path / "all"), Options(mirror=base, wiki_parts=0))
    assert len(everything) == 4


def test_recipe_sources_are_verified_and_laid_out_like_the_sample_data(site, tmp_path):
    base, _ = site
    out = tmp_path / "raw"
    for name in ("books", "sample", "udhr", "protein"):
        fetch_input(name, str(out), Options(mirror=base, books=(1952, 1080)))
    assert sorted(p.name for p in (out / "books").iterdir()) == ["pg1080.txt", "pg1952.txt"]
    assert len(list((out / "multilingual" / "udhr2").glob("*.txt"))) == len(catalog.UDHR_LANGS)
    assert (out / "bert" / "sample_text.txt").stat().st_size == 4394
    assert (out / "protein" / "uniprot_sprot.fasta.gz").exists()


def test_checksum_mismatch_is_a_one_line_error(site, tmp_path):
    base, root = site
    metalink = root / catalog.UNIPROT["sprot"].split("://", 1)[1]
    metalink = metalink.parent / "RELEASE.metalink"
    good = metalink.read_text()
    metalink.write_text(re.sub(r">[0-9a-f]{32}<", ">" + "0" * 32 + "<", good))
    try:
        with pytest.raises(SystemExit) as exc:
            run(["--recipe", "protein", "--output", str(tmp_path), "--mirror", base])
    finally:
        metalink.write_text(good)
    message = str(exc.value)
    assert "\n" not in message and "md5" in message and "does not match published" in message
    assert not list(tmp_path.rglob("*.fasta.gz*"))  # nothing half-verified is left behind


def test_latest_listing_names_dated_files(site):
    """latest/enwiki-latest-sha1sums.txt lists dated names for the files latest/ aliases."""
    base, root = site
    dump = WikiDump("en", base_url=f"{base}/dumps.wikimedia.org")
    name = "enwiki-latest-pages-articles-multistream1.xml-p1p41242.bz2"
    dated = root / "dumps.wikimedia.org/enwiki/20990101" / name.replace("latest", "20990101")
    assert expected_sha1(dump, name) == hashlib.sha1(dated.read_bytes()).hexdigest()
