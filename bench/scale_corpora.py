"""The replicated corpora of ``bench/bench_scale.py``, built once per size under its work folder
(what each holds: that module's docstring), and the fixed tokenizer its shards runs use."""

from __future__ import annotations

import bz2
import functools
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

from bench.bench_pack import VOCAB, WIKI_EN

REPO = Path(__file__).resolve().parent.parent
SEED = 0
_PAGE_ID = re.compile(rb"(<page>.*?<id>)(\d+)(</id>)", re.S)


def _python(repo: Path, code: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(repo), "RAYON_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=repo, env=env, capture_output=True, text=True
    )
    if proc.returncode:
        raise RuntimeError(f"{code[:60]!r} failed: {proc.stderr[-3000:]}")
    return proc.stdout


# --- -----------------------------------------------------------------------------------

_BASE_DOCS = """
import json, sys
from pipeline.clean import run
for argv in json.loads(sys.argv[1]):
    run(argv)
"""


def base_docs(data: Path, work: Path, repo: Path) -> list[str]:
    """Cleaned-document shard sets of every wiki dump and the books (pipeline.clean, once)."""
    jobs = {
        f"wiki_{p.name.split('wiki')[0]}": ["--source", "wiki", "--input", str(p)]
        for p in sorted((data / "wiki").glob("*wiki-*.bz2"))
        if "table-markup" not in p.name
    }
    jobs["books"] = ["--source", "books", "--input", str(data / "books" / "*.txt")]
    outs = [work / "base" / name for name in jobs]
    if not all((o / "manifest.json").exists() for o in outs):
        argvs = [[*a, "--output", str(o)] for a, o in zip(jobs.values(), outs, strict=True)]
        _python(repo, _BASE_DOCS, json.dumps(argvs))
    return [str(o) for o in outs]


_REPLICATE = """
import json, sys
from bench.scale_corpora import write_replicas
print(json.dumps(write_replicas(json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]))))
"""


def write_replicas(inputs: list[str], out: str, copies: int) -> dict:
    """``copies`` copies of the documents in ``inputs`` as one shard set (4 shards per copy,
    written a copy at a time, so memory holds one copy). Returns the text size."""
    from dataclasses import replace

    from schemas.document import DOCUMENT_SCHEMA, Doc
    from schemas.hashing import bucket_of
    from schemas.shards import build_manifest, open_shard_set, write_manifest, write_shard

    docs = []
    for directory in inputs:
        _, tables = open_shard_set(directory, schema=DOCUMENT_SCHEMA)
        docs += [Doc.from_row(r) for t in tables for r in t.to_pylist()]
    infos, text_bytes = [], 0
    for k in range(copies):
        shards: list[list[dict]] = [[] for _ in range(4)]
        for doc in docs:
            copy = replace(doc, doc_id=f"{doc.doc_id}#{k}", paragraphs=_shuffled(doc, k))
            shards[bucket_of(copy.doc_id, 4)].append(copy.to_row())
            text_bytes += sum(len(s.encode()) for s in doc.sentences)
        for i, rows in enumerate(shards):
            rows.sort(key=lambda r: r["doc_id"])
            infos.append(write_shard(out, f"docs-{4 * k + i:05d}", rows, schema=DOCUMENT_SCHEMA))
    manifest = build_manifest(infos, schema=DOCUMENT_SCHEMA, created_by="bench.bench_scale")
    write_manifest(out, manifest)
    return {"text_mb": round(text_bytes / 1e6, 2), "docs": len(docs) * copies}


def _shuffled(doc, copy: int) -> tuple:
    """The document's sentences in a seeded random order, in paragraphs of the original sizes."""
    from schemas.hashing import seeded_rng

    if copy == 0:
        return doc.paragraphs
    sentences = list(doc.sentences)
    seeded_rng(SEED, doc.doc_id, copy).shuffle(sentences)
    out, start = [], 0
    for p in doc.paragraphs:
        out.append(tuple(sentences[start : start + len(p)]))
        start += len(p)
    return tuple(out)


def doc_corpus(size: int, base: list[str], work: Path, repo: Path) -> tuple[str, float]:
    out = work / f"docs_{size}x"
    info = out / "bench_scale.json"
    if not info.exists():
        stdout = _python(REPO, _REPLICATE, json.dumps(base), str(out), str(size))
        info.write_text(stdout.strip().splitlines()[-1])
    return str(out), json.loads(info.read_text())["text_mb"]


def text_corpus(docs_dir: str) -> str:
    """The vocab corpus as text, a sentence per line, one file per shard (the peer trains on
    files, reading several in parallel); returns their glob."""
    import pyarrow.ipc as ipc

    out = Path(docs_dir) / "text"
    if not (out / "done").exists():
        out.mkdir(exist_ok=True)
        for shard in sorted(Path(docs_dir).glob("docs-*.arrow")):
            with ipc.open_file(str(shard)) as reader:
                table = reader.read_all()
            with (out / f"{shard.stem}.txt").open("w", encoding="utf-8") as f:
                for paragraphs in table.column("paragraphs").to_pylist():
                    f.writelines(s + "\n" for p in paragraphs for s in p)
        (out / "done").touch()
    return str(out / "*.txt")


def _shift_id(offset: int, m: re.Match) -> bytes:
    return m[1] + str(int(m[2]) + offset).encode() + m[3]


def xml_corpus(size: int, data: Path, work: Path) -> tuple[str, float]:
    """``size`` dump files of the English fragment: new page ids, page order shuffled."""
    out = work / f"xml_{size}x"
    if not (out / "done").exists():
        out.mkdir(parents=True, exist_ok=True)
        xml = bz2.decompress((data / WIKI_EN).read_bytes())
        head_end = xml.index(b"<page>")
        tail_start = xml.rindex(b"</page>") + len(b"</page>")
        pages = re.findall(rb"<page>.*?</page>", xml[head_end:tail_start], re.S)
        for k in range(size):
            shifted = [_PAGE_ID.sub(functools.partial(_shift_id, k * 10**8), p, 1) for p in pages]
            random.Random(SEED * 1000 + k).shuffle(shifted)  # noqa: S311 (bench data only)
            body = xml[:head_end] + b"\n".join(shifted) + xml[tail_start:]
            (out / f"enwiki-copy{k:03d}.xml").write_bytes(body)
        (out / "done").touch()
    mb = sum(p.stat().st_size for p in out.glob("*.xml")) / 1e6
    return str(out / "*.xml"), round(mb, 2)


_TOKENIZER = """
import sys
try:
    from transforms.vocab.tokenizer_dir import tokenizer_from_vocab
except ImportError:
    from transforms.vocab.tokenizer_dir import tokenizer_from_vocab
tokenizer_from_vocab(sys.argv[1], sys.argv[2], True)
"""


def tokenizer(data: Path, work: Path, repo: Path) -> str:
    """A fixed WordPiece tokenizer (bert-base-uncased's vocabulary) for every shards run."""
    out = work / "tokenizer"
    if not (out / "tokenizer.json").exists():
        _python(repo, _TOKENIZER, str(data / VOCAB), str(out))
    return str(out)
