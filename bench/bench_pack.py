"""Packing throughput: cleaned documents -> example shards, tokens per second on one core.

Side by side in one run, on the same sentences (English Wikipedia fragment + Gutenberg books):
  ceiling   bare ``tokenizers`` encode_batch (one thread), no packing, no output
  beam      ``pipeline.shards.run`` on the in-process DirectRunner, 1 worker, NSP, 128 tokens
            (also the marginal rate between 1x and 4x input, which excludes Beam's fixed
            start-up cost of a second or two)
  direct    the same pure functions + shard writer driven without Beam
  hf        HF ``datasets.map`` + BertTokenizerFast(batched) over the same sentences
and the peak RSS of ``python -m pipeline.shards`` subprocesses on 1x and 4x the input.

    python -m bench.bench_pack [--quick]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# One tokenizer thread everywhere: per-core numbers, and the peers get the same.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

REPO = Path(__file__).resolve().parent.parent
VOCAB = "vocab/bert-base-uncased-vocab_from_all-MiniLM-L6-v2.txt"
WIKI_EN = "wiki/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def _shared_data() -> Path:
    env = os.environ.get("BERTCORPUS_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def _clean_docs(data: Path, work: Path, quick: bool) -> list:
    """Cleaned Docs of the English wiki fragment + books (pipeline.clean when it runs)."""
    from schemas.document import DOCUMENT_SCHEMA, Doc
    from schemas.shards import open_shard_set

    if (REPO / "pipeline" / "clean.py").exists() and not os.environ.get(
        "BERTCORPUS_PACK_TEST_FALLBACK"
    ):
        jobs = [["--source", "wiki", "--input", str(data / WIKI_EN), "--lang", "en"]]
        if not quick:
            jobs.append(["--source", "books", "--input", str(data / "books" / "*.txt")])
        docs: list = []
        outs = [str(work / f"clean_{i}") for i in range(len(jobs))]
        argvs = [[*job, "--output", out] for job, out in zip(jobs, outs, strict=True)]
        # A subprocess: Beam parses every PipelineOptions subclass of a process together.
        code = "import json,sys\nfrom pipeline.clean import run\nfor a in json.loads(sys.argv[1]): run(a)"
        subprocess.run(
            [sys.executable, "-c", code, json.dumps(argvs)],
            check=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
        )
        for out in outs:
            _, tables = open_shard_set(out, schema=DOCUMENT_SCHEMA)
            docs += [Doc.from_row(r) for t in tables for r in t.to_pylist()]
        return docs
    from tests.corpus_fixtures import book_docs
    from tests.test_shards_job import _split_sentences, fallback_wiki_docs

    docs = fallback_wiki_docs(data / WIKI_EN, "en", 40 if quick else None)
    if not quick:
        docs += [_split_sentences(d) for d in book_docs(data)]
    return docs


def _write_copies(docs: list, directory: Path, copies: int) -> str:
    from dataclasses import replace

    from tests.corpus_fixtures import write_doc_shard_set

    many = [replace(d, doc_id=f"{d.doc_id}#{k}") for k in range(copies) for d in docs]
    return write_doc_shard_set(directory, many, num_shards=4 * copies)  # same shard size


class _Clock:
    """Wall and CPU time of a block. Rates use CPU seconds of this process (all threads):
    per-core figures that hold up while other jobs share the machine."""

    def __enter__(self) -> _Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def rate(self, tokens: int) -> dict:
        return {
            "tokens": tokens,
            "wall_s": round(self.wall, 3),
            "cpu_s": round(self.cpu, 3),
            "tokens_per_cpu_s": tokens / self.cpu,
            "tokens_per_wall_s": tokens / self.wall,
        }


def _ceiling(tok_dir: str, sentences: list[str], fast: bool = False) -> dict:
    from transforms.vocab.tokenizer_dir import load_tokenizer

    tok = load_tokenizer(tok_dir)
    encode = tok.encode_batch_fast if fast else tok.encode_batch
    with _Clock() as clock:
        enc = encode(sentences, add_special_tokens=False)
    return clock.rate(sum(len(e) for e in enc))


def _beam(docs_dir: str, tok_dir: str, out: Path) -> dict:
    from pipeline.shards import run

    with _Clock() as clock:
        stats = run(["--input", docs_dir, "--tokenizer", tok_dir, "--output", str(out)])
    return clock.rate(stats["counters"]["tokens"])


def _direct(docs_dir: str, tok_dir: str, out: Path, batch_docs: int = 64) -> dict:
    """Read shards -> tokenize_docs -> pack_documents per bucket -> write_shard, no Beam."""
    import math

    from schemas.document import DOCUMENT_SCHEMA
    from schemas.example import EXAMPLE_SCHEMA
    from schemas.hashing import bucket_of
    from schemas.shards import open_shard_set, write_shard
    from transforms.pack.binning import default_bin_edges
    from transforms.pack.config import PackConfig
    from transforms.pack.example_rows import Vocab, rows_to_table, shard_key
    from transforms.pack.instances import pack_documents
    from transforms.pack.tokenize import continuation_table, tokenize_docs
    from transforms.shared.accounting import CounterDict
    from transforms.vocab.tokenizer_dir import load_tokenizer, special_token_ids

    clock = _Clock().__enter__()
    tok = load_tokenizer(tok_dir)
    vocab = Vocab.from_special_ids(special_token_ids(tok), tok.get_vocab_size())
    cfg = PackConfig(bin_edges=default_bin_edges(128))
    table = continuation_table(tok)
    count = CounterDict()
    _, tables = open_shard_set(docs_dir, schema=DOCUMENT_SCHEMA)
    rows = [r for t in tables for r in t.to_pylist()]
    n_buckets = max(1, math.ceil(len(rows) / cfg.nsp_bucket_docs))
    buckets: dict[int, list] = {}
    for start in range(0, len(rows), batch_docs):
        for d in tokenize_docs(rows[start : start + batch_docs], tok, table, count):
            buckets.setdefault(bucket_of(d.doc_id, n_buckets, seed=cfg.seed), []).append(d)
    shards: dict = {}
    for b in sorted(buckets):
        bucket = sorted(buckets[b], key=lambda d: d.doc_id)
        for key, row in pack_documents(bucket, cfg, vocab, count):
            shards.setdefault(shard_key(key, row, cfg), []).append((key, row))
    for (name, length_bin), keyed in sorted(shards.items()):
        keyed.sort(key=lambda kv: kv[0])
        table = rows_to_table([r for _, r in keyed])
        write_shard(str(out), name, table, schema=EXAMPLE_SCHEMA, length_bin=length_bin)
    clock.__exit__()
    return clock.rate(count["tokens"])


def _hf(tok_dir: str, sentences: list[str]) -> dict:
    import datasets
    from transformers import BertTokenizerFast

    datasets.disable_progress_bars()
    tok = BertTokenizerFast.from_pretrained(tok_dir)
    ds = datasets.Dataset.from_dict({"text": sentences})
    with _Clock() as clock:
        out = ds.map(
            lambda b: tok(b["text"], add_special_tokens=False),
            batched=True,
            remove_columns=["text"],
        )
    return clock.rate(sum(len(x) for x in out["input_ids"]))


# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child of this (large)
# process would report the parent's peak.
_RSS_CHILD = """
import json, re, resource, sys
from pipeline.shards import run
stats = run(sys.argv[1:])
try:
    status = open("/proc/self/status").read()
    peak_kb = int(re.search(r"VmHWM:\\s+(\\d+)", status).group(1))
except (OSError, AttributeError):
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_rss_mb": peak_kb / 1024, "tokens": stats["counters"]["tokens"]}))
"""


def _peak_rss(docs_dir: str, tok_dir: str, out: Path) -> dict:
    argv = ["--input", docs_dir, "--tokenizer", tok_dir, "--output", str(out)]
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, *argv],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    from transforms.vocab.tokenizer_dir import tokenizer_from_vocab

    data = _shared_data()
    with tempfile.TemporaryDirectory(prefix="bench-pack-") as tmp:
        work = Path(tmp)
        tok_dir = tokenizer_from_vocab(str(data / VOCAB), str(work / "tok"), True)
        docs = _clean_docs(data, work, quick)
        sentences = [s for d in docs for s in d.sentences]
        one = _write_copies(docs, work / "docs1", 1)
        result: dict = {
            "input": {
                "docs": len(docs),
                "sentences": len(sentences),
                "chars": sum(len(s) for s in sentences),
            },  # fmt: skip
            "ceiling_encode_batch": _ceiling(tok_dir, sentences),
            "encode_batch_fast": _ceiling(tok_dir, sentences, fast=True),
            "beam_1x": _beam(one, tok_dir, work / "beam1"),
            "direct_1x": _direct(one, tok_dir, work / "direct1"),
            "hf_datasets_map": _hf(tok_dir, sentences),
        }
        if not quick:
            four = _write_copies(docs, work / "docs4", 4)
            b4 = result["beam_4x"] = _beam(four, tok_dir, work / "beam4")
            b1 = result["beam_1x"]
            result["beam_marginal_tokens_per_cpu_s"] = (b4["tokens"] - b1["tokens"]) / (
                b4["cpu_s"] - b1["cpu_s"]
            )
            result["peak_rss_mb_1x"] = _peak_rss(one, tok_dir, work / "rss1")["peak_rss_mb"]
            result["peak_rss_mb_4x"] = _peak_rss(four, tok_dir, work / "rss4")["peak_rss_mb"]
    ceiling = result["ceiling_encode_batch"]["tokens_per_cpu_s"]
    hf = result["hf_datasets_map"]["tokens_per_cpu_s"]
    ratios = {}  # CPU-time rates
    for name in ("beam_1x", "beam_4x", "direct_1x"):
        if name in result:
            rate = result[name]["tokens_per_cpu_s"]
            ratios[f"{name}_vs_ceiling"] = rate / ceiling
            ratios[f"{name}_vs_hf"] = rate / hf
    if "beam_marginal_tokens_per_cpu_s" in result:
        ratios["beam_marginal_vs_ceiling"] = result["beam_marginal_tokens_per_cpu_s"] / ceiling
    result["ratios"] = ratios
    ratios["hf_vs_ceiling"] = hf / ceiling
    return result


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
