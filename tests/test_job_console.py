"""What a job shows: the summary table (pipeline/summary.py), the captured log and the progress
line (pipeline/console.py)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time

import pytest

from pipeline.console import Ticker, captured_stderr
from pipeline.summary import format_table, human, stage_row

CLEAN_STATS = {
    "counters": {"input": 211, "emitted": 110},
    "ledger": {"input": 211, "emitted": 110, "failed": 0,
               "dropped": {"dropped_redirect": 100, "dropped_dup_5gram": 1}},
}  # fmt: skip
SHARDS_STATS = {
    "counters": {"input": 110, "emitted": 110, "tokens_written": 1_079_531},
    "ledger": {"input": 110, "emitted": 110, "failed": 0, "dropped": {}},
}


def test_human_numbers():
    assert [human(n) for n in (7, 9999, 4736.8, 12345, 2_500_000, 3e9, 0.5)] == [
        "7", "9999", "4737", "12.3k", "2.5M", "3.0G", "0.5",
    ]  # fmt: skip


def test_summary_table():
    rows = [
        stage_row("clean wiki_en", "out/en/clean/wiki_en", CLEAN_STATS, 10.0),
        stage_row("shards shards", "out/en/shards", SHARDS_STATS, 4.0),
    ]
    lines = format_table(rows).splitlines()
    assert lines[0].split() == ["stage", "input", "kept", "dropped", "failed", "tokens",
                                "seconds", "throughput"]  # fmt: skip
    assert lines[2].split() == ["clean", "wiki_en", "211", "110", "101", "(redirect", "100,",
                                "dup_5gram", "1)", "0", "-", "10.0", "21.1", "docs/s"]  # fmt: skip
    assert "1.1M" in lines[3] and "269.9k tok/s" in lines[3]
    assert lines[4] == "output  clean wiki_en  out/en/clean/wiki_en"
    assert lines[5] == "output  shards shards  out/en/shards"
    assert len({len(line) for line in lines[:2]}) == 1  # header and rule line up


def test_child_process_log_is_captured_and_replayed_on_failure(capfd):
    noisy = [sys.executable, "-c", "import sys; print('WARNING: noise', file=sys.stderr)"]
    with captured_stderr():
        subprocess.run(noisy, check=True)  # as Beam's worker processes write to fd 2
    assert "noise" not in capfd.readouterr().err
    with pytest.raises(RuntimeError), captured_stderr():
        subprocess.run(noisy, check=True)
        raise RuntimeError("job failed")
    err = capfd.readouterr().err
    assert "last lines of the job's log" in err and "WARNING: noise" in err


def test_progress_line_only_on_a_terminal(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "docs-00000.arrow").write_bytes(b"x" * 2_000_000)
    leader, follower = pty.openpty()
    with Ticker("clean books", str(tmp_path / "out"), follower, interval=0.05):
        time.sleep(0.3)
    shown = os.read(leader, 65536).decode()
    assert "clean books:" in shown and "2.0 MB written" in shown
    read_end, write_end = os.pipe()
    with Ticker("clean books", str(tmp_path / "out"), write_end, interval=0.05) as ticker:
        time.sleep(0.2)
    os.close(write_end)
    assert not ticker.enabled and os.read(read_end, 100) == b""
    for fd in (leader, follower, read_end):
        os.close(fd)
