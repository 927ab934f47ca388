"""bench-scale's summary arithmetic on hand-made runs: speed-ups (same runner and from the
default runner), the marginal speed-up that leaves out start-up, RSS ratios, peer ratios."""

from __future__ import annotations

from bench.bench_scale import summarize


def _run(seconds: float, rss: float, input_mb: float, **rate) -> dict:
    return {"ok": True, "seconds": seconds, "peak_rss_mb": rss, "input_mb": input_mb, **rate}


def test_summary_speedups_and_memory():
    # fixed start-up 5 s (1 worker) / 6 s (2 workers), work 1 s and 0.5 s per MB
    runs = {
        "clean": {
            f"{n}x": {
                "1w": _run(3 + n, 300 + n, n, xml_mb_per_cpu_s=1.0),
                "1mp": _run(5 + n, 500 + n, n),
                "2w": _run(6 + n / 2, 900 + n, n),
            }
            for n in (1, 4, 16)
        },
        "wikiextractor": {f"{n}x": {"1w": _run(n, 70, n, xml_mb_per_cpu_s=2.0)} for n in (1, 16)},
    }
    summary = summarize(runs)["clean"]
    assert summary["speedup_1_to_2_workers"] == {"1x": 0.92, "4x": 1.12, "16x": 1.5}
    assert summary["speedup_default_to_2_workers"] == {"1x": 0.62, "4x": 0.88, "16x": 1.36}
    assert summary["marginal_speedup_1_to_2_workers"] == {"4x..16x": 2.0}
    assert summary["rss_ratio_16x_over_1x_1w"] == round(316 / 301, 2)
    assert summary["rss_mib_per_input_mb_2w"] == 1.0
    assert summary["vs_wikiextractor_per_cpu_s"] == {"1x": 0.5, "16x": 0.5}


def test_failed_runs_are_left_out():
    runs = {
        "shards": {
            "1x": {"1mp": _run(10, 1, 1), "2w": {"ok": False, "seconds": 3.0}},
            "4x": {"1mp": _run(20, 1, 4), "2w": _run(12, 1, 4)},
        }
    }
    summary = summarize(runs)["shards"]
    assert summary["speedup_1_to_2_workers"] == {"4x": 1.67}
    assert "marginal_speedup_1_to_2_workers" not in summary  # needs two sizes with both runs
