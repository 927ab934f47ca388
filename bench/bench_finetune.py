"""Fine-tuning: a real BERT folder on the four tasks with our defaults (scores and seconds), and
SST-2 fine-tuning by ours vs transformers' ``Trainer`` + ``AutoModelForSequenceClassification``.

Both sides get the same data (our sst2 loader: RT polarity minus its SST-2 overlap, as token
ids), the same model folder, epochs, batch size, learning rate, warmup, weight decay, length
cap, seeds and threads; the peer pads each batch to its longest row (DataCollatorWithPadding,
its default random order), and once more with its ``group_by_length`` sampler. Examples/s is
training examples x epochs over the wall time of the training call (and over its CPU time:
on a shared machine that does not count waiting for a core). No weights ship with the
repository, so without a model folder the benchmark skips and says so.

    python -m bench.bench_finetune --model PATH/TO/bert-base-uncased [--threads 2] \
        [--tasks sst2,rte,pos,squad] [--seeds 3] [--epochs 3] [--max_train_examples 0]
    BERTCORPUS_BENCH_BERT=PATH make bench    # bench.run's stage "finetune" (quick: 1 seed)
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import sys
import time

MODEL_ENV = "BERTCORPUS_BENCH_BERT"
DEFAULT_TASKS = "sst2,rte,pos,squad"


def ours_on_tasks(args: argparse.Namespace) -> dict:
    from trainer.encoder import load_encoder
    from trainer.finetune import finetune, parse_args

    encoder, out = load_encoder(args.model), {}
    for task in args.tasks.split(","):
        cfg = parse_args(_finetune_argv(args, task, os.path.join(args.output_dir, task)))
        m = finetune(cfg, encoder)
        out[task] = {k: m[k] for k in ("metric", "mean", "std", "per_seed", "examples_per_s")}
        out[task]["seconds"] = round(m["seconds"], 1)
    return out


def _finetune_argv(args: argparse.Namespace, task: str, output: str) -> list[str]:
    argv = ["--task", task, "--model", args.model, "--output", output]
    for name in (
        "seeds",
        "epochs",
        "batch_size",
        "max_seq_len",
        "lr",
        "threads",
        "max_train_examples",
        "data_dir",
    ):
        value = getattr(args, name)
        if value not in (None, ""):
            argv += [f"--{name}", str(value)]
    return argv


Run = tuple[float, float, float]  # (accuracy, wall seconds, CPU seconds) of one training


def peer_sst2(args: argparse.Namespace, fold, seed: int, grouped: bool) -> Run:
    """transformers Trainer on our sst2 features -> (accuracy, wall and CPU seconds)."""
    import numpy as np
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        DataCollatorWithPadding,
        PreTrainedTokenizerFast,
        Trainer,
    )

    text = args.encoder.text
    pad_token = text.tokenizer.id_to_token(text.pad_id)
    pad = PreTrainedTokenizerFast(tokenizer_object=text.tokenizer, pad_token=pad_token)
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=2)
    trainer = Trainer(
        model=model,
        args=_peer_arguments(args, seed, grouped),
        train_dataset=_dataset(fold.train),
        data_collator=DataCollatorWithPadding(pad),
    )
    wall, cpu = time.perf_counter(), time.process_time()
    trainer.train()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    logits = trainer.predict(_dataset(fold.test)).predictions
    gold = np.asarray([f.label for f in fold.test])
    return float((logits.argmax(-1) == gold).mean()), wall, cpu


def _peer_arguments(args: argparse.Namespace, seed: int, grouped: bool):
    """TrainingArguments with our recipe: AdamW (fused, eps 1e-6, decay 0.01), 10% warmup."""
    import torch
    from transformers import TrainingArguments

    sampling = {}
    if grouped:  # the flag's name changed in transformers 5
        names = inspect.signature(TrainingArguments.__init__).parameters
        sampling = (
            {"train_sampling_strategy": "group_by_length"}
            if "train_sampling_strategy" in names
            else {"group_by_length": True}
        )
    return TrainingArguments(
        output_dir=os.path.join(args.output_dir, "peer"),
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size * 2,
        learning_rate=args.lr,
        warmup_steps=0.1,  # a ratio, as ours (--warmup_ratio 0.1)
        weight_decay=0.01,
        adam_epsilon=1e-6,
        seed=seed,
        use_cpu=not torch.cuda.is_available(),
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        **sampling,
    )


def _dataset(features):
    from datasets import Dataset

    return Dataset.from_dict(
        {
            "input_ids": [f.input_ids for f in features],
            "token_type_ids": [f.token_type_ids for f in features],
            "attention_mask": [[1] * len(f.input_ids) for f in features],
            "labels": [f.label for f in features],
        }
    )


def ours_sst2(args: argparse.Namespace, data, seed: int) -> Run:
    """trainer.finetune's training of one seed on the same fold -> (accuracy, wall, CPU s)."""
    from functools import partial

    import torch

    from trainer.finetune import parse_args as finetune_args
    from trainer.finetune import predict, train_fold

    cfg = finetune_args(_finetune_argv(args, "sst2", args.output_dir))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    (fold,) = data.folds
    wall, cpu = time.perf_counter(), time.process_time()
    net, _, _ = train_fold(args.encoder, data, fold, cfg, seed, device)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    pad_id = args.encoder.text.pad_id
    scores = fold.score(partial(predict, net, cfg=cfg, device=device, pad_id=pad_id))
    return scores["accuracy"], wall, cpu


def compare_sst2(args: argparse.Namespace, data) -> dict:
    """Seeds interleaved (ours, peer, peer grouped; next seed), so load from other processes
    on a shared machine falls on all three alike; CPU seconds (process time) are reported
    beside wall time because they do not count the time spent waiting for a core."""
    (fold,) = data.folds
    runs: dict[str, list[Run]] = {"ours": [], "trainer": [], "trainer_grouped": []}
    for seed in range(args.seeds):
        runs["ours"].append(ours_sst2(args, data, seed))
        runs["trainer"].append(peer_sst2(args, fold, seed, grouped=False))
        runs["trainer_grouped"].append(peer_sst2(args, fold, seed, grouped=True))
    trained = len(fold.train) * args.epochs
    out = {name: _summary(r, trained) for name, r in runs.items()}
    for unit in ("examples_per_s", "examples_per_cpu_s"):
        ours = out["ours"][unit]
        out[f"speedup_{unit}"] = ours / out["trainer"][unit]
        out[f"speedup_vs_grouped_{unit}"] = ours / out["trainer_grouped"][unit]
    return out


def _summary(runs: list[Run], trained_per_seed: int) -> dict:
    accuracies = [a for a, _, _ in runs]
    std = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    trained = trained_per_seed * len(runs)
    return {
        "accuracy_mean": statistics.fmean(accuracies),
        "accuracy_std": std,
        "per_seed": accuracies,
        "examples_per_s": trained / sum(wall for _, wall, _ in runs),
        "examples_per_cpu_s": trained / sum(cpu for _, _, cpu in runs),
    }


def run(quick: bool = False, argv: list[str] | None = None) -> dict:
    """bench.run's entry: the model folder comes from $BERTCORPUS_BENCH_BERT (else a skip)."""
    argv = list(argv or [])
    if "--model" not in argv and os.environ.get(MODEL_ENV):
        argv += ["--model", os.environ[MODEL_ENV]]
    if quick:
        argv += ["--seeds", "1", "--epochs", "1", "--max_train_examples", "2000"]
    args = parse_args(argv)
    if not args.model:
        return {"skipped": f"no BERT folder: pass --model PATH or set ${MODEL_ENV}"}
    import torch
    import torch._dynamo  # noqa: F401  (imported by the first optimizer; not on either clock)

    from trainer.encoder import load_encoder
    from trainer.finetune import parse_args as finetune_args
    from trainer.runtime import set_cpu_math
    from trainer.tasks import load_task

    set_cpu_math(args.threads)  # process-wide: ours and transformers' Trainer run alike
    args.encoder = load_encoder(args.model)
    cfg = finetune_args(_finetune_argv(args, "sst2", args.output_dir))
    limit = args.encoder.cfg.max_position_embeddings
    data = load_task("sst2", cfg.task_config(limit), args.encoder.text)
    settings = ("seeds", "epochs", "batch_size", "max_seq_len", "lr", "threads")
    result = {
        "model": args.model,
        "settings": {k: getattr(args, k) for k in settings},
        "sst2_train_examples": len(data.folds[0].train),
        "sst2": compare_sst2(args, data),
    }
    if args.tasks:
        result["tasks"] = ours_on_tasks(args)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_finetune", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model", default="", help=f"BERT folder (default: ${MODEL_ENV})")
    parser.add_argument(
        "--tasks", default=DEFAULT_TASKS, help="our suite after the comparison; '' skips it"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--max_seq_len", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max_train_examples", type=int, default=0)
    parser.add_argument("--data_dir", default="")
    parser.add_argument("--output_dir", default="out/bench_finetune")
    parser.add_argument("--output", default="", help="also write the result JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    result = run(argv=argv)
    print(json.dumps(result, indent=2))
    if "skipped" in result:
        print(f"bench_finetune skipped: {result['skipped']}", file=sys.stderr)
    elif args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
