"""Fine-tune an encoder on one downstream task over several seeds; report mean ± std.

    python -m trainer.finetune --task sst2 --model runs/tiny --output out/ft/sst2 \
        [--train FILE] [--test FILE] [--seeds 3] [--epochs 3] [--lr 5e-5] [--threads 2]

MODEL is a trainer.pretrain run folder, any BERT folder, or ``random:MODEL`` (trainer/encoder.py).
Tasks and their files: trainer/tasks/. OUT_DIR/metrics.json holds the main metric's mean, std
and per-seed values, every other metric averaged over seeds (and per fold), the input counts
(bad rows, removed overlap, truncation) and training throughput; one summary line is printed.

Each seed fixes the head's (and a random encoder's) init, the batch order and dropout. Heads
train with AdamW, linear warmup then linear decay to 0, for a fixed number of epochs: nothing is
chosen by looking at the test split.

An OUT_DIR holding another run's metrics is refused unless ``--overwrite``; a user error is
one ``error:`` line, exit status 2 (``--debug``: the traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from functools import partial
from typing import Any

from schemas.cli import CommandParser, add_debug_flag, run_command, user_errors
from schemas.run_record import RUN_FIELD
from trainer.finetune_summary import summarise, summary_line
from trainer.tasks import POOLINGS, SHARED_DATA_ENV, TASK_MODULES, TaskConfig, shared_data_dir

METRICS_FILE = "metrics.json"
_SEED_MASK = (1 << 63) - 1


def _opt(default: Any, help: str, **kwargs: Any) -> Any:
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass(frozen=True)
class FinetuneConfig:
    task: str = field(metadata={"help": "downstream task", "choices": tuple(TASK_MODULES)})
    model: str = field(metadata={"help": "run folder, BERT folder, or random:MODEL"})
    output: str = field(metadata={"help": "OUT_DIR for metrics.json"})
    train: str = _opt("", "training file/folder (default: the task's standard file)")
    test: str = _opt("", "test file (default: the task's standard file, or a split/folds)")
    data_dir: str = _opt(
        "", f"folder of the standard files (default: ${SHARED_DATA_ENV} or ../shared/data)"
    )
    seeds: int = _opt(
        3, "training seeds (first_seed, first_seed + 1, ...): mean and std over these"
    )
    first_seed: int = _opt(0, "the first training seed")
    epochs: int = _opt(3, "passes over the training data")
    lr: float = _opt(5e-5, "peak learning rate (AdamW)")
    batch_size: int = _opt(32, "examples per step")
    max_seq_len: int = _opt(128, "longest input in tokens (capped by the model's positions)")
    warmup_ratio: float = _opt(0.1, "fraction of steps with linear warmup, then linear decay")
    weight_decay: float = _opt(0.01, "AdamW weight decay (not on biases and LayerNorm)")
    dropout: float = _opt(0.1, "dropout in the encoder and before the head")
    pooling: str = _opt(
        "cls",
        "sst2/rte: pooled [CLS] (BERT), or the mean of the last layer (for encoders "
        "pretrained without a pair task: their [CLS] and pooler are untrained)",
        choices=POOLINGS,
    )
    grad_clip: float = _opt(1.0, "max global gradient norm; 0 turns clipping off")
    threads: int = _opt(0, "torch intra-op threads; 0 keeps torch's default")
    device: str = _opt("auto", "auto: cuda when available", choices=("auto", "cpu", "cuda"))
    split_seed: int = _opt(0, "seed of folds and held-out splits (same for every model)")
    folds: int = _opt(5, "rte: cross-validation folds when there is no --test")
    max_train_examples: int = _opt(0, "0: all; else a seeded subset (quick runs)")
    max_test_examples: int = _opt(0, "0: all; else a seeded subset (quick runs)")
    doc_stride: int = _opt(64, "squad: stride between overlapping context windows, in tokens")
    max_query_len: int = _opt(32, "squad: question tokens kept")
    max_answer_len: int = _opt(30, "squad: longest predicted answer, in tokens")

    def __post_init__(self) -> None:
        for name in ("seeds", "epochs", "batch_size", "folds", "doc_stride", "max_answer_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}")
        if self.max_seq_len < 16:
            raise ValueError(f"--max_seq_len must be >= 16, got {self.max_seq_len}")

    def task_config(self, max_positions: int) -> TaskConfig:
        return TaskConfig(
            train=self.train or None,
            test=self.test or None,
            data_dir=self.data_dir or shared_data_dir(),
            max_seq_len=min(self.max_seq_len, max_positions),
            split_seed=self.split_seed,
            folds=self.folds,
            max_train_examples=self.max_train_examples,
            max_test_examples=self.max_test_examples,
            doc_stride=self.doc_stride,
            max_query_len=self.max_query_len,
            max_answer_len=self.max_answer_len,
        )


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="python -m trainer.finetune", description=__doc__.split("\n\n")[0])
    for f in fields(FinetuneConfig):
        meta, required = dict(f.metadata), f.default is MISSING
        if not required:
            meta["help"] += f" (default: {f.default})" if f.default != "" else ""
        kind = str if required else type(f.default)
        parser.add_argument(f"--{f.name}", type=kind, required=required, default=None, **meta)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the metrics of another run in OUT_DIR"
    )
    add_debug_flag(parser)
    return parser


def parse_args(argv: list[str] | None = None) -> FinetuneConfig:
    return _config(_parser().parse_args(argv))


def _config(args: argparse.Namespace) -> FinetuneConfig:
    names = {f.name for f in fields(FinetuneConfig)}
    with user_errors(ValueError):  # FinetuneConfig's checks of the flag values
        return FinetuneConfig(
            **{k: v for k, v in vars(args).items() if k in names and v is not None}
        )


def main(argv: list[str] | None = None) -> dict:
    """Run the command (a user error: one ``error:`` line, exit 2); returns metrics.json."""
    return run_command(_main, argv)


def _main(argv: list[str]) -> dict:
    from schemas.run_record import RunIdentity, claim_folder
    from trainer.run_outputs import FINETUNE_OUTPUTS, settings_of

    args = _parser().parse_args(argv)
    cfg = _config(args)
    settings = settings_of(asdict(cfg), paths=("model", "train", "test", "data_dir"))
    identity = RunIdentity("finetune", settings)
    claim_folder(cfg.output, identity, FINETUNE_OUTPUTS, record=METRICS_FILE,
                 overwrite=args.overwrite)  # fmt: skip
    return finetune(cfg, record=identity.record())


def finetune(cfg: FinetuneConfig, encoder=None, *, record: dict | None = None) -> dict:
    """Run every seed (and fold) of one task; write and return metrics.json's content
    (with the run ``record`` of the command, schemas/run_record.py, where given)."""
    import torch

    from trainer.encoder import load_encoder
    from trainer.runtime import set_cpu_math
    from trainer.tasks import load_task

    set_cpu_math(cfg.threads)
    want_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if want_cuda else "cpu")
    encoder = encoder or load_encoder(cfg.model)
    started = time.perf_counter()
    data = load_task(cfg.task, cfg.task_config(encoder.cfg.max_position_embeddings), encoder.text)
    per_seed: list[list[dict[str, float]]] = []  # seed -> fold -> metrics
    pad_id = encoder.text.pad_id
    trained, train_seconds, losses = 0, 0.0, []
    for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds):
        fold_metrics = []
        for fold in data.folds:
            net, seconds, loss = train_fold(encoder, data, fold, cfg, seed, device)
            losses.append(loss)
            trained, train_seconds = trained + len(fold.train) * cfg.epochs, train_seconds + seconds
            fold_metrics.append(
                fold.score(partial(predict, net, cfg=cfg, device=device, pad_id=pad_id))
            )
        per_seed.append(fold_metrics)
    result = summarise(cfg, encoder, data, per_seed)
    result["examples_per_s"] = trained / max(train_seconds, 1e-9)
    result["train_loss"] = statistics.fmean(losses)  # last epoch, mean over seeds and folds
    result["train_seconds"], result["seconds"] = train_seconds, time.perf_counter() - started
    result["device"] = str(device)
    if record is not None:
        result[RUN_FIELD] = record
    write_json(os.path.join(cfg.output, METRICS_FILE), result)
    print(summary_line(result), flush=True)
    return result


def train_fold(encoder, data, fold, cfg: FinetuneConfig, seed: int, device):
    """A fresh encoder + head trained on fold.train -> (model in eval mode, seconds, mean
    training loss of the last epoch)."""
    import torch

    from schemas.hashing import stable_hash
    from trainer.heads import FinetuneModel
    from trainer.optim import linear_warmup_decay
    from trainer.tasks.features import collate, epoch_batches

    torch.manual_seed(stable_hash(seed, "finetune", data.task, fold.name) & _SEED_MASK)
    net = FinetuneModel(
        encoder.new_model(cfg.dropout), data.head, data.num_labels, cfg.dropout, cfg.pooling
    )
    net.to(device).train()
    lengths = [len(f.input_ids) for f in fold.train]
    steps = cfg.epochs * -(-len(lengths) // cfg.batch_size)
    optimizer = make_optimizer(net, cfg)
    scheduler = linear_warmup_decay(optimizer, round(cfg.warmup_ratio * steps), steps)
    started = time.perf_counter()
    order_seed = stable_hash(seed, data.task, fold.name)
    for epoch in range(cfg.epochs):
        batches = epoch_batches(lengths, cfg.batch_size, order_seed, epoch)
        loss_sum = torch.zeros((), device=device)  # summed on device: no sync per step
        for indices in batches:
            arrays = collate([fold.train[i] for i in indices], encoder.text.pad_id)
            batch = {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}
            loss = net.loss(batch, net.logits(batch))
            loss.backward()
            loss_sum += loss.detach()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
    last_epoch_loss = loss_sum.item() / max(1, len(batches))  # .item() waits for the device
    return net.eval(), time.perf_counter() - started, last_epoch_loss


def make_optimizer(net, cfg: FinetuneConfig):
    """AdamW with BERT's betas and epsilon (trainer/optim.py)."""
    from trainer.optim import adamw

    return adamw(net, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.999), eps=1e-6)


def predict(net, features, cfg: FinetuneConfig, device, pad_id: int) -> list:
    """Logits per feature (numpy), padding cut off; batches sorted by length."""
    import torch

    from trainer.tasks.features import collate, eval_batches

    out: list = [None] * len(features)
    with torch.no_grad():
        for indices in eval_batches([len(f.input_ids) for f in features], cfg.batch_size * 2):
            arrays = collate([features[i] for i in indices], pad_id)
            batch = {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}
            logits = net.logits(batch).float().cpu().numpy()
            for row, i in enumerate(indices):
                n = len(features[i].input_ids)
                out[i] = logits[row] if net.kind == "sequence" else logits[row, :n]
    return out


def write_json(path: str, payload: dict) -> None:
    """Written to a temporary name, then renamed: a crashed run never leaves a partial file."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
