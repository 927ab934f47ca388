"""Where each ``pipeline.corpus`` recipe input comes from on the internet, and how it is checked.

Every input of a recipe (pipeline.recipes.RECIPES) names the real public files it is built
from, laid out under the data folder exactly as the recipe's glob expects, so a downloaded
``data/raw`` and the repository's sample ``../shared/data`` are read the same way:

| input | files | checksum |
|---|---|---|
| ``wiki_<lang>`` | dumps.wikimedia.org ``pages-articles-multistream``: the first ``wiki_parts`` parts of a big wiki (hundreds of MB per part), the whole dump of a small one, each with its stream index | sha1 from the dump's ``sha1sums.txt`` |
| ``books`` | Project Gutenberg plain-text books by id (``pg<ID>.txt``, 0.04-0.5 MB each) | none published: the size is checked against Content-Length |
| ``sample`` | google-research/bert ``sample_text.txt`` at a pinned commit (4 KB) | pinned sha256 |
| ``udhr`` | nltk_data ``udhr2.zip`` at a pinned commit (1.6 MB), 22 languages extracted | pinned sha256 |
| ``tatoeba`` | Tatoeba per-language sentence exports (``<lang>_sentences.tsv.bz2``, a few MB) | none published: size only |
| ``protein`` | UniProt Swiss-Prot ``uniprot_sprot.fasta.gz`` (~90 MB) or UniRef50 (~12 GB) | md5 from UniProt's ``RELEASE.metalink`` |

``mirror`` replaces ``https://HOST/`` by ``MIRROR/HOST/`` in every URL (tests serve that layout
from 127.0.0.1; an organisation may keep such a mirror).
"""

from __future__ import annotations

import os
import re
import sys
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass

from pipeline.fetch import DownloadError, download, dump_date, fetch_text, parse_sha1sums
from pipeline.recipes import RECIPES

WIKIMEDIA = "https://dumps.wikimedia.org"
GUTENBERG = "https://www.gutenberg.org/cache/epub"
BERT_SAMPLE = (
    "https://raw.githubusercontent.com/google-research/bert/"
    "fe354751d7de010f60d362ae8d9343849ec39456/sample_text.txt"
)
BERT_SAMPLE_SHA256 = "5205aafa90afb0841b24b05cb461345e3692a85d8ea8027d8935af103fd5c613"
UDHR_ZIP = (
    "https://raw.githubusercontent.com/nltk/nltk_data/"
    "5d8fe95aee5ac9014f7b3924b32715ead288441c/packages/corpora/udhr2.zip"
)
UDHR_ZIP_SHA256 = "0796c314b09a930c989c6f9d93d226af9af13feccd88496e196c743dd266c7f3"
UDHR_LANGS = (
    "amh arb ben cmn_hans cmn_hant deu ell_monotonic eng fra heb hin jpn kor pes_1 rus spa "
    "tam tha tur ukr urd vie"
).split()
TATOEBA = "https://downloads.tatoeba.org/exports/per_language"
TATOEBA_LANGS = ("ukr", "bul", "jpn")
UNIPROT = {
    "sprot": "https://ftp.uniprot.org/pub/databases/uniprot/current_release/knowledgebase/"
    "complete/uniprot_sprot.fasta.gz",
    "uniref50": "https://ftp.uniprot.org/pub/databases/uniprot/uniref/uniref50/uniref50.fasta.gz",
}
# The books of the sample data (see ../shared/data/SOURCES.md), by Project Gutenberg id.
GUTENBERG_IDS = (11, 1952, 41, 844, 43, 46, 35, 1080, 4791)


@dataclass(frozen=True)
class Options:
    mirror: str | None = None
    wiki_parts: int = 1  # 0: every part
    date: str = "latest"
    books: tuple[int, ...] = GUTENBERG_IDS
    protein: str = "sprot"


@dataclass(frozen=True)
class RemoteFile:
    url: str
    path: str  # relative to the data folder
    checksum: tuple[str, str] | None  # (algorithm, hex digest); None: none published


def rebase(url: str, mirror: str | None) -> str:
    """https://HOST/PATH -> MIRROR/HOST/PATH (unchanged without a mirror)."""
    if not mirror:
        return url
    return mirror.rstrip("/") + "/" + url.split("://", 1)[1]


_PART = re.compile(r"-pages-articles-multistream(\d+)\.xml-(p\d+p\d+)\.bz2$")


def wiki_files(lang: str, opts: Options) -> list[RemoteFile]:
    """A language's multistream dump, or its first ``wiki_parts`` parts, each with its index.

    Parts are saved as ``<db>-<date>-<pages>-pages-articles-multistream.xml.bz2`` so the
    index lies beside each under the name pipeline.clean looks for."""
    db = f"{lang.replace('-', '_')}wiki"
    sums_url = rebase(f"{WIKIMEDIA}/{db}/{opts.date}/{db}-{opts.date}-sha1sums.txt", opts.mirror)
    sums = parse_sha1sums(fetch_text(sums_url))
    # "latest" resolves to the dated dump its listing names; its dated folder holds the files.
    date = dump_date(sums, db) or opts.date
    folder = f"{WIKIMEDIA}/{db}/{date}"
    parts = sorted(
        (int(m.group(1)), name, m.group(2))
        for name in sums
        if (m := _PART.search(name)) and name.startswith(f"{db}-{date}-")
    )
    if opts.wiki_parts:
        parts = parts[: opts.wiki_parts]
    pairs = [(f"{db}-{date}-pages-articles-multistream", "", "")] if not parts else []
    pairs += [(f"{db}-{date}-pages-articles-multistream", f"{n}", f"-{p}") for n, _, p in parts]
    out = []
    for stem, n, pages in pairs:
        remote_dump = f"{stem}{n}.xml{pages}.bz2" if n else f"{stem}.xml.bz2"
        remote_index = f"{stem}-index{n}.txt{pages}.bz2" if n else f"{stem}-index.txt.bz2"
        local = f"wiki/{db}-{date}{pages}-pages-articles-multistream"
        for remote, local_name in ((remote_dump, f"{local}.xml.bz2"),
                                   (remote_index, f"{local}-index.txt.bz2")):  # fmt: skip
            if remote not in sums:
                raise DownloadError(f"{sums_url}: no entry for {remote}")
            out.append(RemoteFile(f"{folder}/{remote}", local_name, ("sha1", sums[remote])))
    return out


def metalink_md5(url: str, filename: str) -> str:
    """The md5 a UniProt ``RELEASE.metalink`` publishes for ``filename``."""
    root = ET.fromstring(fetch_text(url))
    for node in root.iter():
        if node.tag.rsplit("}", 1)[-1] == "file" and node.get("name") == filename:
            for hash_node in node.iter():
                if hash_node.tag.rsplit("}", 1)[-1] == "hash" and hash_node.get("type") == "md5":
                    return (hash_node.text or "").strip().lower()
    raise DownloadError(f"{url}: no md5 for {filename}")


def protein_files(opts: Options) -> list[RemoteFile]:
    url = UNIPROT[opts.protein]
    folder, name = url.rsplit("/", 1)
    md5 = metalink_md5(rebase(f"{folder}/RELEASE.metalink", opts.mirror), name)
    return [RemoteFile(url, f"protein/{name}", ("md5", md5))]


def input_files(name: str, opts: Options) -> list[RemoteFile]:
    """The remote files of one recipe input (pipeline.corpus.Input.name)."""
    if name.startswith("wiki_"):
        return wiki_files(name.removeprefix("wiki_"), opts)
    if name == "books":
        return [
            RemoteFile(f"{GUTENBERG}/{i}/pg{i}.txt", f"books/pg{i}.txt", None) for i in opts.books
        ]
    if name == "sample":
        return [RemoteFile(BERT_SAMPLE, "bert/sample_text.txt", ("sha256", BERT_SAMPLE_SHA256))]
    if name == "udhr":
        return [RemoteFile(UDHR_ZIP, "multilingual/udhr2.zip", ("sha256", UDHR_ZIP_SHA256))]
    if name == "tatoeba":
        return [
            RemoteFile(
                f"{TATOEBA}/{lang}/{lang}_sentences.tsv.bz2",
                f"multilingual/tatoeba_{lang}_sentences.tsv.bz2",
                None,
            )  # fmt: skip
            for lang in TATOEBA_LANGS
        ]
    if name == "protein":
        return protein_files(opts)
    raise ValueError(f"no download known for recipe input {name!r}")


def extract_udhr(zip_path: str) -> None:
    """udhr2.zip -> multilingual/udhr2/<lang>.txt beside it, for the recipe's languages."""
    folder = os.path.join(os.path.dirname(zip_path), "udhr2")
    os.makedirs(folder, exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive:
        for lang in UDHR_LANGS:
            with open(os.path.join(folder, f"{lang}.txt"), "wb") as f:
                f.write(archive.read(f"udhr2/{lang}.txt"))


def fetch_input(name: str, data_dir: str, opts: Options) -> list[str]:
    """Download one recipe input into ``data_dir`` (cached: verified files are kept)."""
    paths = []
    for remote in input_files(name, opts):
        path = os.path.join(data_dir, remote.path)
        url = rebase(remote.url, opts.mirror)
        print(f"  {url}", file=sys.stderr, flush=True)
        paths.append(download(url, path, checksum=remote.checksum))
        if name == "udhr":
            extract_udhr(path)
    return paths


def fetch_recipe(recipe: str, data_dir: str, **options) -> list[str]:
    """Download every input of a pipeline.corpus recipe into ``data_dir``."""
    opts = Options(**{k: v for k, v in options.items() if v is not None})
    return [p for item in RECIPES[recipe] for p in fetch_input(item.name, data_dir, opts)]
