"""What a training run shows while it runs: a progress bar on stderr, and TensorBoard events.

The run log (log.jsonl) stays the record; this is its human view. On a terminal the bar is
redrawn in place (step, loss, MLM and pair accuracy, lr, tokens/s, ETA); elsewhere (CI logs,
pipes) each log window becomes one plain line. ``--tensorboard`` also writes the same scalars
as TensorBoard event files under RUN_DIR/tensorboard (needs the ``tensorboard`` package).
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

BAR_WIDTH = 24
TENSORBOARD_DIR = "tensorboard"
SCALARS = ("loss", "mlm_loss", "pair_loss", "mlm_acc", "pair_acc", "lr", "tokens_per_s")


def format_eta(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def bar_line(record: dict, total: int, eta: float | None) -> str:
    """``step 120/200 [#########.....] loss 5.12 mlm 12.3% pair 51.0% lr 9.0e-04 12.3k tok/s
    ETA 0:12`` from one log.jsonl record."""
    step = record["step"]
    filled = round(BAR_WIDTH * step / max(total, 1))
    parts = [f"step {step}/{total} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}]"]
    parts.append(f"loss {record['loss']:.3f}")
    parts.append(f"mlm {100 * record.get('mlm_acc', 0):.1f}%")
    if record.get("pair_acc") is not None:
        parts.append(f"pair {100 * record['pair_acc']:.1f}%")
    parts.append(f"lr {record.get('lr', 0):.1e}")
    tps = record.get("tokens_per_s", 0)
    parts.append(f"{tps / 1000:.1f}k tok/s" if tps >= 1000 else f"{tps:.0f} tok/s")
    if eta is not None:
        parts.append(f"ETA {format_eta(eta)}")
    return "  ".join(parts)


def event_line(record: dict) -> str | None:
    """One line for a start or eval record; None for other events."""
    if record.get("event") == "start":
        return (
            f"training from step {record['step']}: {record.get('parameters', 0) / 1e6:.2f}M "
            f"parameters on {record.get('device')} x{record.get('world_size', 1)}"
        )
    if record.get("event") == "eval":
        acc = [f"{k} {record[k]:.4f}" for k in ("mlm_loss", "mlm_acc", "pair_acc")
               if record.get(k) is not None]  # fmt: skip
        return f"eval at step {record['step']}: " + ", ".join(acc)
    return None


class Progress:
    """Receives every run-log record (trainer.runtime.RunLog) on the main rank."""

    def __init__(
        self,
        total_steps: int,
        *,
        run_dir: str,
        tensorboard: bool = False,
        stream: TextIO | None = None,
    ) -> None:
        self.total = total_steps
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.writer = open_tensorboard(run_dir) if tensorboard else None
        self._open_line = False
        self._first: tuple[float, int] | None = None  # (time, step) of the first window

    def _eta(self, step: int) -> float | None:
        now = time.perf_counter()
        if self._first is None:
            self._first = (now, step)
            return None
        t0, s0 = self._first
        if step <= s0:
            return None
        return (now - t0) / (step - s0) * (self.total - step)

    def update(self, record: dict) -> None:
        line = event_line(record)
        if line is None and "loss" in record:
            line = bar_line(record, self.total, self._eta(record["step"]))
            self._tensorboard(record)
            if self.tty:
                self.stream.write("\r\033[K" + line)
                self.stream.flush()
                self._open_line = True
                return
        if line is None:
            return
        if record.get("event") == "eval":
            self._tensorboard({k: v for k, v in record.items() if k != "lr"}, prefix="eval/")
        self._end_line()
        self.stream.write(line + "\n")
        self.stream.flush()

    def _tensorboard(self, record: dict, prefix: str = "train/") -> None:
        if self.writer is None:
            return
        for key in SCALARS:
            if isinstance(record.get(key), (int, float)):
                self.writer.add_scalar(prefix + key, record[key], record["step"])
        self.writer.flush()

    def _end_line(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False

    def close(self) -> None:
        self._end_line()
        self.stream.flush()
        if self.writer is not None:
            self.writer.close()


def open_tensorboard(run_dir: str):
    """A SummaryWriter on RUN_DIR/tensorboard; a clear error when tensorboard is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise SystemExit(
            "--tensorboard needs the tensorboard package: pip install tensorboard"
        ) from exc
    return SummaryWriter(log_dir=os.path.join(run_dir, TENSORBOARD_DIR))
