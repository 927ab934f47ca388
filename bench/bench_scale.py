"""`make bench-scale`: peak memory, time and worker scaling of the clean, vocab and shards jobs
as the corpus grows (1x, 4x, 16x the same real text).

Corpora, built once per size under ``--work`` and reused by later runs:
  clean          the English Wikipedia fragment (6.1 MB of XML) as N dump files; copy k has its
                 page ids shifted by k * 10^8 and its page order shuffled (seeded). Dedup is off,
                 since the copies are duplicates by construction; ``--jobs clean_dedup`` runs
                 it with dedup on (every copy after the first is dropped as a duplicate, but
                 every document still goes through dedup's groupings). ``--jobs xml_to_shards``
                 runs clean (dedup off, as above) and then shards on its output as one
                 command: raw XML to training tokens per CPU-second, both start-ups included.
  vocab, shards  the cleaned documents of every wiki dump and book in the data folder, N copies;
                 copy k has doc ids suffixed ``#k`` and, for k > 0, each document's sentence order
                 shuffled (seeded), so no two copies hold the same sentence pairs.
Each job runs as its own subprocess on the DirectRunner three ways: the default in-process
runner ("1w"), and multi_processing with 1 ("1mp") and 2 ("2w") SDK worker processes; a run may
use one core per worker (RAYON_NUM_THREADS). Peak RSS is the job's whole process tree, summed (psutil, every 20 ms);
CPU seconds are those of every process in it (RUSAGE_CHILDREN); rates are per CPU-second, so
they hold up while other work shares the machine; the 1 -> 2 worker scaling (1mp -> 2w, and
default -> 2w) is wall-clock.
Results merge into ``bench/results.json`` under "scale" (other keys are kept), and a markdown
table for README is printed.

    python -m bench.bench_scale [--sizes 1,4,16] [--jobs clean,vocab,shards] [--data DIR]
        [--repo DIR (the code to measure; default this checkout)] [--key scale]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
from pathlib import Path

from bench.bench_pack import _shared_data
from bench.process_tree import watch
from bench.scale_corpora import base_docs, doc_corpus, text_corpus, tokenizer, xml_corpus

REPO = Path(__file__).resolve().parent.parent
JOBS = ("clean", "vocab", "shards")
# clean_dedup: clean with exact + near dedup on (copies are duplicates); xml_to_shards: clean,
# then shards on its output, as one measured command (raw XML -> shards, per CPU-second).
# wikiextractor: the peer, on the same XML files (streamed into one process, --processes 1).
# tokenizers: the vocab job's peer, BertWordPieceTokenizer.train on the vocab corpus as text.
OPTIONAL_JOBS = ("clean_dedup", "xml_to_shards", "wikiextractor", "tokenizers")
# Runs per job and size: the default runner (in-process, "1w"), and Beam's SDK worker processes
# (multi_processing) with 1 ("1mp") and 2 ("2w"). Worker scaling is 1mp -> 2w: the same runner
# with one more worker; 1w -> 2w is what a user of the default runner gains by adding workers.
MP = "--direct_running_mode=multi_processing"
WORKERS = {"1w": [], "1mp": [MP, "--direct_num_workers=1"], "2w": [MP, "--direct_num_workers=2"]}
# Cores a run may use: one per worker. tokenizers' thread pool gets as many (the vocab job's
# trainer, one step that runs alone after the counts, uses them; per-worker tokenisation in the
# shards job pins itself to one thread, transforms/pack/tokenize.py).
CORES = {"1w": 1, "1mp": 1, "2w": 2}
UNITS = {
    "clean": "xml_mb",
    "clean_dedup": "xml_mb",
    "vocab": "words",
    "shards": "tokens",
    "xml_to_shards": "tokens",
    "wikiextractor": "xml_mb",
    "tokenizers": "text_mb",
}


def measure(cmd: list[str], repo: Path, timeout: float, cores: int = 1) -> dict:
    """Run ``cmd``; wall and CPU seconds and the peak RSS of its process tree, summed."""
    env = {**os.environ, "PYTHONPATH": str(repo), "RAYON_NUM_THREADS": str(cores)}
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(
        cmd, cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    seconds, peak = watch(proc, timeout)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    if proc.returncode:
        return {"ok": False, "seconds": round(seconds, 1), "error": err[-2000:]}
    return {
        "ok": True,
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(peak / 2**20, 1),
    }


_PEER_TOKENIZERS = """
import glob, sys
from tokenizers import BertWordPieceTokenizer
tok = BertWordPieceTokenizer(lowercase=True)
tok.train(sorted(glob.glob(sys.argv[1])), vocab_size=8000, min_frequency=1, show_progress=False)
"""


# --- jobs --------------------------------------------------------------------------------------


def job_command(job: str, corpus: str, out: Path, tok: str | None) -> list[str]:
    module = "clean" if job == "clean_dedup" else job
    argv = [sys.executable, "-m", f"pipeline.{module}", "--input", corpus, "--output", str(out)]
    if job == "clean_dedup":
        return [*argv, "--source", "wiki", "--lang", "en"]
    if job == "clean":
        return [*argv, "--source", "wiki", "--lang", "en", "--no_exact_dedup", "--no_near_dedup"]
    if job == "vocab":
        # min_count 1: in N copies every word occurs >= N times, so with the default
        # min_count 2 the 1x run would train on 63k distinct words and the 4x/16x runs on all
        # 166k; the trainer's memory follows those words (capped by --max_words), which would
        # mask what this bench measures: memory as the same vocabulary's corpus grows.
        return [*argv, "--vocab_size", "8000", "--min_count", "1"]
    assert tok is not None
    return [*argv, "--tokenizer", tok]


def units_of(job: str, out: Path, input_mb: float) -> float:
    """What the job's rate counts: MB of XML (clean), words (vocab), tokens (shards)."""
    if job.startswith("clean") or job in ("wikiextractor", "tokenizers"):
        return input_mb
    stats = out / "shards" / "stats.json" if job == "xml_to_shards" else out / "stats.json"
    counters = json.loads(stats.read_text())["counters"]
    return counters[UNITS[job]]


def run_job(job: str, size: int, workers: str, args, corpora: dict) -> dict:
    corpus, input_mb = corpora[job]
    out = args.work / "out" / f"{job}_{size}x_{workers}"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    tok, beam = corpora.get("tokenizer"), WORKERS[workers]
    if job == "xml_to_shards":  # both jobs in one process tree: CPU and peak RSS of the chain
        clean = [*job_command("clean", corpus, out / "clean", None), *beam]
        shards = [*job_command("shards", str(out / "clean"), out / "shards", tok), *beam]
        cmd = ["bash", "-c", f"{shlex.join(clean)} && {shlex.join(shards)}"]
    elif job == "wikiextractor":  # one process, and one file: it reads no globs or stdin
        one = Path(corpus).parent.with_suffix(".xml")
        if not one.exists():  # the copies end to end; it skips the repeated headers
            with one.open("wb") as f:
                for part in sorted(Path(corpus).parent.glob("*.xml")):
                    f.write(part.read_bytes())
        cmd = [sys.executable, "-m", "wikiextractor.WikiExtractor", "--processes", "1"]
        cmd += ["--quiet", "-o", str(out), str(one)]
    elif job == "tokenizers":  # the vocab job's settings (job_command), every core it wants
        unset = ["-u", "RAYON_NUM_THREADS", "-u", "TOKENIZERS_PARALLELISM"]  # see bench_pack
        cmd = ["env", *unset, sys.executable, "-c", _PEER_TOKENIZERS, corpus]
    else:
        cmd = [*job_command(job, corpus, out, tok), *beam]
    result = {"input_mb": input_mb, **measure(cmd, args.repo, args.timeout, CORES[workers])}
    if result["ok"]:
        units = units_of(job, out, input_mb)
        result[UNITS[job]] = units
        result[f"{UNITS[job]}_per_cpu_s"] = round(units / max(result["cpu_s"], 1e-6), 3)
    subprocess.run(["rm", "-rf", str(out)], check=True)
    return result


def corpora_for(size: int, jobs: list[str], args) -> dict:
    corpora: dict = {}
    if {"clean", "clean_dedup", "xml_to_shards", "wikiextractor"} & set(jobs):
        xml = xml_corpus(size, args.data, args.work)
        for job in ("clean", "clean_dedup", "xml_to_shards", "wikiextractor"):
            corpora[job] = xml
    if {"vocab", "shards", "tokenizers"} & set(jobs):
        base = base_docs(args.data, args.work, args.repo)
        corpora["vocab"] = corpora["shards"] = doc_corpus(size, base, args.work, args.repo)
    if "tokenizers" in jobs:
        corpora["tokenizers"] = (text_corpus(corpora["vocab"][0]), corpora["vocab"][1])
    if {"shards", "xml_to_shards"} & set(jobs):
        corpora["tokenizer"] = tokenizer(args.data, args.work, args.repo)
    return corpora


# --- report ------------------------------------------------------------------------------------


def summarize(runs: dict) -> dict:
    """Per job: peak RSS ratio largest/smallest size and MiB of RSS per MB of input (1 worker),
    at each size the wall-clock speed-up from 1 to 2 workers (1mp -> 2w) and from the default
    runner to 2 workers (1w -> 2w), and the marginal speed-up between the two largest sizes:
    the ratio of the seconds each added copy of the corpus costs, which leaves out the fixed
    start-up (interpreter, Beam import, graph, worker processes) that a run of any size pays."""
    out: dict = {}
    for job, by_size in runs.items():
        sizes = sorted(by_size, key=lambda s: int(s.rstrip("x")))
        summary: dict = {"speedup_1_to_2_workers": {}, "speedup_default_to_2_workers": {}}
        for s in sizes:
            two = by_size[s].get("2w", {})
            for base, key in (
                ("1mp", "speedup_1_to_2_workers"),
                ("1w", "speedup_default_to_2_workers"),
            ):
                one = by_size[s].get(base, {})
                if one.get("ok") and two.get("ok"):
                    summary[key][s] = round(one["seconds"] / two["seconds"], 2)
        if marginal := _marginal_speedup(by_size, sizes):
            summary["marginal_speedup_1_to_2_workers"] = marginal
        for w in ("1w", "2w"):
            ok = [s for s in sizes if by_size[s].get(w, {}).get("ok")]
            if len(ok) >= 2:
                lo, hi = by_size[ok[0]][w], by_size[ok[-1]][w]
                summary[f"rss_ratio_{ok[-1]}_over_{ok[0]}_{w}"] = round(
                    hi["peak_rss_mb"] / lo["peak_rss_mb"], 2
                )
                summary[f"rss_mib_per_input_mb_{w}"] = round(
                    (hi["peak_rss_mb"] - lo["peak_rss_mb"]) / (hi["input_mb"] - lo["input_mb"]), 2
                )
        out[job] = summary
    for size, by_w in runs.get("vocab", {}).items():  # wall seconds, ours / tokenizers'
        theirs = runs.get("tokenizers", {}).get(size, {}).get("1w", {})
        for w, ours in by_w.items():
            if ours.get("ok") and theirs.get("ok"):
                ratio = round(ours["seconds"] / theirs["seconds"], 2)
                out["vocab"].setdefault("vs_tokenizers_seconds", {})[f"{size}_{w}"] = ratio
    peer = runs.get("wikiextractor", {})
    for job in ("clean", "clean_dedup"):  # MB of XML per CPU-second, ours / wikiextractor's
        for size, by_w in runs.get(job, {}).items():
            ours, theirs = by_w.get("1w", {}), peer.get(size, {}).get("1w", {})
            if ours.get("ok") and theirs.get("ok"):
                ratio = ours["xml_mb_per_cpu_s"] / theirs["xml_mb_per_cpu_s"]
                out[job].setdefault("vs_wikiextractor_per_cpu_s", {})[size] = round(ratio, 2)
    return out


def _marginal_speedup(by_size: dict, sizes: list[str]) -> dict:
    """{"A..B": (T_1mp(B) - T_1mp(A)) / (T_2w(B) - T_2w(A))} for the two largest sizes A < B
    with both runs, or {}."""
    ok = [s for s in sizes if all(by_size[s].get(w, {}).get("ok") for w in ("1mp", "2w"))]
    if len(ok) < 2:
        return {}
    a, b = by_size[ok[-2]], by_size[ok[-1]]
    d1 = b["1mp"]["seconds"] - a["1mp"]["seconds"]
    d2 = b["2w"]["seconds"] - a["2w"]["seconds"]
    return {f"{ok[-2]}..{ok[-1]}": round(d1 / d2, 2)} if d1 > 0 and d2 > 0 else {}


def markdown(runs: dict) -> str:
    lines = [
        "| job | size | input MB | peak RSS MB, default / 2 workers "
        "| seconds, default / 1 worker / 2 workers | 1 → 2 workers (default → 2) "
        "| per CPU-second, default |",
        "|---|---|---|---|---|---|---|",
    ]
    for job in JOBS + OPTIONAL_JOBS:
        for size, by_w in sorted(runs.get(job, {}).items(), key=lambda kv: int(kv[0][:-1])):
            one, mp1, two = by_w.get("1w", {}), by_w.get("1mp", {}), by_w.get("2w", {})
            rss = " / ".join(str(r.get("peak_rss_mb", "—")) for r in (one, two))
            secs = " / ".join(str(r.get("seconds", "—")) for r in (one, mp1, two))
            same, default = (
                f"{a['seconds'] / two['seconds']:.2f}×" if a.get("ok") and two.get("ok") else "—"
                for a in (mp1, one)
            )
            speedup = f"{same} ({default})"
            unit = UNITS[job]
            rate = one.get(f"{unit}_per_cpu_s")
            rate_s = "—" if rate is None else f"{rate:,.0f} {unit}" if rate > 100 else f"{rate} MB"
            mb = one.get("input_mb", two.get("input_mb", "—"))
            lines.append(f"| {job} | {size} | {mb} | {rss} | {secs} | {speedup} | {rate_s} |")
    return "\n".join(lines)


def merge_results(path: Path, key: str, runs: dict, meta: dict) -> dict:
    """Merge these runs into ``path`` under ``key``, keeping earlier sizes/jobs and other keys."""
    report = json.loads(path.read_text()) if path.exists() else {}
    section = report.get(key, {})
    merged = section.get("runs", {})
    for job, by_size in runs.items():
        for size, by_w in by_size.items():
            merged.setdefault(job, {}).setdefault(size, {}).update(by_w)
    report[key] = {**meta, "runs": merged, "summary": summarize(merged)}
    path.write_text(json.dumps(report, indent=2) + "\n")
    return report[key]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,4,16", help="comma list of replication factors")
    parser.add_argument(
        "--jobs",
        default=",".join(JOBS),
        help="comma list of clean,vocab,shards (and clean_dedup, xml_to_shards, wikiextractor, "
        "tokenizers)",
    )
    parser.add_argument(
        "--workers",
        default=",".join(WORKERS),
        help="comma list of 1w (default runner), 1mp (1 SDK worker process), 2w (2 workers)",
    )
    parser.add_argument("--data", type=Path, default=_shared_data(), help="../shared/data")
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout whose jobs are run")
    parser.add_argument("--work", type=Path, default=REPO / "out" / "bench-scale")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument("--key", default="scale", help="top-level key in the results file")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per job run")
    args = parser.parse_args(argv)
    args.work, args.repo = args.work.resolve(), args.repo.resolve()
    jobs = [j for j in args.jobs.split(",") if j]
    workers = [w for w in args.workers.split(",") if w]
    if unknown_w := set(workers) - set(WORKERS):
        parser.error(f"unknown --workers {sorted(unknown_w)}; choose from {list(WORKERS)}")
    if unknown := set(jobs) - set(JOBS) - set(OPTIONAL_JOBS):
        parser.error(f"unknown jobs {sorted(unknown)}; choose from {JOBS + OPTIONAL_JOBS}")
    runs: dict = {}
    for size in (int(s) for s in args.sizes.split(",")):
        corpora = corpora_for(size, jobs, args)
        for job in jobs:
            for w in workers:
                if job in ("wikiextractor", "tokenizers") and w != "1w":
                    continue  # one process by construction
                print(f"bench-scale {job} {size}x {w} ...", file=sys.stderr, flush=True)
                result = run_job(job, size, w, args, corpora)
                runs.setdefault(job, {}).setdefault(f"{size}x", {})[w] = result
                print(json.dumps(result)[:600], file=sys.stderr, flush=True)
    meta = {"machine": {"cores": os.cpu_count()}, "repo": str(args.repo)}
    section = merge_results(args.output, args.key, runs, meta)
    print(markdown(section["runs"]))
    print(json.dumps(section["summary"], indent=2), file=sys.stderr)
    return section


if __name__ == "__main__":
    main()
