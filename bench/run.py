"""`make bench`: run every stage benchmark in its own process and collect one JSON report.

Each ``bench/bench_<stage>.py`` measures our stage and its peer in the same run and reports
ratios; separate processes keep one stage's threads and memory from skewing another's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

STAGES = ("clean", "sentences", "vocab", "pack", "loader", "train", "finetune")


def run_stage(stage: str, quick: bool) -> dict:
    code = (
        f"import json, bench.bench_{stage} as m; "
        f"print('BENCH_JSON ' + json.dumps(m.run(quick={quick})))"
    )
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("BENCH_JSON "):
            return {"ok": True, "seconds": round(elapsed, 1), **json.loads(line[11:])}
    return {"ok": False, "seconds": round(elapsed, 1), "error": proc.stderr[-3000:]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="bench/results.json")
    parser.add_argument("--quick", action="store_true", help="small inputs, for a smoke run")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma list of stages")
    args = parser.parse_args(argv)
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor(),
            "cores": os.cpu_count(),
        },
        "quick": args.quick,
        "stages": {},
    }
    for stage in args.stages.split(","):
        print(f"bench {stage} ...", file=sys.stderr, flush=True)
        report["stages"][stage] = result = run_stage(stage, args.quick)
        print(json.dumps({stage: result}, indent=2)[:4000], file=sys.stderr, flush=True)
    if os.path.exists(args.output):  # keep what other benches wrote there (bench_scale: "scale")
        with open(args.output) as f:
            report = {**json.load(f), **report}
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {args.output}", file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
