"""What each trainer command writes into its output folder, and its claim on that folder.

The rule is the Beam jobs' (schemas/run_record.py): running the same settings again into a
folder is allowed; a folder holding another run (other settings or inputs) is refused, with
what differs, unless ``--overwrite``, which removes only the names listed here, so a user's
own files in the folder stay. Each command records its run in a file it writes anyway:
pretraining in log.jsonl's start line, fine-tuning in metrics.json, the suite in report.json,
a probe in NAME.json, an export in HF_DIR/export_run.json.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from schemas.cli import UserError
from schemas.run_record import RunIdentity, absolute, claim_folder, local_outputs, read_record
from schemas.run_record import refusal as refusal_of
from trainer.progress import TENSORBOARD_DIR
from trainer.runtime import EVAL_FILE, LOG_FILE

HF_SUBDIR = "hf"  # where trainer.pretrain --export_hf writes, inside RUN_DIR
PRETRAIN_OUTPUTS = (
    LOG_FILE,
    "checkpoint*.pt",
    "checkpoint*.pt.tmp",
    f"{EVAL_FILE}*",
    HF_SUBDIR,
    f"{HF_SUBDIR}.tmp",
    TENSORBOARD_DIR,
)
# Pretraining settings that change neither the model nor the data stream.
_NOT_PRETRAIN_IDENTITY = (
    "output",
    "resume",
    "threads",
    "num_workers",
    "device",
    "stop_after",
    "tensorboard",
)
FINETUNE_OUTPUTS = ("metrics.json", "metrics.json.tmp")
# trainer.evaluate: its report and one folder per model ("0-runs_tiny", "1-random-...").
EVALUATE_OUTPUTS = ("report.json", "report.json.tmp", "report.md", "report.png", "[0-9]-*",
                    "[0-9][0-9]-*")  # fmt: skip
EXPORT_RECORD = "export_run.json"
# An HF folder as trainer.hf.save_hf writes it, plus our record of the export.
EXPORT_OUTPUTS = (
    "config.json",
    "model.safetensors",
    "README.md",
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    EXPORT_RECORD,
)
# Settings of the fine-tuning and probe commands that only change speed.
SPEED_ONLY = ("output", "threads", "device", "debug", "overwrite")


def path_setting(value: str) -> str:
    """A path that exists made absolute (the same run from another folder); other values
    (``random:tiny``, an empty default) as given."""
    return absolute(value) if value and os.path.exists(value) else value


def settings_of(values: Mapping[str, Any], paths: Iterable[str] = ()) -> dict:
    """``values`` without SPEED_ONLY, the ``paths`` among them through path_setting."""
    paths = set(paths)
    return {
        k: path_setting(v) if k in paths and isinstance(v, str) else v
        for k, v in values.items()
        if k not in SPEED_ONLY
    }


def pretrain_identity(cfg) -> RunIdentity:
    """A TrainConfig's identity: the settings that shape the model and the data stream."""
    settings = {k: v for k, v in asdict(cfg).items() if k not in _NOT_PRETRAIN_IDENTITY}
    for name in ("shards", "eval_shards"):
        settings[name] = [absolute(d) for d in settings[name]]
    settings["init_from"] = path_setting(cfg.init_from)
    return RunIdentity("pretrain", settings)


def claim_pretrain(cfg, *, overwrite: bool) -> None:
    """A fresh start may use OUTPUT unless it holds another run (then only with ``overwrite``);
    the old run's files are removed first. A resume continues what is there (checked when the
    checkpoint loads)."""
    if cfg.resume:
        if overwrite:
            raise UserError("--overwrite starts the run over; it cannot go with --resume")
        return
    if int(os.environ.get("RANK", 0)) == 0:  # before the ranks meet: the others wait there
        identity = pretrain_identity(cfg)
        claim_folder(cfg.output, identity, PRETRAIN_OUTPUTS, record=LOG_FILE, overwrite=overwrite)


def check_folder(
    folder: str, identity: RunIdentity, patterns: Iterable[str], record: str, *, overwrite: bool
) -> None:
    """Refuse ``folder`` as claim_folder would, removing nothing (the command replaces its
    outputs itself, atomically, once it has succeeded)."""
    found = local_outputs(folder, patterns)
    why = refusal_of(folder, identity, found, read_record(os.path.join(folder, record)))
    if why and not overwrite:
        raise UserError(why)
