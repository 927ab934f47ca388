"""Pretrain a BERT encoder (MLM + NSP/SOP) on example shard sets: one nanoGPT-style loop.

    python -m trainer.pretrain --shards out/en/shards --output runs/tiny --model_size tiny \
        --max_steps 2000 --batch_size 32 --lr 5e-4 [--eval_shards out/en/eval] [--resume]
    torchrun --nproc_per_node 8 -m trainer.pretrain ...   # DDP: RANK/WORLD_SIZE/LOCAL_RANK

RUN_DIR receives log.jsonl (one JSON line per log window and per evaluation), checkpoint.pt
(everything an exact resume needs) and eval.json (the latest evaluation); a RUN_DIR holding a
run with other settings is refused unless ``--overwrite`` (trainer/run_outputs.py), and a user
error is one ``error:`` line, exit status 2 (``--debug``: the traceback). On CPU a resumed run
reproduces the uninterrupted run's losses exactly. Heavy imports live inside functions, so
``--help`` is instant. On CPUs with bf16 support (AVX512-BF16/AMX) ``--precision bf16`` is
~1.4x faster per step than fp32.

The loop is here; its parts live beside it: trainer/model.py (the network), trainer/data.py
(batches), trainer/checkpoint.py (save/resume and tokenizer checks), trainer/metrics.py (log
windows, evaluation), trainer/runtime.py (DDP ranks, CPU allocator, run log),
trainer/optim.py (optimizer and lr schedule) and trainer/pretrain_flags.py (flags from TrainConfig).
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from dataclasses import asdict

from schemas.cli import run_command, user_errors
from schemas.run_record import RUN_FIELD
from trainer.checkpoint import (
    CHECKPOINT_FILE,
    check_shard_identity,
    keep_checkpoint,
    load_checkpoint,
    save_checkpoint,
    shard_tokenizer_dir,
)
from trainer.metrics import Window, evaluate
from trainer.optim import adamw, make_scheduler
from trainer.pretrain_flags import config_of, flags_parser
from trainer.progress import Progress
from trainer.run_outputs import claim_pretrain, pretrain_identity
from trainer.runtime import EVAL_FILE, Distributed, RunLog, set_cpu_math, tune_cpu_allocator
from trainer.train_config import TrainConfig


def _parser() -> argparse.ArgumentParser:
    return flags_parser(__doc__.split("\n\n")[0])


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    return config_of(_parser().parse_args(argv))


def main(argv: list[str] | None = None) -> dict:
    """Train from command-line flags; a user error raises (``run`` makes it one line)."""
    args = _parser().parse_args(argv)
    with user_errors(ValueError):  # TrainConfig's checks of the flag values
        cfg = config_of(args)
    return train(cfg, overwrite=args.overwrite)


def run(argv: list[str] | None = None) -> dict:
    """``main`` as a command: a user error is one ``error:`` line and exit status 2."""
    return run_command(main, argv)


def train(cfg: TrainConfig, *, overwrite: bool = False) -> dict:
    """Run (or resume) training; returns the last log record plus the final evaluation.
    OUTPUT is claimed first (trainer/run_outputs.py)."""
    import torch

    claim_pretrain(cfg, overwrite=overwrite)
    dist = Distributed.from_env(cfg.device)
    if dist.device.type == "cpu":
        tune_cpu_allocator()
    set_cpu_math(cfg.threads)
    with user_errors(ValueError):  # shard sets, checkpoint and settings that do not fit
        run = Run(cfg, dist)
    autocast = torch.autocast(dist.device.type, torch.bfloat16, enabled=cfg.precision == "bf16")
    window, batches = Window(dist.device), _endless(run.data)
    record: dict = {}
    saved_at, evaluation = run.step, None
    run.model.train()
    last = min(cfg.max_steps, cfg.stop_after or cfg.max_steps)
    if run.step == 0 and cfg.keeps(0):  # the run's own random init, for probes over steps
        saved_at = run.save()
    while run.step < last:
        batch = {k: v.to(dist.device, non_blocking=True) for k, v in next(batches).items()}
        with autocast:
            out = run.wrapped(batch)
        out["loss"].backward()
        grad_norm = None
        if cfg.grad_clip > 0:
            grad_norm = torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.grad_clip)
        run.optimizer.step()
        run.scheduler.step()
        run.optimizer.zero_grad(set_to_none=True)
        run.step += 1
        window.add(out, batch["attention_mask"], grad_norm)
        if run.step % cfg.log_every == 0 or run.step == cfg.max_steps:
            record = {
                "step": run.step,
                "epoch": run.data.state_dict()["epoch"],
                "lr": run.scheduler.get_last_lr()[0],
                **window.flush(dist),
            }
            run.log.write(record)
        paused = time.perf_counter()  # evaluation and saving do not count as training time
        if run.eval_data is not None and cfg.eval_every and run.step % cfg.eval_every == 0:
            evaluation = run.evaluate()
        if (cfg.save_every and run.step % cfg.save_every == 0) or cfg.keeps(run.step):
            saved_at = run.save()
        window.exclude(time.perf_counter() - paused)
    if saved_at != run.step:
        run.save()
    result = {"step": run.step, "train": record}
    if run.eval_data is not None and run.step == cfg.max_steps:
        done = evaluation is not None and evaluation["step"] == run.step
        result["eval"] = evaluation if done else run.evaluate()
    if cfg.export_hf and dist.is_main and run.step == cfg.max_steps:
        from trainer.export import export_run
        from trainer.run_outputs import HF_SUBDIR

        result["export_hf"] = export_run(cfg.output, os.path.join(cfg.output, HF_SUBDIR))
    run.log.close()
    # Free the DDP reducer and any gloo work it holds while the process group is alive:
    # left to interpreter shutdown, gloo's threads release tensors after Python is gone and
    # the process aborts ("terminate called without an active exception").
    out = batch = None  # type: ignore[assignment]  # the last step's tensors too
    del run, batches, out, batch
    gc.collect()
    dist.close()
    return result


class Run:
    """Everything a run holds: data, model, optimizer, schedule, step; built or resumed."""

    def __init__(self, cfg: TrainConfig, dist: Distributed) -> None:
        import torch

        from schemas.hashing import stable_hash
        from trainer.masking import MaskingConfig

        self.cfg, self.dist, self.step = cfg, dist, 0
        # Per-rank stream: dropout differs across ranks; DDP broadcasts rank 0's init weights.
        torch.manual_seed(stable_hash(cfg.seed, "torch", dist.rank) & 0x7FFF_FFFF_FFFF_FFFF)
        # cfg.masking is one of MaskingConfig's strategies: argparse choices, re-checked there.
        masking = MaskingConfig(strategy=cfg.masking, mask_rate=cfg.mask_rate)  # type: ignore[arg-type]
        self.data = self._train_data(masking)
        self.identity = check_shard_identity(cfg.shards, self.data)
        if cfg.export_hf:  # fail now, not after training, if the export could not find it
            shard_tokenizer_dir(cfg.shards[0])
        self.model = self._new_model().to(dist.device)
        self.model_cfg = self.model.cfg
        self.optimizer = make_optimizer(self.model, cfg, dist.device)
        self.scheduler = make_scheduler(self.optimizer, cfg)
        if cfg.resume:
            self.step = load_checkpoint(self)
        else:
            self.data.set_epoch(0)
        self.eval_data = self._eval_data(masking) if cfg.eval_shards else None
        self.wrapped = dist.wrap(self.model)
        self.log = self._open_log()

    def _train_data(self, masking):
        from trainer.data import LoaderConfig, PretrainingData

        cfg, dist = self.cfg, self.dist
        loader_cfg = LoaderConfig(batch_size=cfg.batch_size, seed=cfg.seed, masking=masking)
        data = PretrainingData(
            list(cfg.shards),
            loader_cfg,
            rank=dist.rank,
            world_size=dist.world_size,
            num_workers=cfg.num_workers,
            pin_memory=dist.device.type == "cuda",
        )
        if len(data) == 0:
            raise ValueError(f"{cfg.shards}: no batches for rank {dist.rank}; empty shard set?")
        return data

    def _new_model(self):
        """A preset at random init, or --init_from's Hugging Face folder (same vocabulary)."""
        from trainer.model import BertConfig, BertForPretraining

        cfg = self.cfg
        if not cfg.init_from:
            model_cfg = BertConfig.preset(
                cfg.model_size,
                vocab_size=self.data.vocab_size,
                dropout=cfg.dropout,
                attention_dropout=cfg.dropout,
                max_position_embeddings=max(512, self.data.max_seq_len),
            )
            return BertForPretraining(model_cfg)
        from trainer.hf import load_hf_for_shards

        model, fresh = load_hf_for_shards(
            BertForPretraining,
            cfg.init_from,
            self.identity,
            cfg.shards,
            self.data.max_seq_len,
            cfg.dropout,
        )
        if self.dist.is_main:  # a BertModel folder has no pretraining heads: say so
            print(f"--init_from {cfg.init_from}: fresh {', '.join(fresh) or 'none'}")
        return model

    def _eval_data(self, masking):
        """Held-out shards in a fixed order and masks: every evaluation sees the same examples."""
        from trainer.data import LoaderConfig, PretrainingData

        cfg, dist = self.cfg, self.dist
        eval_cfg = LoaderConfig(
            batch_size=cfg.batch_size, seed=cfg.seed, shuffle=False, masking=masking
        )
        data = PretrainingData(
            list(cfg.eval_shards), eval_cfg, rank=dist.rank, world_size=dist.world_size
        )
        check_shard_identity(cfg.eval_shards, data, expect=self.identity)
        return data

    def _open_log(self) -> RunLog:
        cfg, dist = self.cfg, self.dist
        progress = None
        if dist.is_main:  # the bar on stderr (trainer.progress); log.jsonl is unchanged
            progress = Progress(cfg.max_steps, run_dir=cfg.output, tensorboard=cfg.tensorboard)
        log = RunLog(cfg.output, enabled=dist.is_main, keep_until=self.step, progress=progress)
        log.write(
            {
                "event": "start",
                "step": self.step,
                "device": str(dist.device),
                "parameters": self.model.num_parameters(),
                "world_size": dist.world_size,
                "model": asdict(self.model_cfg),
                "init_from": cfg.init_from or None,
                RUN_FIELD: pretrain_identity(cfg).record(),
            }
        )
        return log

    @property
    def checkpoint_path(self) -> str:
        return os.path.join(self.cfg.output, CHECKPOINT_FILE)

    def save(self) -> int:
        save_checkpoint(self)
        if self.dist.is_main and self.cfg.keeps(self.step):
            keep_checkpoint(self.checkpoint_path, self.step)
        return self.step

    def evaluate(self) -> dict:
        result = {"step": self.step, **evaluate(self.model, self.eval_data, self.cfg, self.dist)}
        self.log.write({"event": "eval", **result})
        self.log.write_json(EVAL_FILE, result)
        self.model.train()
        return result


def _endless(data):
    """Batches forever: the loader resumes mid-epoch, then epochs advance one by one."""
    while True:
        yield from data
        data.set_epoch(data.state_dict()["epoch"] + 1)


def make_optimizer(model, cfg: TrainConfig, device=None):
    """AdamW with cfg's lr, decay, betas and eps (trainer/optim.py). ``device``: unused, kept
    for callers (the fused kernel runs on CPU and CUDA alike)."""
    betas = (cfg.adam_betas[0], cfg.adam_betas[1])
    return adamw(model, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=betas, eps=cfg.adam_eps)


if __name__ == "__main__":
    run()
