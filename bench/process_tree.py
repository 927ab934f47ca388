"""Peak memory of a benchmarked command: the RSS of its whole process tree (Beam's
multi_processing runner and the portable runner start worker processes; RUSAGE_CHILDREN
would report only the largest single child), sampled while it runs."""

from __future__ import annotations

import subprocess
import time


def watch(proc: subprocess.Popen, timeout: float | None = None) -> tuple[float, int]:
    """Wait for ``proc``: (wall seconds, peak summed RSS in bytes); killed past ``timeout``."""
    import psutil

    started = time.perf_counter()
    root, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs))
        except psutil.Error:  # a process ended between listing and reading it
            pass
        if timeout is not None and time.perf_counter() - started > timeout:
            proc.kill()
        time.sleep(0.02)
    return time.perf_counter() - started, peak
