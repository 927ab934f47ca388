"""rte: sentence-pair classification ([CLS] A [SEP] B [SEP], segment ids 0/1), accuracy.

GLUE RTE TSV: ``sentence1 sentence2 label idx`` with a header and CSV-style ``"`` quoting.
Labels are 0/1 (0 = entailment, as in HF datasets) or GLUE's words. With no test file the
accuracy is k-fold cross-validated: folds are disjoint, cover every example, and are fixed by
``split_seed`` (so every model and training seed sees the same folds); each example is then
predicted exactly once and the accuracy pools all folds.
"""

from __future__ import annotations

import csv

from schemas.hashing import stable_hash
from trainer.tasks import (
    Fold,
    TaskConfig,
    TaskData,
    TaskInputError,
    accuracy,
    capped,
    default_path,
    require,
)
from trainer.tasks.encoding import TextEncoder
from trainer.tasks.features import Feature

DEFAULT_TRAIN = "eval/nli_rte/rte_dev.tsv"
COLUMNS = ("sentence1", "sentence2", "label")
LABEL_IDS = {"0": 0, "1": 1, "entailment": 0, "not_entailment": 1}

Example = tuple[str, str, int]  # (premise, hypothesis, label)


def read_rte_tsv(path: str, counts: dict[str, int]) -> list[Example]:
    """Rows with the wrong field count, an empty sentence or an unknown label are counted."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter="\t", quotechar='"')
        header = next(rows, [])
        if any(column not in header for column in COLUMNS):
            raise TaskInputError(f"{path}: header {header} lacks one of {COLUMNS}")
        a_col, b_col, label_col = (header.index(c) for c in COLUMNS)
        examples = []
        for row in rows:
            if not row:
                continue
            ok = len(row) == len(header) and row[label_col].strip() in LABEL_IDS
            if not ok or not row[a_col].strip() or not row[b_col].strip():
                counts["malformed_rows"] = counts.get("malformed_rows", 0) + 1
                continue
            examples.append((row[a_col].strip(), row[b_col].strip(), LABEL_IDS[row[label_col]]))
    return examples


def kfold(n: int, k: int, seed: int) -> list[list[int]]:
    """Test indices of each of k folds: disjoint, covering range(n), sizes differ by <= 1."""
    if not 2 <= k <= n:
        raise TaskInputError(f"--folds {k}: need 2 <= folds <= {n} examples")
    order = sorted(range(n), key=lambda i: stable_hash(seed, "kfold", i))
    return [sorted(order[f::k]) for f in range(k)]


def to_features(examples: list[Example], encoder: TextEncoder, max_len: int, counts) -> list:
    premises = encoder.ids([a for a, _, _ in examples])
    hypotheses = encoder.ids([b for _, b, _ in examples])
    features = []
    for (_, _, label), a, b in zip(examples, premises, hypotheses, strict=True):
        input_ids, segments, truncated = encoder.pair(a, b, max_len)
        counts["truncated"] = counts.get("truncated", 0) + truncated
        features.append(Feature(input_ids, segments, label))
    return features


def _fold(name: str, train: list[Feature], test: list[Feature]) -> Fold:
    gold = [int(f.label) for f in test]  # type: ignore[arg-type]  # sequence labels are ints

    def score(predict) -> dict[str, float]:
        return accuracy(gold, [int(logits.argmax()) for logits in predict(test)])

    return Fold(name, train, test, len(test), score)


def load(cfg: TaskConfig, encoder: TextEncoder) -> TaskData:
    train_path = require(cfg.train or default_path(cfg, DEFAULT_TRAIN), "--train")
    counts: dict[str, int] = {}
    examples = read_rte_tsv(train_path, counts)
    counts["train_read"] = len(examples)
    files = {"train": train_path}
    # every example is encoded once: folds share the features (and the truncation count)
    features = to_features(examples, encoder, cfg.max_seq_len, counts)
    if cfg.test:
        files["test"] = require(cfg.test, "--test")
        test_examples = read_rte_tsv(cfg.test, counts)
        counts["test_read"] = len(test_examples)
        test = to_features(test_examples, encoder, cfg.max_seq_len, counts)
        test = capped(test, cfg.max_test_examples, cfg.split_seed, "rte-test")
        train = capped(features, cfg.max_train_examples, cfg.split_seed, "rte-train")
        folds = [_fold("test", train, test)]
        n_train, n_test = len(train), len(test)
    else:
        folds, trained = [], set()
        for f, held_out in enumerate(kfold(len(features), cfg.folds, cfg.split_seed)):
            held = set(held_out)
            train = [i for i in range(len(features)) if i not in held]
            train = capped(train, cfg.max_train_examples, cfg.split_seed, f"rte-train-{f}")
            test = capped(held_out, cfg.max_test_examples, cfg.split_seed, f"rte-test-{f}")
            folds.append(
                _fold(f"fold{f}", [features[i] for i in train], [features[i] for i in test])
            )
            trained.update(train)
        n_train, n_test = len(trained), sum(fold.test_examples for fold in folds)
    return TaskData("rte", "sequence", 2, "accuracy", folds, n_train, n_test, counts, files)
