"""Which run an output folder holds, and whether a new run may write there.

A second run into a folder used to replace the first silently (45k examples replaced by
8.7k). Every job now records its identity, a fingerprint of the job's name, settings and
inputs, in a file it already writes (pipeline jobs: ``stats.json``; pretraining: the first
line of ``log.jsonl``) and refuses a folder that holds our outputs from another run, unless
``--overwrite``. Rerunning the same settings is allowed. Removal only ever touches names the
job family writes (``patterns``): a user's own files in the folder are left alone.

Used by the Beam jobs and the trainer, so it imports only the standard library; the jobs
list and remove remote (gs://) folders through Beam's FileSystems (pipeline/output_folder.py).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.cli import UserError

RUN_FIELD = "run"  # the key of the record in stats.json / log.jsonl's start event
STATS_FILE = "stats.json"  # every Beam job's counters, ledger and run record
_SHOWN_DIFFERENCES = 3
_SHOWN_VALUE_CHARS = 60


@dataclass(frozen=True)
class RunIdentity:
    """What makes two runs the same: the job and its output-defining settings (inputs
    included, as absolute paths). Flags that only change speed or logging stay out."""

    job: str
    settings: Mapping[str, Any]

    @property
    def fingerprint(self) -> str:
        text = json.dumps({"job": self.job, "settings": self.settings}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def record(self) -> dict:
        settings = json.loads(json.dumps(self.settings, sort_keys=True, default=str))
        return {"job": self.job, "fingerprint": self.fingerprint, "settings": settings}


def absolute(path: str) -> str:
    """A local path made absolute (the same run from another working directory); URIs as given."""
    return path if "://" in path else os.path.abspath(path)


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str) if value is not None else "unset"
    return text if len(text) <= _SHOWN_VALUE_CHARS else text[: _SHOWN_VALUE_CHARS - 3] + "..."


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """'vocab_size 8000 -> 2000, inputs [...] -> [...]' (the first few differing settings)."""
    before, after = _flat(old), _flat(new)
    keys = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    shown = [f"{k} {_shown(before.get(k))} -> {_shown(after.get(k))}" for k in keys]
    more = len(shown) - _SHOWN_DIFFERENCES
    shown = shown[:_SHOWN_DIFFERENCES] + ([f"{more} more"] if more > 0 else [])
    return ", ".join(shown) or "same settings, another fingerprint"


def refusal(folder: str, identity: RunIdentity, found: list[str], old: Mapping | None) -> str:
    """'' when ``identity`` may write ``folder`` (no outputs of ours there, or the same run
    again); else why not. ``found``: our output names present; ``old``: the recorded run."""
    if not found:
        return ""
    hint = "pass --overwrite to replace it"
    if not old or not isinstance(old, Mapping) or "fingerprint" not in old:
        names = ", ".join(sorted(found)[:4])
        return (
            f"{folder} holds outputs ({names}) of an unfinished run or one made before runs "
            f"were recorded; {hint}"
        )
    if old.get("job") != identity.job:
        return f"{folder} holds a run of {old.get('job')}, not of {identity.job}; {hint}"
    if old["fingerprint"] == identity.fingerprint:
        return ""
    diff = differences(old.get("settings") or {}, identity.record()["settings"])
    return f"{folder} holds another run of {identity.job} ({diff}); {hint}"


def matching(names: Iterable[str], patterns: Iterable[str]) -> list[str]:
    """The ``names`` (entries of one folder) that are outputs of ours by ``patterns``."""
    patterns = tuple(patterns)
    return sorted(n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns))


def local_outputs(folder: str, patterns: Iterable[str]) -> list[str]:
    """Our output names directly inside a local ``folder`` ([] when it does not exist)."""
    if not os.path.isdir(folder):
        if os.path.exists(folder):
            raise UserError(f"{folder}: not a folder")
        return []
    return matching(os.listdir(folder), patterns)


def remove_local(folder: str, names: Iterable[str]) -> None:
    """Remove our outputs ``names`` from ``folder``; the folder and other files stay."""
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)


def claim_local(
    folder: str,
    identity: RunIdentity,
    patterns: Iterable[str],
    old: Mapping | None,
    *,
    overwrite: bool,
    clear_rerun: bool = True,
) -> list[str]:
    """Refuse (UserError) or clear a local folder for ``identity``; returns what was removed.

    ``overwrite``: our old outputs are removed first; the same run again: likewise (nothing of
    a run with more shards is left beside the new ones) unless not ``clear_rerun`` (a command
    whose rerun reuses what it wrote, e.g. the probes' cache).
    """
    found = local_outputs(folder, patterns)
    why = refusal(folder, identity, found, old)
    if why and not overwrite:
        raise UserError(why)
    if not why and not clear_rerun:
        return []
    remove_local(folder, found)
    return found


def read_record(path: str) -> Mapping | None:
    """The run record in a local JSON file (``{"run": ...}``), or in the last line of a
    JSON-lines file that holds one (a resumed training run writes a new start line); None
    when the file is missing, unreadable or holds none."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    lines = text.splitlines() if path.endswith(".jsonl") else [text]
    for line in reversed(lines):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, Mapping) and isinstance(value.get(RUN_FIELD), Mapping):
            return value[RUN_FIELD]
    return None


def claim_folder(
    folder: str,
    identity: RunIdentity,
    patterns: Iterable[str],
    *,
    record: str,
    overwrite: bool,
    clear_rerun: bool = True,
) -> list[str]:
    """claim_local for a local folder whose run is recorded in FOLDER/``record``
    (read_record). The trainer's commands use this; the Beam jobs use pipeline/output_folder."""
    old = read_record(os.path.join(folder, record))
    return claim_local(
        folder, identity, patterns, old, overwrite=overwrite, clear_rerun=clear_rerun
    )
