"""Shared fixtures. ``shared_data`` finds ../shared/data (env BERTCORPUS_SHARED_DATA overrides);
under CI=true a missing folder fails the run instead of skipping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# Beam's multi_processing DirectRunner starts fresh worker processes that unpickle DoFns by
# module name; they inherit PYTHONPATH, so test modules (package ``tests``) import there too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
)


def _shared_data_dir() -> Path:
    env = os.environ.get("BERTCORPUS_SHARED_DATA")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = _shared_data_dir()
    if not (path / "SOURCES.md").is_file():
        message = (
            f"shared test data not found at {path} "
            "(set BERTCORPUS_SHARED_DATA to the folder holding SOURCES.md)"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def one_torch_thread():
    """Tiny models train faster on one thread, and xdist runs two test processes on 2 cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
