"""Cleaning-job throughput on the English Wikipedia fragment (6.1 MB of XML, 206 pages).

Side by side in one run, on the same uncompressed XML:
  ours      ``transforms.read.sources.read_file`` (page splitter + ElementTree per page +
            ``wikitext_to_paragraphs``) in this process: docs/s, MB of XML/s; also from .bz2
  clean     the full ``pipeline.clean`` job (read -> normalise -> quality -> langid -> dedup ->
            sentences -> shards) on the in-process DirectRunner, one worker
  peer      wikiextractor 3 (``python -m wikiextractor.WikiExtractor --processes 1``) as a
            subprocess: wall time, wall time less interpreter start-up, and CPU seconds of all
            its processes (it runs a reader, one extractor and a reducer process)
MB/s per core = MB / CPU seconds: ours runs on one core, so it equals our MB/s.

    python -m bench.bench_clean [--quick]
"""

from __future__ import annotations

import bz2
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WIKI_EN = "wiki/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def _shared_data() -> Path:
    env = os.environ.get("BERTCORPUS_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - started)
    return best, out


def _ours(path: Path, repeats: int) -> dict:
    from transforms.read.config import ReaderConfig
    from transforms.read.rawdoc import RawDoc
    from transforms.read.sources import read_file
    from transforms.shared.accounting import CounterDict

    def read():
        return [d for d in read_file("wiki", str(path), ReaderConfig(), CounterDict())]

    seconds, items = _best(read, repeats)
    docs = sum(isinstance(i, RawDoc) for i in items)
    return {"seconds": round(seconds, 3), "docs": docs, "docs_per_s": round(docs / seconds, 1)}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed_subprocess(cmd: list[str]) -> tuple[float, float]:
    cpu0, started = _children_cpu(), time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - started, _children_cpu() - cpu0


def _peer(xml: Path, work: Path, repeats: int) -> dict:
    startup, _ = _best(
        lambda: _timed_subprocess([sys.executable, "-c", "import wikiextractor.WikiExtractor"]),
        repeats,
    )
    runs = []
    for i in range(repeats):
        out = work / f"wikiextractor_{i}"
        cmd = [sys.executable, "-m", "wikiextractor.WikiExtractor", "--processes", "1"]
        runs.append(_timed_subprocess([*cmd, "-q", "-o", str(out), str(xml)]))
    wall, cpu = min(runs)
    docs = sum(p.read_text(encoding="utf-8").count("<doc ") for p in out.rglob("wiki_*"))
    return {
        "seconds_wall": round(wall, 3),
        "seconds_startup": round(startup, 3),
        "seconds_cpu_all_processes": round(cpu, 3),
        "docs": docs,
    }


_TINY_DUMP = """<mediawiki><page><title>T</title><ns>0</ns><id>1</id><revision><id>1</id>
<text>Tiny page for timing the job's fixed start-up cost. It has two sentences.</text>
</revision></page></mediawiki>"""


def _clean_job(xml: Path, work: Path) -> dict:
    try:
        from pipeline.clean import run as clean
    except ImportError as e:
        return {"skipped": f"pipeline.clean not importable: {e}"}
    # The job's fixed cost (pipeline construction, runner start, shard writing) measured on a
    # one-page dump, so throughput can be reported with and without it, as for the peer.
    tiny = work / "tiny.xml"
    tiny.write_text(_TINY_DUMP)
    started = time.perf_counter()
    clean(["--source", "wiki", "--input", str(tiny), "--output", str(work / "tiny_out")])
    startup = time.perf_counter() - started
    out = work / "clean_out"
    started = time.perf_counter()
    stats = clean(["--source", "wiki", "--input", str(xml), "--output", str(out)])
    seconds = time.perf_counter() - started
    counters = stats.get("counters", {})
    return {
        "seconds": round(seconds, 3),
        "seconds_startup": round(startup, 3),
        "pages": counters.get("input"),
        "docs_emitted": counters.get("emitted"),
        "docs_per_s": round((counters.get("emitted") or 0) / seconds, 1),
        "balanced": stats.get("ledger", {}).get("balanced"),
    }


def run(quick: bool = False) -> dict:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    data = _shared_data()
    repeats = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="bench_clean_") as tmp:
        work = Path(tmp)
        xml = work / "enwiki.xml"
        xml.write_bytes(bz2.decompress((data / WIKI_EN).read_bytes()))
        mb = xml.stat().st_size / 1e6
        ours = _ours(xml, repeats)
        ours["mb_per_s"] = ours["mb_per_s_per_core"] = round(mb / ours["seconds"], 2)
        ours_bz2 = _ours(data / WIKI_EN, 1)
        ours_bz2["mb_xml_per_s"] = round(mb / ours_bz2["seconds"], 2)
        peer = _peer(xml, work, repeats)
        work_s = max(peer["seconds_wall"] - peer["seconds_startup"], 1e-6)
        peer["mb_per_s_wall"] = round(mb / peer["seconds_wall"], 2)
        peer["mb_per_s_excluding_startup"] = round(mb / work_s, 2)
        peer["mb_per_s_per_core"] = round(mb / peer["seconds_cpu_all_processes"], 2)
        peer["docs_per_s_excluding_startup"] = round(peer["docs"] / work_s, 1)
        if quick:
            clean = {"skipped": "quick run"}
        else:
            clean = _clean_job(xml, work)
            if "seconds" in clean:
                clean["mb_per_s"] = clean["mb_per_s_per_core"] = round(mb / clean["seconds"], 2)
                work_job = max(clean["seconds"] - clean["seconds_startup"], 1e-6)
                clean["mb_per_s_excluding_startup"] = round(mb / work_job, 2)
    return {
        "input": {"file": WIKI_EN, "xml_mb": round(mb, 2), "repeats": repeats},
        "ours_reader": ours,
        "ours_reader_from_bz2": ours_bz2,
        "clean_job_direct_runner_1_worker": clean,
        "peer_wikiextractor": peer,
        "ratios": {
            "reader_vs_peer_wall": round(ours["mb_per_s"] / peer["mb_per_s_wall"], 2),
            "reader_vs_peer_excluding_startup": round(
                ours["mb_per_s"] / peer["mb_per_s_excluding_startup"], 2
            ),
            "reader_vs_peer_per_core": round(
                ours["mb_per_s_per_core"] / peer["mb_per_s_per_core"], 2
            ),
            "clean_job_vs_peer_wall": (
                round(clean["mb_per_s"] / peer["mb_per_s_wall"], 2) if "mb_per_s" in clean else None
            ),
            "clean_job_vs_peer_excluding_startup": (
                round(clean["mb_per_s_excluding_startup"] / peer["mb_per_s_excluding_startup"], 2)
                if "mb_per_s" in clean
                else None
            ),
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
