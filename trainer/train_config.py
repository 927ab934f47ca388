"""The settings of a pretraining run (TrainConfig): one frozen dataclass whose field metadata
also makes ``trainer.pretrain``'s command line, validated once when it is built."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KEEP_ALL = "all"  # --keep_checkpoints given alone
_NON_NEGATIVE = ("warmup_steps", "save_every", "eval_every", "threads", "num_workers", "stop_after")


def _opt(default: Any, help: str, **parser_kwargs: Any) -> Any:
    return field(default=default, metadata={"help": help, **parser_kwargs})


@dataclass(frozen=True)
class TrainConfig:
    shards: tuple[str, ...] = field(metadata={"help": "shard set folder(s), comma-separated"})
    output: str = field(metadata={"help": "RUN_DIR for log.jsonl, checkpoint.pt, eval.json"})
    model_size: str = _opt("tiny", "model preset", choices=("tiny", "mini", "small", "base"))
    max_steps: int = _opt(1000, "optimizer steps in total (the schedule's length)")
    batch_size: int = _opt(32, "examples per step and rank")
    lr: float = _opt(1e-4, "peak learning rate (AdamW)")
    warmup_steps: int = _opt(100, "linear warmup steps, then linear decay to 0 at max_steps")
    weight_decay: float = _opt(0.01, "AdamW weight decay (never on biases and LayerNorm)")
    grad_clip: float = _opt(1.0, "max global gradient norm; 0 turns clipping off")
    adam_betas: tuple[float, ...] = _opt((0.9, 0.999), "AdamW betas, comma-separated")
    adam_eps: float = _opt(1e-6, "AdamW epsilon (BERT: 1e-6)")
    dropout: float = _opt(0.1, "hidden and attention dropout")
    seed: int = _opt(0, "seeds model init, dropout, batch order and masks")
    device: str = _opt("auto", "auto: cuda when available", choices=("auto", "cpu", "cuda"))
    threads: int = _opt(0, "torch intra-op threads; 0 keeps torch's default")
    precision: str = _opt("fp32", "bf16: autocast matmuls to bfloat16", choices=("fp32", "bf16"))
    log_every: int = _opt(10, "steps per log line (losses averaged over the window)")
    save_every: int = _opt(0, "steps between checkpoints; 0: only at the end")
    keep_checkpoints: str = _opt(
        "",
        "also keep RUN_DIR/checkpoint-STEP.pt: alone, at step 0, every --save_every and the end;"
        " or at the comma-separated steps given (resume still reads checkpoint.pt)",
        nargs="?",
        const=KEEP_ALL,
    )
    eval_shards: tuple[str, ...] = _opt((), "held-out shard set folder(s), comma-separated")
    eval_batches: int = _opt(50, "batches per evaluation (at most one pass)")
    eval_every: int = _opt(0, "steps between evaluations; 0: only at the end")
    masking: str = _opt("token", "MLM masking", choices=("token", "whole_word", "span"))
    mask_rate: float = _opt(0.15, "fraction of maskable tokens predicted")
    num_workers: int = _opt(0, "DataLoader worker processes of the loader")
    resume: bool = _opt(False, "continue from RUN_DIR/checkpoint.pt")
    init_from: str = _opt("", "start from this Hugging Face BERT folder (sets the model size)")
    export_hf: bool = _opt(False, "at the end, write RUN_DIR/hf for transformers (trainer.export)")
    stop_after: int = _opt(0, "stop (checkpointed) at this step, as if preempted; 0: max_steps")
    tensorboard: bool = _opt(False, "also write TensorBoard events to RUN_DIR/tensorboard")

    def __post_init__(self) -> None:
        if not self.shards:
            raise ValueError("--shards: give at least one shard set folder")
        for name in ("max_steps", "batch_size", "log_every", "eval_batches"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}")
        for name in _NON_NEGATIVE:
            if getattr(self, name) < 0:
                raise ValueError(f"--{name} must be >= 0, got {getattr(self, name)}")
        if len(self.adam_betas) != 2:
            raise ValueError(f"--adam_betas takes two numbers, got {self.adam_betas}")
        self.kept_steps()  # validates --keep_checkpoints

    def kept_steps(self) -> frozenset[int] | None:
        """Steps whose checkpoint is kept as checkpoint-STEP.pt (None: every saved one)."""
        if self.keep_checkpoints in ("", KEEP_ALL):
            return None if self.keep_checkpoints else frozenset()
        try:
            steps = frozenset(int(s) for s in split_list(self.keep_checkpoints))
        except ValueError:
            raise ValueError(
                f"--keep_checkpoints: steps or nothing, got {self.keep_checkpoints!r}"
            ) from None
        if not steps or min(steps) < 0:
            raise ValueError(f"--keep_checkpoints: steps >= 0, got {self.keep_checkpoints!r}")
        return steps

    def keeps(self, step: int) -> bool:
        """Whether the checkpoint saved at ``step`` is also kept as checkpoint-STEP.pt."""
        steps = self.kept_steps()
        if steps is None:
            every = self.save_every and step % self.save_every == 0
            return step in (0, self.max_steps) or bool(every)
        return step in steps


def split_list(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split(",") if part)


def float_list(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in split_list(text))
