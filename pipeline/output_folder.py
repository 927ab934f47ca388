"""A job's claim on its output folder: refuse one that holds another run, clear our old outputs
otherwise, and record this run in ``stats.json`` before anything else is written.

The run record (schemas/run_record.py) is written at the start, so a run that fails or is
interrupted can be rerun with the same flags; the finished job rewrites stats.json with its
counters and the same record. Local folders and any Beam filesystem (gs://, s3://) work alike.
"""

from __future__ import annotations

import json
import os

from schemas.run_record import (
    RUN_FIELD,
    STATS_FILE,
    RunIdentity,
    claim_local,
    matching,
    refusal,
)

# Everything the Beam jobs write into an output folder (clean, vocab, shards); --overwrite
# removes only these, so a user's own files in the folder stay.
JOB_OUTPUTS = (
    "docs-*.arrow",
    "bin*-*.arrow",
    "*.arrow.tmp",
    "manifest.json",
    "manifest.json.tmp",
    STATS_FILE,
    "rejected",
    "dropped",
    "_spill",
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab_report.json",
)


def _is_remote(folder: str) -> bool:
    return "://" in folder and not folder.startswith("file://")


def recorded_run(folder: str) -> dict | None:
    """The run record in FOLDER/stats.json, or None (no file, unreadable, no record)."""
    from apache_beam.io.filesystems import FileSystems

    path = FileSystems.join(folder, STATS_FILE)
    try:
        with FileSystems.open(path) as f:
            stats = json.loads(f.read())
    except (OSError, ValueError):  # missing (Beam raises IOError/BeamIOError) or not JSON
        return None
    return stats.get(RUN_FIELD) if isinstance(stats, dict) else None


def _remote_outputs(folder: str) -> tuple[list[str], list[str]]:
    """(our output names directly under a remote folder, every object path under them)."""
    from apache_beam.io.filesystems import FileSystems

    prefix = folder.rstrip("/") + "/"
    paths = [m.path for m in FileSystems.match([prefix + "**"])[0].metadata_list]
    tops = {p[len(prefix) :].split("/", 1)[0]: p for p in paths}
    names = matching(tops, JOB_OUTPUTS)
    return names, [p for p in paths if p[len(prefix) :].split("/", 1)[0] in names]


def claim_output(folder: str, identity: RunIdentity, *, overwrite: bool) -> None:
    """Refuse ``folder`` (UserError) if it holds another run and not ``overwrite``; else remove
    our old outputs there and write the start record of ``identity`` to stats.json."""
    from apache_beam.io.filesystems import FileSystems

    old = recorded_run(folder)
    if _is_remote(folder):
        names, paths = _remote_outputs(folder)
        why = refusal(folder, identity, names, old)
        if why and not overwrite:
            from schemas.cli import UserError

            raise UserError(why)
        if paths:
            FileSystems.delete(paths)
    else:
        local = folder.removeprefix("file://")
        claim_local(local, identity, JOB_OUTPUTS, old, overwrite=overwrite)
        os.makedirs(local, exist_ok=True)
    with FileSystems.create(FileSystems.join(folder, STATS_FILE)) as f:
        f.write(json.dumps({RUN_FIELD: identity.record()}, indent=2, sort_keys=True).encode())
