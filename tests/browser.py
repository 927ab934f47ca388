"""Headless Chromium (the Debian ``chromium`` package) for tests: load a local page, return
its DOM after the load event and every console message, or take a screenshot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Chromium logs each console message as `...:CONSOLE:1] "text", source: URL (line)` (older
# builds: `CONSOLE(1)]`), at INFO level whatever the message's own level.
_CONSOLE = re.compile(r"CONSOLE[:(]\d*\)?\]? ?(.*)")


def chromium_or_skip() -> str:
    """The chromium binary; skip without it, but fail under CI=true (.ci/run installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "chromium is not installed (apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message + "; CI must have it: .ci/run installs it")
    pytest.skip(message + "; the browser test is skipped outside CI")


def _run(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def load(binary: str, page: Path, profile: Path) -> tuple[str, list[str]]:
    """(DOM after the load event, console messages) of a local page."""
    done = _run(
        binary, profile, "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000",
        "--dump-dom", page.resolve().as_uri(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    console = [m.group(1) for line in done.stderr.splitlines() if (m := _CONSOLE.search(line))]
    return done.stdout, console


def screenshot(binary: str, page: Path, png: Path, profile: Path) -> Path:
    done = _run(binary, profile, f"--screenshot={png}", "--window-size=1200,3000",
                "--hide-scrollbars", page.resolve().as_uri())  # fmt: skip
    assert done.returncode == 0 and png.exists(), done.stderr[-2000:]
    return png
