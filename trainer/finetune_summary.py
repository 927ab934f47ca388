"""What a fine-tuning run reports: seed and fold metrics pooled into mean ± std, one line.

``summarise`` builds metrics.json's content (trainer/finetune.py adds throughput and writes
it); ``summary_line`` is the line the command prints.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict

# Count names of input that was not used: malformed rows, sentences without tags, SQuAD answers
# that do not match their context, training examples removed for test overlap.
BAD_INPUT_PREFIXES = ("malformed", "overlap_removed", "sentences_", "answers_")


def summarise(cfg, encoder, data, per_seed: list[list[dict]]) -> dict:
    """Fold metrics -> per-seed values (folds pooled, weighted by test examples) -> mean, std.
    ``cfg``: the run's FinetuneConfig (untyped here: trainer/finetune.py imports this module)."""
    weights = [fold.test_examples for fold in data.folds]
    keys = [k for k in per_seed[0][0] if all(k in m for folds in per_seed for m in folds)]

    def pooled(folds: list[dict], key: str) -> float:
        return sum(w * m[key] for w, m in zip(weights, folds, strict=True)) / sum(weights)

    seeds = {key: [pooled(folds, key) for folds in per_seed] for key in keys}
    main = seeds[data.metric]
    result = {
        "task": data.task,
        "metric": data.metric,
        "mean": statistics.fmean(main),
        "std": statistics.stdev(main) if len(main) > 1 else 0.0,
        "per_seed": main,
        "metrics": {k: _mean_std(v) for k, v in seeds.items()},
        "model": cfg.model,
        "random_init": encoder.random,
        "fresh_parts": encoder.fresh_parts,
        "train_examples": data.train_examples,
        "test_examples": data.test_examples,
        "train_features": sum(len(f.train) for f in data.folds),
        "counts": data.counts,
        "files": data.files,
        "config": asdict(cfg),
    }
    if len(data.folds) > 1:
        result["folds"] = {
            fold.name: {k: _mean_std([s[f][k] for s in per_seed]) for k in keys}
            for f, fold in enumerate(data.folds)
        }
    return result


def _mean_std(values: list[float]) -> dict[str, float]:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std}


def summary_line(result: dict) -> str:
    return (
        f"{result['task']} {result['metric']} {result['mean']:.4f} ± {result['std']:.4f} "
        f"({len(result['per_seed'])} seeds) model={result['model']} "
        f"train={result['train_examples']} test={result['test_examples']} "
        f"removed/bad={_bad(result['counts'])} {result['examples_per_s']:.0f} ex/s"
    )


def _bad(counts: dict[str, int]) -> int:
    return sum(v for k, v in counts.items() if k.startswith(BAD_INPUT_PREFIXES))
