"""Downstream tasks for fine-tuning: each module reads one standard data format and turns it
into ``Feature`` folds plus a scorer. ``load_task(name, cfg, encoder)`` is the one entry.

    sst2  sentence classification   GLUE TSV or RT polarity folder  accuracy
    rte   sentence-pair classif.    GLUE RTE TSV (CSV quoting)      accuracy (k-fold CV)
    pos   token tagging             CoNLL-U UPOS                    word accuracy
    ner   token tagging             CoNLL BIO                       entity F1
    squad extractive QA             SQuAD v1.1 / v2.0 JSON          F1 (and EM, HasAns/NoAns)
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from schemas.cli import UserError
from schemas.hashing import stable_hash
from trainer.tasks.encoding import TextEncoder
from trainer.tasks.features import Feature

TASK_MODULES = {
    "sst2": "trainer.tasks.sentiment",
    "rte": "trainer.tasks.rte",
    "pos": "trainer.tasks.pos",
    "ner": "trainer.tasks.ner",
    "squad": "trainer.tasks.squad",
}

SHARED_DATA_ENV = "BERTCORPUS_SHARED_DATA"


def shared_data_dir() -> str:
    """Where the standard evaluation files live: $BERTCORPUS_SHARED_DATA, else ../shared/data."""
    return os.environ.get(SHARED_DATA_ENV) or os.path.join("..", "shared", "data")


HeadKind = Literal["sequence", "token", "span"]
POOLINGS = ("cls", "mean")  # what a sequence head reads: pooled [CLS], or the tokens' mean
# features -> one logits array per feature ([labels], [L, labels] or [L, 2])
Predict = Callable[[list[Feature]], list[np.ndarray]]


class TaskInputError(UserError):
    """A task's input cannot be used at all (missing file, empty split): one-line message."""


@dataclass(frozen=True)
class TaskConfig:
    train: str | None = None  # None: the task's default file(s)
    test: str | None = None  # None: a split of the training data (folds / held-out part)
    data_dir: str | None = None  # where default files live (../shared/data)
    max_seq_len: int = 128
    split_seed: int = 0  # fixes folds and held-out splits: the same for every model and seed
    folds: int = 5
    max_train_examples: int = 0  # 0: all; else a seeded subset per fold (quick runs, tests)
    max_test_examples: int = 0
    doc_stride: int = 64  # squad: tokens between the starts of overlapping context windows
    max_query_len: int = 32  # squad: question tokens kept
    max_answer_len: int = 30  # squad: longest predicted answer, in tokens


@dataclass
class Fold:
    """One train/test pair; ``score(predict)`` predicts what it needs and returns metrics
    (the task's main metric among them)."""

    name: str
    train: list[Feature]
    test: list[Feature]
    test_examples: int
    score: Callable[[Predict], dict[str, float]]


@dataclass
class TaskData:
    task: str
    head: HeadKind
    num_labels: int
    metric: str  # the main metric's key in score()'s dict
    folds: list[Fold]
    train_examples: int  # distinct examples trained on, all folds together
    test_examples: int
    counts: dict[str, int] = field(default_factory=dict)  # input accounting, bad input
    files: dict[str, str] = field(default_factory=dict)


def load_task(name: str, cfg: TaskConfig, encoder: TextEncoder) -> TaskData:
    if name not in TASK_MODULES:
        raise TaskInputError(f"unknown task {name!r}; choose from {sorted(TASK_MODULES)}")
    return importlib.import_module(TASK_MODULES[name]).load(cfg, encoder)


def default_path(cfg: TaskConfig, relative: str) -> str:
    """A default input under the shared data folder (--data_dir)."""
    if not cfg.data_dir:
        raise TaskInputError(f"no input given and no --data_dir for the default {relative}")
    return os.path.join(cfg.data_dir, relative)


def require(path: str, flag: str) -> str:
    if not os.path.exists(path):
        raise TaskInputError(f"{flag}: {path}: no such file or directory")
    return path


def capped(items: list, limit: int, seed: int, salt: str) -> list:
    """At most ``limit`` items (0: all): a seeded subset, in the original order."""
    if not limit or len(items) <= limit:
        return items
    ranked = sorted(range(len(items)), key=lambda i: stable_hash(seed, salt, i))
    return [items[i] for i in sorted(ranked[:limit])]


def accuracy(gold: list[int], predicted: list[int]) -> dict[str, float]:
    correct = sum(g == p for g, p in zip(gold, predicted, strict=True))
    return {"accuracy": correct / max(1, len(gold))}
