"""The learning-rate schedule of pretraining and fine-tuning: linear warmup, then linear decay.

One function for both, so a change to the schedule reaches every trainer (trainer/pretrain.py
reads TrainConfig's steps; trainer/finetune.py counts its own from epochs and warmup_ratio).
"""

from __future__ import annotations

from trainer.train_config import TrainConfig


def linear_warmup_decay(optimizer, warmup_steps: int, max_steps: int):
    """Linear warmup to the optimizer's lr over warmup_steps, then linear decay to 0 at
    max_steps (a LambdaLR: one ``step()`` per optimizer step)."""
    import torch

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (max_steps - step) / max(1, max_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def make_scheduler(optimizer, cfg: TrainConfig):
    """Linear warmup to cfg.lr over warmup_steps, then linear decay to 0 at max_steps."""
    return linear_warmup_decay(optimizer, cfg.warmup_steps, cfg.max_steps)
