"""Write a downstream task's training texts, without labels, for task-adaptive pretraining.

    python -m trainer.task_text --task sst2 --output FILE [--data_dir DIR] [--overwrite]

FILE gets one training text per line: exactly the texts ``trainer.finetune --task sst2``
trains on, so every text that equals, contains or is contained in a test sentence is already
removed (trainer/tasks/sentiment.py). Cleaned and packed with the corpus (``pipeline.corpus
--extra_text FILE``), it lets pretraining see the task's domain — Gururangan et al. 2020,
"Don't Stop Pretraining" (TAPT) — while the test split stays unseen; no label is written.
A summary line with the counts is printed; an existing FILE is refused unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import importlib
import os

from schemas.cli import CommandParser, UserError, add_debug_flag, run_command
from trainer.tasks import TASK_MODULES, TaskConfig, shared_data_dir

# Tasks whose module has train_texts(cfg, counts): single-text tasks, where a line is a text.
TEXT_TASKS = ("sst2",)


def task_texts(task: str, data_dir: str | None) -> tuple[list[str], dict[str, int]]:
    """(training texts, input counts) of ``task`` with its default files under ``data_dir``."""
    module = importlib.import_module(TASK_MODULES[task])
    counts: dict[str, int] = {}
    texts = module.train_texts(TaskConfig(data_dir=data_dir or shared_data_dir()), counts)
    # One text per line: a line break inside a text would split it into two documents.
    return [" ".join(text.splitlines()) for text in texts], counts


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="python -m trainer.task_text", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", required=True, choices=TEXT_TASKS)
    parser.add_argument("--output", required=True, help="text file to write")
    parser.add_argument(
        "--data_dir",
        default=None,
        help="folder of the standard files (default: $BERTCORPUS_SHARED_DATA or ../shared/data)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing FILE")
    add_debug_flag(parser)
    return parser


def main(argv: list[str]) -> dict:
    args = _parser().parse_args(argv)
    if os.path.exists(args.output) and not args.overwrite:
        raise UserError(f"{args.output} exists (--overwrite replaces it)")
    texts, counts = task_texts(args.task, args.data_dir)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(text + "\n" for text in texts)
    os.replace(tmp, args.output)
    summary = {"task": args.task, "output": args.output, "texts": len(texts), **counts}
    print(
        f"{args.task}: {len(texts)} training texts -> {args.output} "
        f"({counts.get('train_read', 0)} read, {counts.get('overlap_removed', 0)} overlapping "
        f"the test split removed)"
    )
    return summary


if __name__ == "__main__":
    run_command(main)
