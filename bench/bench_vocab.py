"""Vocabulary training: our Beam job vs ``tokenizers``' BertWordPieceTokenizer on raw text.

Both sides see the same corpus (all text in ../shared/data: UDHR, tatoeba, books, UD, SST-2,
rt-polarity, sample_text; ``--quick``: UDHR + tatoeba), lowercased WordPiece, same vocab size:
  ours   ``python -m pipeline.vocab`` on a document shard set of the corpus (DirectRunner,
         one process; includes Beam start-up, the 2% held-out report and writing TOK_DIR)
  peer   ``BertWordPieceTokenizer(lowercase=True).train(files)`` on the same text written
         one sentence per line (Rust, all cores)
Each runs as its own subprocess; we report wall seconds, CPU seconds (RUSAGE_CHILDREN: every
thread and process of it; the figure that holds up on a shared machine) and peak RSS of its
process tree (psutil, sampled every 20 ms), the interpreter+import start-up of each, and
ratios ours/peer.

    python -m bench.bench_vocab [--quick]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.process_tree import watch

REPO = Path(__file__).resolve().parent.parent

PEER = """
import sys
from tokenizers import BertWordPieceTokenizer
tok = BertWordPieceTokenizer(lowercase=True)
tok.train(sys.argv[2:], vocab_size=int(sys.argv[1]), min_frequency=2, show_progress=False)
print(tok.get_vocab_size())
"""


def _shared_data() -> Path:
    env = os.environ.get("BERTCORPUS_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def _corpus(quick: bool):
    sys.path.insert(0, str(REPO))
    from schemas.document import Doc
    from tests.corpus_fixtures import (
        book_docs,
        sample_text_docs,
        tatoeba_docs,
        ud_docs,
        udhr_docs,
    )

    data = _shared_data()
    docs = udhr_docs(data) + tatoeba_docs(data)
    if not quick:
        docs += book_docs(data) + ud_docs(data) + sample_text_docs(data)
        from tests.corpus_fixtures import english_texts

        for name, lines in english_texts(data).items():
            if name.startswith(("sst2", "rt_polarity", "ud_english")):
                chunks = [lines[i : i + 20] for i in range(0, len(lines), 20)]
                docs += [
                    Doc(f"text:{name}:{i:05d}", "text", "en", (tuple(c),))
                    for i, c in enumerate(chunks)
                ]
    return docs


def _measure(cmd: list[str], env: dict) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seconds, peak = watch(proc)
    out, err = proc.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed: {err.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "seconds": round(seconds, 3),
        "cpu_s": round(cpu, 3),
        "peak_rss_mb": round(peak / 2**20, 1),
        "stdout": out,
    }


def _copies(docs: list, copies: int) -> list:
    """The corpus ``copies`` times over (fresh doc ids): same vocabulary, more text."""
    from dataclasses import replace

    return [replace(d, doc_id=f"{d.doc_id}#{i}") for i in range(copies) for d in docs]


def _compare(docs: list, vocab_size: int, tmp: str, env: dict) -> dict:
    from tests.corpus_fixtures import write_doc_shard_set

    clean = write_doc_shard_set(os.path.join(tmp, "clean"), docs, num_shards=4)
    text_file = os.path.join(tmp, "corpus.txt")
    with open(text_file, "w", encoding="utf-8") as f:
        f.writelines(s + "\n" for d in docs for s in d.sentences)
    mb = os.path.getsize(text_file) / 2**20
    ours_cmd = [sys.executable, "-m", "pipeline.vocab", "--input", clean]
    ours_cmd += ["--output", os.path.join(tmp, "tok"), "--vocab_size", str(vocab_size)]
    ours = _measure(ours_cmd, env)
    peer = _measure([sys.executable, "-c", PEER, str(vocab_size), text_file], env)
    with open(os.path.join(tmp, "tok", "vocab_report.json")) as f:
        report = json.load(f)
    return {
        "corpus": {"docs": len(docs), "text_mb": round(mb, 2), "vocab_size": vocab_size},
        "ours": {
            "seconds": ours["seconds"],
            "cpu_s": ours["cpu_s"],
            "peak_rss_mb": ours["peak_rss_mb"],
            "mb_per_s": round(mb / ours["seconds"], 3),
            "heldout_unk_rate": round(report["heldout"]["overall"]["unk_rate"], 5),
            "vocab_size": report["vocab_size"],
        },
        "peer": {
            "seconds": peer["seconds"],
            "cpu_s": peer["cpu_s"],
            "peak_rss_mb": peer["peak_rss_mb"],
            "mb_per_s": round(mb / peer["seconds"], 3),
            "vocab_size": int(peer["stdout"].split()[-1]),
        },
        "ratios": {
            "seconds_ours_over_peer": round(ours["seconds"] / peer["seconds"], 2),
            "cpu_s_ours_over_peer": round(ours["cpu_s"] / peer["cpu_s"], 2),
            "peak_rss_ours_over_peer": round(ours["peak_rss_mb"] / peer["peak_rss_mb"], 2),
        },
    }


def run(quick: bool = False) -> dict:
    """quick: UDHR + tatoeba (1.2 MB); full: all shared text (4.2 MB), and the same 4x over."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    docs = _corpus(quick)
    vocab_size = 8000 if quick else 16000
    result: dict = {
        "stage": "vocab",
        "quick": quick,
        "peer": "tokenizers.BertWordPieceTokenizer(lowercase=True).train on raw text files",
        "startup_seconds": {
            "ours": _measure([sys.executable, "-c", "import apache_beam, tokenizers"], env)[
                "seconds"
            ],
            "peer": _measure([sys.executable, "-c", "import tokenizers"], env)["seconds"],
        },
    }
    runs = {"x1": docs} if quick else {"x1": docs, "x4": _copies(docs, 4)}
    for name, corpus in runs.items():
        with tempfile.TemporaryDirectory(prefix="bench-vocab-") as tmp:
            result[name] = _compare(corpus, vocab_size, tmp, env)
    return result


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
