"""Download raw corpora (Wikipedia dumps) with checksum verification and resume.

    python -m pipeline.download --wiki ja --output data/raw [--date 20230501]
        [--base_url https://dumps.wikimedia.org] [--dump pages-articles]

Wikimedia publishes ``<db>-<date>-sha1sums.txt`` beside each dump; the file is verified
against it. An interrupted download resumes with an HTTP Range request. The cleaning job can
also stream a dump straight from its URL (smart_open); downloading first pays off when several
jobs read the same dump.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass

DEFAULT_BASE_URL = "https://dumps.wikimedia.org"
CHUNK = 1 << 20


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


def expected_sha1(dump: WikiDump, filename: str | None = None) -> str | None:
    """A dump file's sha1 from the sha1sums file, or None if the mirror publishes none."""
    filename = filename or dump.filename
    try:
        with _open(dump.checksum_url) as response:
            listing = response.read().decode("utf-8", "replace")
    except DownloadError:
        return None
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == filename:
            return parts[0].lower()
    raise DownloadError(f"{dump.checksum_url}: no entry for {filename}")


def sha1_of(path: str) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, path: str, *, sha1: str | None = None) -> str:
    """Fetch ``url`` to ``path`` (resuming ``path + '.part'``), verify ``sha1``, return path."""
    if os.path.exists(path) and (sha1 is None or sha1_of(path) == sha1):
        return path
    part = path + ".part"
    have = os.path.getsize(part) if os.path.exists(part) else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with _open(url, headers) as response:
        resumed = have and response.status == 206
        with open(part, "ab" if resumed else "wb") as out:
            while chunk := response.read(CHUNK):
                out.write(chunk)
    if sha1 is not None:
        actual = sha1_of(part)
        if actual != sha1:
            os.remove(part)
            raise DownloadError(f"{url}: sha1 {actual} does not match published {sha1}")
    os.replace(part, path)
    return path


def download_wiki(dump: WikiDump, output_dir: str) -> str:
    """Download the dump (and a multistream dump's index) into ``output_dir``; the dump path."""
    os.makedirs(output_dir, exist_ok=True)
    for filename in dump.filenames:
        path = os.path.join(output_dir, filename)
        download(dump.url_of(filename), path, sha1=expected_sha1(dump, filename))
    return os.path.join(output_dir, dump.filename)


def run(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wiki", required=True, help="Wikipedia language code, e.g. en, ja, uk")
    parser.add_argument("--output", required=True, help="folder to write the dump to")
    parser.add_argument("--date", default="latest", help="dump date YYYYMMDD or 'latest'")
    parser.add_argument(
        "--dump",
        default="pages-articles",
        help="dump kind; pages-articles-multistream also fetches its index, so that "
        "pipeline.clean reads the dump with many workers",
    )
    parser.add_argument("--base_url", default=DEFAULT_BASE_URL, help="dumps mirror")
    args = parser.parse_args(argv)
    dump = WikiDump(args.wiki, args.date, args.dump, args.base_url)
    try:
        path = download_wiki(dump, args.output)
    except DownloadError as exc:
        sys.exit(f"download failed: {exc}")
    print(path)
    return path


if __name__ == "__main__":
    run()
