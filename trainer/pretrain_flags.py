"""trainer.pretrain's command-line flags: one per TrainConfig field, plus --overwrite, --debug.

The flags are derived from TrainConfig's fields (name, default, help metadata), so a new setting
is one field in trainer/train_config.py and appears here by itself.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any

from schemas.cli import CommandParser, add_debug_flag
from trainer.train_config import TrainConfig, float_list, split_list


def flags_parser(description: str) -> argparse.ArgumentParser:
    """The parser of ``python -m trainer.pretrain``; ``description``: its docstring's summary."""
    parser = CommandParser(prog="python -m trainer.pretrain", description=description)
    for f in fields(TrainConfig):
        meta = dict(f.metadata)
        flag, required = f"--{f.name}", f.default is MISSING
        kind: Callable[[str], Any]
        if f.default is False:
            parser.add_argument(flag, action="store_true", help=meta["help"])
            continue
        if f.name in ("shards", "eval_shards"):
            kind = split_list
        elif f.name == "adam_betas":
            kind = float_list
        else:
            kind = str if required else type(f.default)
        if not required:
            shown = f.default
            if isinstance(shown, tuple):
                shown = ",".join(map(str, shown)) or "none"
            meta["help"] += f" (default: {shown})"
        parser.add_argument(flag, type=kind, required=required, default=None, **meta)
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start over in an OUTPUT that holds a run with other settings (its log, "
        "checkpoints, eval.json, hf/ and tensorboard/ are removed first; other files stay)",
    )
    add_debug_flag(parser)
    return parser


def config_of(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from parsed flags; a flag left out keeps the field's default."""
    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in vars(args).items() if k in names and v is not None})
