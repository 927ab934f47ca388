"""Embryology: when does the encoder learn POS and sentiment? Frozen linear probes at every kept
checkpoint of a run (``trainer.pretrain --keep_checkpoints``) and every layer, beside two
baselines: the same network at random init, and the input word embeddings alone.

POS: word level (first sub-token), UD English-EWT dev split 80/20 by document exactly as the
fine-tuning task splits it. Sentiment: a sentence probe on [CLS] and on the mean token vector,
trained on RT polarity snippets (those overlapping SST-2 dev removed), tested on SST-2 dev.
"""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import dataclass

import numpy as np

from trainer.analysis.features import sentence_features, static_word_features, word_features
from trainer.analysis.linear_probe import ProbeConfig, probe_accuracy
from trainer.checkpoint import KEPT_CHECKPOINT
from trainer.tasks import capped
from trainer.tasks.pos import DEFAULT_DATA as UD_EWT
from trainer.tasks.pos import UPOS_TAGS, read_conllu, split_by_document
from trainer.tasks.sentiment import DEFAULT_TEST as SST2_DEV
from trainer.tasks.sentiment import DEFAULT_TRAIN as RT_POLARITY
from trainer.tasks.sentiment import overlap_filter, read_examples

_KEPT = re.compile(re.escape(KEPT_CHECKPOINT).replace(r"\{step\}", r"(\d+)") + "$")


@dataclass(frozen=True)
class ProbeData:
    """Word-level POS and sentence-level sentiment splits, read once for every model."""

    pos_train: list[list[str]]
    pos_train_y: np.ndarray
    pos_test: list[list[str]]
    pos_test_y: np.ndarray
    sent_train: list[str]
    sent_train_y: np.ndarray
    sent_test: list[str]
    sent_test_y: np.ndarray
    counts: dict[str, int]


def load_probe_data(
    data_dir: str, max_sentences: int = 0, max_texts: int = 0, seed: int = 0
) -> ProbeData:
    """max_sentences / max_texts cap the POS sentences and sentiment texts per split (0: all)."""
    counts: dict[str, int] = {}
    sentences = read_conllu(os.path.join(data_dir, UD_EWT), counts)
    train, test, _ = split_by_document(sentences, seed)
    train = capped(train, max_sentences, seed, "probe-pos-train")
    test = capped(test, max_sentences, seed, "probe-pos-test")
    tag = {t: i for i, t in enumerate(UPOS_TAGS)}
    rt = read_examples(os.path.join(data_dir, RT_POLARITY), "--train", counts)
    sst = capped(
        read_examples(os.path.join(data_dir, SST2_DEV), "--test", counts),
        max_texts,
        seed,
        "probe-sst",
    )
    keep, overlap = overlap_filter([t for t, _ in rt], [t for t, _ in sst])
    counts.update(overlap)
    rt = capped([e for e, k in zip(rt, keep, strict=True) if k], max_texts, seed, "probe-rt")
    return ProbeData(
        [s.words for s in train],
        np.array([tag[t] for s in train for t in s.tags]),
        [s.words for s in test],
        np.array([tag[t] for s in test for t in s.tags]),
        [t for t, _ in rt],
        np.array([y for _, y in rt]),
        [t for t, _ in sst],
        np.array([y for _, y in sst]),
        counts,
    )


def kept_checkpoints(run_dir: str) -> list[tuple[int, str]]:
    """(step, path) of RUN_DIR/checkpoint-STEP.pt, by step; the final checkpoint.pt is added
    when no kept file has its step."""
    from trainer.checkpoint import CHECKPOINT_FILE, read_checkpoint

    found = {}
    for path in glob.glob(os.path.join(run_dir, KEPT_CHECKPOINT.format(step="*"))):
        match = _KEPT.search(os.path.basename(path))
        if match:
            found[int(match.group(1))] = path
    final = os.path.join(run_dir, CHECKPOINT_FILE)
    if os.path.isfile(final):
        step = int(read_checkpoint(final)["step"])
        found.setdefault(step, final)
    return sorted(found.items())


def probe_model(model, text, data: ProbeData, cfg: ProbeConfig, max_len: int = 128) -> list[dict]:
    """Probe accuracies of one model: POS per layer and on static embeddings, sentiment per
    layer with [CLS] and mean pooling. One record per (task, layer)."""
    records = []
    train = word_features(model, text, data.pos_train, "first", max_len)
    test = word_features(model, text, data.pos_test, "first", max_len)
    classes = len(UPOS_TAGS)
    for layer in range(train.shape[0]):
        acc = probe_accuracy(
            train[layer], data.pos_train_y, test[layer], data.pos_test_y, classes, cfg
        )
        records.append({"task": "pos", "layer": layer, "accuracy": acc})
    static_train = static_word_features(model, text, data.pos_train, "first")
    static_test = static_word_features(model, text, data.pos_test, "first")
    acc = probe_accuracy(static_train, data.pos_train_y, static_test, data.pos_test_y, classes, cfg)
    records.append({"task": "pos", "layer": "static", "accuracy": acc})
    for pool in ("cls", "mean"):
        train = sentence_features(model, text, data.sent_train, pool, max_len)
        test = sentence_features(model, text, data.sent_test, pool, max_len)
        for layer in range(train.shape[0]):
            acc = probe_accuracy(
                train[layer], data.sent_train_y, test[layer], data.sent_test_y, 2, cfg
            )
            records.append({"task": f"sentiment_{pool}", "layer": layer, "accuracy": acc})
    return records


def random_init(cfg, seed: int):
    """The same architecture at random init (seeded), in eval mode: the no-pretraining baseline."""
    import torch

    from schemas.hashing import stable_hash
    from trainer.model import BertForPretraining

    torch.manual_seed(stable_hash(seed, "probe-random-init") & ((1 << 63) - 1))
    return BertForPretraining(cfg).eval()


def run_embryology(
    run_dir: str,
    text,
    data: ProbeData,
    cfg: ProbeConfig,
    steps: list[int] | None = None,
    cache_dir: str | None = None,
    log=print,
) -> dict:
    """Probe records for the random-init baseline (step None) and each kept checkpoint
    (optionally only ``steps``).

    With ``cache_dir``, each model's records are stored there and reused while the probe
    settings and data are unchanged: probing a run while it trains costs each checkpoint once.
    """
    from trainer.checkpoint import load_run_model

    checkpoints = [(s, p) for s, p in kept_checkpoints(run_dir) if steps is None or s in steps]
    if not checkpoints:
        raise FileNotFoundError(f"{run_dir}: no checkpoint-STEP.pt or checkpoint.pt to probe")
    settings = {"l2": cfg.l2, "max_iter": cfg.max_iter, "seed": cfg.seed, **_data_summary(data)}
    records, model_cfg = [], None
    for step, path in [*checkpoints, (None, None)]:  # None: the random-init baseline
        name = os.path.basename(path) if path else "random_init"
        cache = os.path.join(cache_dir, f"{name}.json") if cache_dir else None
        mine = _cached(cache, settings, step)
        if mine is None:
            if path:
                model, _ = load_run_model(run_dir, path)
                model_cfg = model.cfg
            else:
                model_cfg = model_cfg or load_run_model(run_dir, checkpoints[-1][1])[0].cfg
                model = random_init(model_cfg, cfg.seed)
            mine = [{"model": name, "step": step, **r} for r in probe_model(model, text, data, cfg)]
            _store(cache, settings, step, mine)
        records += mine
        log(f"probed {name}: {_summary(mine)}")
    return {
        "run": run_dir,
        "steps": [s for s, _ in checkpoints],
        "num_layers": max(r["layer"] for r in records if isinstance(r["layer"], int)),
        "probe": {"l2": cfg.l2, "max_iter": cfg.max_iter, "seed": cfg.seed},
        "data": {**_data_summary(data), **data.counts},
        "records": records,
    }


def _data_summary(data: ProbeData) -> dict:
    return {
        "pos_train_words": int(len(data.pos_train_y)),
        "pos_test_words": int(len(data.pos_test_y)),
        "sentiment_train": len(data.sent_train),
        "sentiment_test": len(data.sent_test),
    }


def _cached(path: str | None, settings: dict, step) -> list[dict] | None:
    if not path or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    same = saved.get("settings") == settings and saved.get("step") == step
    return saved["records"] if same else None


def _store(path: str | None, settings: dict, step, records: list[dict]) -> None:
    if path:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump({"settings": settings, "step": step, "records": records}, f)
        os.replace(path + ".tmp", path)


def _summary(records: list[dict]) -> str:
    pos = [r for r in records if r["task"] == "pos"]
    return " ".join(f"pos[{r['layer']}]={r['accuracy']:.3f}" for r in pos)
