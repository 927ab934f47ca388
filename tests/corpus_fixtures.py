"""Cleaned-document shard sets built from ../shared/data, for jobs that read DOCUMENT_SCHEMA.

Stand-ins for the cleaning job's output, so later stages are testable on real text without it.
Readers are deliberately simple: no markup removal, only splitting into docs/paragraphs.

    docs = udhr_docs(shared_data, langs=["eng", "jpn"]) + tatoeba_docs(shared_data)
    write_doc_shard_set(tmp_path / "clean", docs)
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from schemas.document import DOCUMENT_SCHEMA, Doc
from schemas.hashing import bucket_of
from schemas.shards import build_manifest, write_manifest, write_shard

# UDHR file stem -> language code (ISO 639-3; script variants share the language).
UDHR_LANG = {"cmn_hans": "cmn", "cmn_hant": "cmn", "ell_monotonic": "ell", "pes_1": "pes"}
ENGLISH_BOOKS = ("11-0", "1952-0", "35-0", "41-0", "43-0", "46-0", "pg1080", "pg844")


def write_doc_shard_set(directory: str | os.PathLike, docs: Iterable[Doc], num_shards: int = 2):
    """Write ``docs`` as a DOCUMENT_SCHEMA shard set (stable doc -> shard assignment)."""
    directory = str(directory)
    by_shard: list[list[dict]] = [[] for _ in range(num_shards)]
    for doc in sorted(docs, key=lambda d: d.doc_id):
        by_shard[bucket_of(doc.doc_id, num_shards)].append(doc.to_row())
    infos = [
        write_shard(directory, f"docs-{i:05d}", rows, schema=DOCUMENT_SCHEMA)
        for i, rows in enumerate(by_shard)
    ]
    write_manifest(
        directory, build_manifest(infos, schema=DOCUMENT_SCHEMA, created_by="tests.corpus_fixtures")
    )
    return directory


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def udhr_docs(shared_data: Path, langs: Iterable[str] | None = None, lines_per_doc: int = 4):
    """UDHR files -> Docs of ``lines_per_doc`` non-empty lines (each line one paragraph)."""
    folder = Path(shared_data) / "multilingual" / "udhr2"
    stems = sorted(p.stem for p in folder.glob("*.txt"))
    docs = []
    for stem in stems if langs is None else [s for s in stems if s in set(langs)]:
        path = folder / f"{stem}.txt"
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
        lines = [ln for ln in lines if ln]
        for i, chunk in enumerate(_chunks(lines, lines_per_doc)):
            docs.append(
                Doc(
                    doc_id=f"text:udhr-{stem}:{i:04d}",
                    source="text",
                    lang=UDHR_LANG.get(stem, stem),
                    paragraphs=tuple((line,) for line in chunk),
                    title="Universal Declaration of Human Rights",
                    source_file=str(path),
                    metadata={"udhr_file": stem},
                )
            )
    return docs


def tatoeba_docs(shared_data: Path) -> list[Doc]:
    """Tatoeba TSV rows (id, lang, sentence) -> one single-sentence Doc each; ``\\N`` -> und."""
    path = Path(shared_data) / "multilingual" / "tatoeba_nonascii_CC0_sample.tsv"
    docs = []
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) != 3 or not row[2].strip():
                continue
            sid, lang, sentence = row
            docs.append(
                Doc(
                    doc_id=f"text:tatoeba:{sid}",
                    source="text",
                    lang="und" if lang == "\\N" else lang,
                    paragraphs=((sentence.strip(),),),
                    source_file=str(path),
                    metadata={"tatoeba_id": sid},
                )
            )
    return docs


def sample_text_docs(shared_data: Path) -> list[Doc]:
    """BERT's sample_text.txt: blank-line separated documents, one sentence per line."""
    path = Path(shared_data) / "bert" / "sample_text.txt"
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    docs = []
    for i, block in enumerate(blocks):
        sentences = tuple(ln.strip() for ln in block.splitlines() if ln.strip())
        if sentences:
            docs.append(
                Doc(f"text:sample_text:{i:03d}", "text", "en", (sentences,), source_file=str(path))
            )
    return docs


def gutenberg_body(path: Path) -> str:
    """A Project Gutenberg file's text between its START and END markers."""
    text = Path(path).read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if re.match(r"\*\*\* ?START OF", ln)), -1)
    end = next((i for i, ln in enumerate(lines) if re.match(r"\*\*\* ?END OF", ln)), len(lines))
    return "\n".join(lines[start + 1 : end])


def book_docs(shared_data: Path, paragraphs_per_doc: int = 40) -> list[Doc]:
    """Gutenberg books -> Docs of blank-line separated paragraphs (lines joined by spaces)."""
    docs = []
    for path in sorted((Path(shared_data) / "books").glob("*.txt")):
        lang = "fr" if path.name.startswith("fr_") else "en"
        paragraphs = [" ".join(p.split()) for p in gutenberg_body(path).split("\n\n") if p.strip()]
        for i, chunk in enumerate(_chunks(paragraphs, paragraphs_per_doc)):
            docs.append(
                Doc(
                    doc_id=f"books:{path.stem}:{i:04d}",
                    source="books",
                    lang=lang,
                    paragraphs=tuple((p,) for p in chunk),
                    source_file=str(path),
                )
            )
    return docs


def english_texts(shared_data: Path) -> dict[str, list[str]]:
    """Every English text in shared data, by name -> lines (for tokenizer comparisons)."""
    data = Path(shared_data)
    out = {"bert_sample_text": (data / "bert" / "sample_text.txt").read_text("utf-8").splitlines()}
    for stem in ENGLISH_BOOKS:
        out[f"book_{stem}"] = gutenberg_body(data / "books" / f"{stem}.txt").splitlines()
    out["udhr_eng"] = (data / "multilingual" / "udhr2" / "eng.txt").read_text("utf-8").splitlines()
    sst = (data / "eval" / "sst2" / "sst2_glue_dev.tsv").read_text("utf-8").splitlines()[1:]
    out["sst2"] = [ln.rsplit("\t", 1)[0] for ln in sst]
    for name in ("pos", "neg"):
        path = data / "eval" / "sentiment_rt_polarity" / f"rt-polarity.{name}"
        out[f"rt_polarity_{name}"] = path.read_text("utf-8").splitlines()
    conllu = (data / "eval" / "ud_english_ewt" / "en_ewt-ud-dev.conllu").read_text("utf-8")
    out["ud_english_ewt"] = [
        ln[len("# text = ") :] for ln in conllu.splitlines() if ln.startswith("# text = ")
    ]
    return out


def multilingual_texts(shared_data: Path) -> dict[str, list[str]]:
    """Non-English text by name -> lines: UDHR files, tatoeba, French book, UD multilingual."""
    data = Path(shared_data)
    out = {}
    for path in sorted((data / "multilingual" / "udhr2").glob("*.txt")):
        out[f"udhr_{path.stem}"] = path.read_text("utf-8").splitlines()
    out["tatoeba"] = [d.paragraphs[0][0] for d in tatoeba_docs(data)]
    out["book_fr"] = gutenberg_body(
        data / "books" / "fr_Voyage-au-Centre-de-la-Terre-.txt"
    ).splitlines()
    for path in sorted((data / "eval" / "ud_multilingual").glob("*.conllu")):
        text = path.read_text("utf-8")
        out[f"ud_{path.stem}"] = [
            ln[len("# text = ") :] for ln in text.splitlines() if ln.startswith("# text = ")
        ]
    return out


def ud_docs(shared_data: Path, sentences_per_doc: int = 5) -> list[Doc]:
    """UD multilingual dev sets (ja, zh, ru, fr; ``# text`` lines) -> Docs of N sentences."""
    docs = []
    for path in sorted((Path(shared_data) / "eval" / "ud_multilingual").glob("*.conllu")):
        lang = path.stem.split("_")[0]
        lines = path.read_text("utf-8").splitlines()
        sentences = [ln[len("# text = ") :] for ln in lines if ln.startswith("# text = ")]
        for i, chunk in enumerate(_chunks(sentences, sentences_per_doc)):
            docs.append(
                Doc(
                    f"text:ud-{path.stem}:{i:04d}",
                    "text",
                    lang,
                    (tuple(chunk),),
                    source_file=str(path),
                )
            )
    return docs


def protein_docs(shared_data: Path, name: str = "mmseqs2_QUERY_uniprot500.fasta") -> list[Doc]:
    """A FASTA file -> one Doc per sequence (a single paragraph holding the sequence)."""
    path = Path(shared_data) / "protein" / name
    docs, header, seq = [], None, []

    def flush() -> None:
        if header is not None and seq:
            accession = header.split()[0]
            docs.append(
                Doc(
                    f"protein:{path.stem}:{accession}",
                    "protein",
                    "und",
                    (("".join(seq),),),
                    title=header,
                    source_file=str(path),
                )
            )

    for line in path.read_text("utf-8").splitlines():
        if line.startswith(">"):
            flush()
            header, seq = line[1:].strip(), []
        elif line.strip():
            seq.append(line.strip())
    flush()
    return docs


def joined_words(text: str, *, lowercase: bool) -> str:
    """What a BERT tokenizer decodes ``text`` back to: its pre-tokenised words joined by spaces."""
    from transforms.vocab.pretokenize import pretokenize

    return " ".join(pretokenize(text, lowercase=lowercase))
