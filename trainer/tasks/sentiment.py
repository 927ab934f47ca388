"""sst2: sentence classification ([CLS] -> linear), accuracy.

Trains on a GLUE-style TSV (``sentence<TAB>label`` with a header) or the RT polarity folder
(``rt-polarity.pos`` / ``rt-polarity.neg``, one snippet per line), tests on the SST-2 dev TSV.
SST was built from the same Rotten Tomatoes snippets: 731 of the 872 SST-2 dev sentences equal
an RT snippet (lower-cased, letters and digits only) and 871 are contained in one. So every
training example that equals, contains or is contained in a test sentence is removed before
training, and the counts go to metrics.json.
"""

from __future__ import annotations

import bisect
import os

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

DEFAULT_TRAIN = "eval/sentiment_rt_polarity"
DEFAULT_TEST = "eval/sst2/sst2_glue_dev.tsv"
RT_FILES = {"rt-polarity.pos": 1, "rt-polarity.neg": 0}
SENTENCE_COLUMN, LABEL_COLUMN = "sentence", "label"
LABELS = (0, 1)  # negative, positive

Example = tuple[str, int]  # (sentence, label)


def read_glue_tsv(path: str, counts: dict[str, int]) -> list[Example]:
    """GLUE sentence TSV with a header naming ``sentence`` and ``label`` columns.

    GLUE's single-sentence files are not CSV-quoted (sentences contain bare ``"``), so rows are
    split on tabs. A row with the wrong field count or label is counted, not guessed.
    """
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\r\n").split("\t")
        if SENTENCE_COLUMN not in header or LABEL_COLUMN not in header:
            raise TaskInputError(f"{path}: header {header} lacks '{SENTENCE_COLUMN}'/'label'")
        text_col, label_col = header.index(SENTENCE_COLUMN), header.index(LABEL_COLUMN)
        examples = []
        for line in f:
            fields = line.rstrip("\r\n").split("\t")
            if line.strip() == "":
                continue
            label = fields[label_col].strip() if len(fields) == len(header) else ""
            if not label.isdigit() or int(label) not in LABELS or not fields[text_col].strip():
                counts["malformed_rows"] = counts.get("malformed_rows", 0) + 1
                continue
            examples.append((fields[text_col].strip(), int(label)))
    return examples


def read_rt_polarity(folder: str, counts: dict[str, int]) -> list[Example]:
    """Pang & Lee sentence polarity v1.0: positive then negative snippets, blank lines counted."""
    examples = []
    for name, label in RT_FILES.items():
        with open(require(os.path.join(folder, name), "--train"), encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    counts["malformed_rows"] = counts.get("malformed_rows", 0) + 1
                    continue
                examples.append((line.strip(), label))
    return examples


def overlap_key(text: str) -> str:
    """The comparison form: lower-cased, letters and digits only (tokenisation-proof)."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def overlap_filter(train: list[str], test: list[str]) -> tuple[list[bool], dict[str, int]]:
    """Which training texts to keep, and why the others go.

    A training text goes when its key equals a test key, contains one, or is contained in
    one. Containment is found by substring search over all keys joined with a separator that
    no key contains, so it costs two passes, not |train| x |test| comparisons.
    """
    train_keys, test_keys = [overlap_key(t) for t in train], [overlap_key(t) for t in test]
    test_set = {k for k in test_keys if k}
    joined = "\x00".join(train_keys)
    starts = [0]
    for key in train_keys[:-1]:
        starts.append(starts[-1] + len(key) + 1)
    contains_test = set()
    for key in test_set:
        at = joined.find(key)
        while at != -1:
            contains_test.add(bisect.bisect_right(starts, at) - 1)
            at = joined.find(key, at + 1)
    joined_test = "\x00" + "\x00".join(test_keys) + "\x00"
    counts = {"overlap_equal": 0, "overlap_contains_test": 0, "overlap_in_test": 0}
    keep = []
    for i, key in enumerate(train_keys):
        reason = None
        if key in test_set:
            reason = "overlap_equal"
        elif i in contains_test:
            reason = "overlap_contains_test"
        elif key and key in joined_test:
            reason = "overlap_in_test"
        keep.append(reason is None)
        if reason:
            counts[reason] += 1
    counts["overlap_removed"] = keep.count(False)
    return keep, counts


def read_examples(path: str, flag: str, counts: dict[str, int]) -> list[Example]:
    if os.path.isdir(require(path, flag)):
        return read_rt_polarity(path, counts)
    return read_glue_tsv(path, counts)


def to_features(examples: list[Example], encoder: TextEncoder, max_len: int, counts) -> list:
    features = []
    for (_, label), ids in zip(examples, encoder.ids([t for t, _ in examples]), strict=True):
        input_ids, segments, truncated = encoder.single(ids, max_len)
        counts["truncated"] = counts.get("truncated", 0) + truncated
        features.append(Feature(input_ids, segments, label))
    return features


def train_test(
    cfg: TaskConfig, counts: dict[str, int]
) -> tuple[list[Example], list[Example], dict[str, str]]:
    """The training examples (test overlap removed, capped) and the test examples."""
    train_path = cfg.train or default_path(cfg, DEFAULT_TRAIN)
    test_path = cfg.test or default_path(cfg, DEFAULT_TEST)
    train = read_examples(train_path, "--train", counts)
    test = read_examples(test_path, "--test", counts)
    counts["train_read"], counts["test_read"] = len(train), len(test)
    test = capped(test, cfg.max_test_examples, cfg.split_seed, "sst2-test")
    keep, overlap = overlap_filter([t for t, _ in train], [t for t, _ in test])
    counts.update(overlap)
    train = capped(
        [e for e, k in zip(train, keep, strict=True) if k],
        cfg.max_train_examples,
        cfg.split_seed,
        "sst2-train",
    )
    if not train or not test:
        raise TaskInputError(f"sst2: {len(train)} training / {len(test)} test examples left")
    return train, test, {"train": train_path, "test": test_path}


def train_texts(cfg: TaskConfig, counts: dict[str, int]) -> list[str]:
    """The texts fine-tuning trains on, without labels (trainer.task_text)."""
    return [text for text, _ in train_test(cfg, counts)[0]]


def load(cfg: TaskConfig, encoder: TextEncoder) -> TaskData:
    counts: dict[str, int] = {}
    train, test, files = train_test(cfg, counts)
    test_features = to_features(test, encoder, cfg.max_seq_len, counts)
    gold = [label for _, label in test]

    def score(predict) -> dict[str, float]:
        return accuracy(gold, [int(logits.argmax()) for logits in predict(test_features)])

    fold = Fold(
        "dev", to_features(train, encoder, cfg.max_seq_len, counts), test_features, len(test), score
    )
    return TaskData(
        "sst2",
        "sequence",
        len(LABELS),
        "accuracy",
        [fold],
        len(train),
        len(test),
        counts,
        files,
    )
