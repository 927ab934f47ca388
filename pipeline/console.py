"""What a job shows on the terminal while it runs: nothing but a progress line.

Beam's DirectRunner logs ~100 WARNING lines per job ("No semi_persistent_directory found",
"Discarding unparseable args"), most of them from worker processes it starts: those write
straight to file descriptor 2, so muting Python loggers alone cannot silence them. A job
therefore runs with fd 2 pointed at a temporary file (``captured_stderr``); the capture is
replayed when the job fails (not for a user error: its one line says it all) and shown as it
happens with ``--verbose``. The progress line (``Ticker``) writes to the original terminal,
only when it is one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator

from schemas.cli import UserError

NOISY_LOGGERS = ("apache_beam", "absl", "urllib3", "google", "matplotlib", "tensorflow")
REPLAY_LINES = 60  # tail of the captured log shown when a job fails


def quiet_libraries(verbose: bool) -> None:
    """Library loggers to ERROR and warnings off, unless ``verbose``."""
    if verbose:
        logging.basicConfig(level=logging.INFO)
        return
    logging.getLogger().setLevel(logging.ERROR)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.simplefilter("ignore")


@contextlib.contextmanager
def captured_stderr(enabled: bool = True) -> Iterator[int]:
    """Point fd 2 (this process and every child it starts) at a temporary file; yield a file
    descriptor of the real stderr. On an exception, replay the capture's tail before it."""
    real = os.dup(2)
    if not enabled:
        try:
            yield real
        finally:
            os.close(real)
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield real
        except BaseException as exc:
            _restore(real)
            if not isinstance(exc, UserError):  # a user error's one line says it all
                log.seek(0)
                tail = log.read().decode("utf-8", "replace").splitlines()[-REPLAY_LINES:]
                print("\n".join(["-- last lines of the job's log --", *tail]), file=sys.stderr)
            raise
        finally:
            _restore(real)
            os.close(real)


def _restore(real: int) -> None:
    sys.stderr.flush()
    os.dup2(real, 2)


def folder_bytes(path: str) -> int:
    """Bytes under a local folder so far (0 for remote URIs or a missing folder)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, name))
    return total


class Ticker:
    """A one-line progress display (elapsed time, bytes written so far) on a terminal."""

    def __init__(self, label: str, output: str, fd: int, interval: float = 0.5) -> None:
        self.label, self.output, self.interval = label, output, interval
        self.stream = os.fdopen(os.dup(fd), "w", encoding="utf-8", errors="replace")
        self.enabled = self.stream.isatty()
        self.start = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Ticker:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join()
            self.stream.write("\r\033[K")
        self.stream.close()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def line(self, frame: int) -> str:
        spin = "|/-\\"[frame % 4]
        line = f"{spin} {self.label}: {self.seconds:6.1f} s"
        if "://" in self.output:  # a remote folder: listing it every tick would cost requests
            return line
        return f"{line}, {folder_bytes(self.output) / 1e6:.1f} MB written"

    def _loop(self) -> None:
        frame = 0
        while not self._stop.wait(self.interval):
            self.stream.write("\r\033[K" + self.line(frame))
            self.stream.flush()
            frame += 1
