"""The trainer's progress display (trainer/progress.py): the bar, plain lines off a terminal,
TensorBoard events, and a real run that shows the bar while log.jsonl stays as it was."""

from __future__ import annotations

import io
import json
import os

import pytest
import torch

from tests.example_fixtures import write_example_set
from trainer.pretrain import main as pretrain
from trainer.progress import TENSORBOARD_DIR, Progress, bar_line, format_eta

RECORD = {"step": 50, "loss": 5.1234, "mlm_acc": 0.123, "pair_acc": 0.5, "lr": 9e-4,
          "tokens_per_s": 12345.0}  # fmt: skip


def test_bar_line_shows_every_figure():
    line = bar_line(RECORD, total=200, eta=75)
    assert line.startswith("step 50/200 [######..................]")
    for part in ("loss 5.123", "mlm 12.3%", "pair 50.0%", "lr 9.0e-04", "12.3k tok/s", "ETA 1:15"):
        assert part in line
    assert "pair" not in bar_line({**RECORD, "pair_acc": None}, total=200, eta=None)
    assert format_eta(3725) == "1:02:05"


def test_plain_lines_off_a_terminal():
    out = io.StringIO()
    progress = Progress(100, run_dir="unused", stream=out)
    progress.update({"event": "start", "step": 0, "parameters": 4_400_000, "device": "cpu"})
    progress.update({**RECORD, "step": 10})
    progress.update({**RECORD, "step": 20})
    progress.update({"event": "eval", "step": 20, "mlm_loss": 4.0, "mlm_acc": 0.2, "pair_acc": 0.6})
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "training from step 0: 4.40M parameters on cpu x1"
    assert lines[1].startswith("step 10/100") and "ETA" not in lines[1]
    assert lines[2].startswith("step 20/100") and "ETA" in lines[2]  # from the step rate
    assert lines[3] == "eval at step 20: mlm_loss 4.0000, mlm_acc 0.2000, pair_acc 0.6000"
    assert "{" not in out.getvalue()  # no raw JSON


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("progress_sets")
    write_example_set(root / "train", num_examples=32, seed=3, max_seq_len=64, bin_edges=(32, 64))
    return str(root / "train")


def test_run_shows_progress_and_writes_tensorboard_events(shards, tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    torch.set_num_threads(1)
    run_dir = tmp_path / "run"
    pretrain(["--shards", shards, "--output", str(run_dir), "--max_steps", "4", "--batch_size",
              "8", "--warmup_steps", "1", "--log_every", "2", "--tensorboard"])  # fmt: skip
    captured = capsys.readouterr()
    assert captured.out == ""  # no JSON lines on stdout any more
    assert "step 2/4" in captured.err and "step 4/4" in captured.err
    logged = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "loss" in r] == [2, 4]  # log.jsonl as before
    events = EventAccumulator(os.path.join(run_dir, TENSORBOARD_DIR))
    events.Reload()
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == [2, 4]
    assert losses[-1].value == pytest.approx(logged[-1]["loss"], rel=1e-6)
