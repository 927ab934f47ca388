"""HTTP downloads that resume and verify: a cut connection reconnects with a Range request where
it stopped (the ``.part`` file is kept across runs), and every file is checked against its
published checksum before it takes its final name. Wikimedia dumps (WikiDump) name their sha1
in ``<db>-<date>-sha1sums.txt``. The command line is pipeline/download.py; what each corpus
recipe fetches is pipeline/catalog.py.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

DEFAULT_BASE_URL = "https://dumps.wikimedia.org"
CHUNK = 1 << 20
RETRIES = 5  # reconnects after a cut connection, each resuming where the last one stopped


class DownloadError(RuntimeError):
    pass


@dataclass(frozen=True)
class WikiDump:
    lang: str  # "en", "ja", "simple", ...
    date: str = "latest"  # "latest" or YYYYMMDD
    dump: str = "pages-articles"
    base_url: str = DEFAULT_BASE_URL

    @property
    def db(self) -> str:
        return f"{self.lang.replace('-', '_')}wiki"

    @property
    def filename(self) -> str:
        return f"{self.db}-{self.date}-{self.dump}.xml.bz2"

    @property
    def filenames(self) -> list[str]:
        """The dump, plus the stream index a multistream dump is read in parallel with."""
        if not self.dump.endswith("multistream"):
            return [self.filename]
        return [self.filename, f"{self.db}-{self.date}-{self.dump}-index.txt.bz2"]

    def url_of(self, filename: str) -> str:
        return f"{self.base_url.rstrip('/')}/{self.db}/{self.date}/{filename}"

    @property
    def url(self) -> str:
        return self.url_of(self.filename)

    @property
    def checksum_url(self) -> str:
        return (
            f"{self.base_url.rstrip('/')}/{self.db}/{self.date}/{self.db}-{self.date}-sha1sums.txt"
        )


def _open(url: str, headers: dict | None = None, timeout: float = 60.0):
    request = urllib.request.Request(
        url, headers={"User-Agent": "bertcorpus/0.1", **(headers or {})}
    )
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DownloadError(f"{url}: cannot connect ({exc.reason})") from exc


def fetch_text(url: str) -> str:
    """A small text file (checksum listing, metalink), whole."""
    with _open(url) as response:
        return response.read().decode("utf-8", "replace")


def parse_sha1sums(listing: str) -> dict[str, str]:
    """``<sha1>  <filename>`` lines -> {filename: sha1}."""
    out = {}
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[1]] = parts[0].lower()
    return out


def dump_date(sums: dict[str, str], db: str) -> str | None:
    """The YYYYMMDD a sha1sums listing names its files with. ``latest/<db>-latest-sha1sums.txt``
    lists the dated names (``enwiki-20260901-...``) of the files ``latest/`` aliases."""
    for name in sorted(sums):
        if m := re.match(rf"{re.escape(db)}-(\d{{8}})-", name):
            return m.group(1)
    return None


def expected_sha1(dump: WikiDump, filename: str | None = None) -> str | None:
    """A dump file's sha1 from the sha1sums file, or None if the mirror publishes none."""
    filename = filename or dump.filename
    try:
        sums = parse_sha1sums(fetch_text(dump.checksum_url))
    except DownloadError:
        return None
    date = dump_date(sums, dump.db)
    if dump.date == "latest" and date and filename not in sums:
        filename = filename.replace(f"{dump.db}-latest-", f"{dump.db}-{date}-", 1)
    if filename not in sums:
        raise DownloadError(f"{dump.checksum_url}: no entry for {filename}")
    return sums[filename]


def digest_of(path: str, algorithm: str = "sha1") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha1_of(path: str) -> str:
    return digest_of(path, "sha1")


def _total_size(response, have: int) -> int | None:
    """The whole file's size from Content-Range (a 206) or Content-Length (a 200)."""
    content_range = response.headers.get("Content-Range", "")
    if response.status == 206 and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _fetch_once(url: str, part: str) -> int | None:
    """Append to ``part`` from where it stops (Range); the file's full size if known."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        response = _open(url, headers)
    except DownloadError as exc:
        if have and "HTTP 416" in str(exc):
            return have  # the .part file is already whole (Range not satisfiable)
        raise
    with response:
        resumed = bool(have) and response.status == 206
        total = _total_size(response, have)
        with open(part, "ab" if resumed else "wb") as out:
            try:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
            except (http.client.IncompleteRead, ConnectionError, TimeoutError) as exc:
                if isinstance(exc, http.client.IncompleteRead):
                    out.write(exc.partial)
    return total


def _fetch_resuming(url: str, part: str) -> None:
    """Fetch ``url`` into ``part``; a connection cut before the end is resumed (Range)."""
    for _ in range(RETRIES + 1):
        total = _fetch_once(url, part)
        size = os.path.getsize(part)
        if total is None or size >= total:
            return
    raise DownloadError(f"{url}: connection kept closing; {size} of {total} bytes after retries")


def download(
    url: str, path: str, *, sha1: str | None = None, checksum: tuple[str, str] | None = None
) -> str:
    """Fetch ``url`` to ``path`` (resuming ``path + '.part'``), verify the checksum
    (``sha1``, or ``checksum`` = (algorithm, hex digest)), return ``path``."""
    if sha1 is not None:
        checksum = ("sha1", sha1)
    if os.path.exists(path) and (checksum is None or digest_of(path, checksum[0]) == checksum[1]):
        return path
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    part = path + ".part"
    _fetch_resuming(url, part)
    if checksum is not None:
        algorithm, want = checksum
        actual = digest_of(part, algorithm)
        if actual != want:
            os.remove(part)
            raise DownloadError(
                f"{url}: {algorithm} {actual} does not match published {want} (file removed)"
            )
    os.replace(part, path)
    return path


def download_wiki(dump: WikiDump, output_dir: str) -> str:
    """Download the dump (and a multistream dump's index) into ``output_dir``; the dump path."""
    os.makedirs(output_dir, exist_ok=True)
    for filename in dump.filenames:
        path = os.path.join(output_dir, filename)
        download(dump.url_of(filename), path, sha1=expected_sha1(dump, filename))
    return os.path.join(output_dir, dump.filename)
