"""Checkpoints of a pretraining run: what an exact resume needs, and the checks that a resume
(or an eval set) uses the same tokenizer, special-token ids and data stream as the run; and,
for the tools that read a finished run (export, fine-tuning, probes), its model and the
tokenizer folder of the shards it trained on."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trainer.model import BertForPretraining

CHECKPOINT_FILE = "checkpoint.pt"
KEPT_CHECKPOINT = "checkpoint-{step}.pt"  # trainer.pretrain --keep_checkpoints


def check_shard_identity(dirs, data, expect: dict | None = None) -> dict:
    """The shard sets' tokenizer identity; it must match ``expect`` (train set, checkpoint)."""
    from schemas.shards import read_manifest

    hashes = {read_manifest(d).get("tokenizer_hash") for d in dirs}
    if len(hashes) != 1:
        raise ValueError(f"{dirs}: shard sets were made with different tokenizers {hashes}")
    identity = {
        "tokenizer_hash": hashes.pop(),
        "special_token_ids": dict(sorted(data.special_token_ids.items())),
        "vocab_size": data.vocab_size,
    }
    bad = {k: v for k, v in data.special_token_ids.items() if not 0 <= v < data.vocab_size}
    if bad:
        raise ValueError(f"{dirs}: special token ids {bad} outside vocab_size {data.vocab_size}")
    if expect is not None:
        for key, value in identity.items():
            if expect[key] != value:
                raise ValueError(
                    f"{dirs}: {key} {value!r} differs from the model's {expect[key]!r}"
                )
    return identity


def _loader_state(data) -> dict:
    """The loader's position; a finished epoch is recorded as the start of the next one."""
    state = dict(data.state_dict())
    if state["batches_consumed"] >= len(data):
        state["epoch"], state["batches_consumed"] = state["epoch"] + 1, 0
    return state


def save_checkpoint(run) -> None:
    """Everything an exact resume needs, written atomically by the main rank to
    ``run.checkpoint_path``. ``run``: trainer.pretrain.Run (model, optimizer, data, step...)."""
    import torch

    dist = run.dist
    loader_states = dist.gather(_loader_state(run.data))
    rng = {"torch": torch.get_rng_state()}
    if dist.device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(dist.device)
    rngs = dist.gather(rng)
    if not dist.is_main:
        return
    state = {
        "step": run.step,
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "loader": loader_states,  # one per rank
        "rng": rngs,
        "train_config": asdict(run.cfg),
        "model_config": asdict(run.model_cfg),
        **run.identity,  # tokenizer_hash, special_token_ids, vocab_size of the shards
    }
    path = run.checkpoint_path
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def keep_checkpoint(path: str, step: int) -> str:
    """Keep the checkpoint just written at ``path`` as checkpoint-STEP.pt beside it.

    A hard link costs no space or time; the next save replaces checkpoint.pt by rename, so the
    kept name still points at this step's file. Falls back to a copy where links fail.
    """
    import shutil

    kept = os.path.join(os.path.dirname(path), KEPT_CHECKPOINT.format(step=step))
    if os.path.exists(kept):
        os.remove(kept)
    try:
        os.link(path, kept)
    except OSError:
        shutil.copyfile(path, kept + ".tmp")
        os.replace(kept + ".tmp", kept)
    return kept


# Settings that decide the model or the data stream: a resume must not change them.
_RESUME_FIXED = (
    "model_size",
    "batch_size",
    "seed",
    "masking",
    "mask_rate",
    "shards",
    "dropout",
    "init_from",
)


def load_checkpoint(run) -> int:
    """Restore ``run`` (built as for a fresh start) from ``run.checkpoint_path``; checks it
    was made on the same shards and settings. Returns the step to continue from."""
    import torch

    path, cfg, dist = run.checkpoint_path, run.cfg, run.dist
    if not os.path.exists(path):
        raise FileNotFoundError(f"--resume: no checkpoint at {path}")
    state = torch.load(path, map_location=dist.device, weights_only=True)
    for key in ("tokenizer_hash", "special_token_ids", "vocab_size"):
        if state[key] != run.identity[key]:
            raise ValueError(
                f"{path}: {key} {state[key]!r} differs from the shards' "
                f"{run.identity[key]!r}; resume on the shards it was trained on"
            )
    saved = state["train_config"]
    for key in _RESUME_FIXED:
        before, now = saved.get(key), getattr(cfg, key)  # older checkpoints lack new settings
        if key in saved and list(_as_tuple(before)) != list(_as_tuple(now)):
            raise ValueError(f"{path}: run used {key}={before!r}, now {now!r}")
    if len(state["loader"]) != dist.world_size:
        raise ValueError(f"{path}: saved by {len(state['loader'])} ranks, now {dist.world_size}")
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.data.load_state_dict(state["loader"][dist.rank])
    rng = state["rng"][dist.rank]
    torch.set_rng_state(rng["torch"].cpu())
    if "cuda" in rng and dist.device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"].cpu(), dist.device)
    return int(state["step"])


# --- reading a finished run -------------------------------------------------------------------

# Entries of a checkpoint that only a resume needs (the bulk of the file).
_RESUME_ONLY = ("model", "optimizer", "rng")


def checkpoint_file(run_dir: str, checkpoint: str | None = None) -> str:
    """RUN_DIR/checkpoint.pt, or ``checkpoint`` (a path, or a file name inside RUN_DIR)."""
    if checkpoint is None:
        path = os.path.join(run_dir, CHECKPOINT_FILE)
    elif os.path.isfile(checkpoint):
        path = checkpoint
    else:
        path = os.path.join(run_dir, checkpoint)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no checkpoint; is {run_dir} a trainer.pretrain run?")
    return path


def read_checkpoint(path: str, *, map_location="cpu") -> dict:
    """A checkpoint file, memory-mapped (its tensors are read only when touched)."""
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=True)
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable checkpoint ({str(exc).splitlines()[0]})") from None


def load_run_model(
    run_dir: str, checkpoint: str | None = None, *, map_location="cpu"
) -> tuple[BertForPretraining, dict]:
    """(model in eval mode, checkpoint state without model/optimizer/rng) of a run.

    ``checkpoint``: default RUN_DIR/checkpoint.pt; or e.g. RUN_DIR/checkpoint-500.pt.
    """
    from trainer.model import BertConfig, BertForPretraining

    path = checkpoint_file(run_dir, checkpoint)
    state = read_checkpoint(path, map_location=map_location)
    model = BertForPretraining(BertConfig(**state["model_config"]))
    model.load_state_dict(state["model"])
    model.to(map_location).eval()
    return model, {k: v for k, v in state.items() if k not in _RESUME_ONLY}


def run_tokenizer_dir(run_dir: str) -> str:
    """The tokenizer folder of the shard set a run trained on (its first ``--shards``)."""
    state = read_checkpoint(checkpoint_file(run_dir))
    return shard_tokenizer_dir(state["train_config"]["shards"][0])


def shard_tokenizer_dir(shards: str) -> str:
    """The tokenizer folder a shard set was made with (pipeline.shards records it in the
    manifest's ``config``), checked against the manifest's tokenizer hash."""
    from schemas.hashing import sha256_file
    from schemas.manifest import MANIFEST_FILE
    from schemas.shards import read_manifest

    manifest = read_manifest(shards)
    tok_dir = json.loads(manifest.get("config") or "{}").get("tokenizer")
    where = os.path.join(shards, MANIFEST_FILE)
    if not tok_dir:
        raise ValueError(f"{where}: records no tokenizer folder; name it (--tokenizer TOK_DIR)")
    if not os.path.isdir(tok_dir):
        raise ValueError(f"{where}: tokenizer folder {tok_dir} is gone; name it (--tokenizer)")
    tokenizer_json = os.path.join(tok_dir, "tokenizer.json")
    if os.path.isfile(tokenizer_json) and sha256_file(tokenizer_json) != manifest["tokenizer_hash"]:
        raise ValueError(f"{tokenizer_json}: changed since {shards} was made (tokenizer_hash)")
    return tok_dir


def _as_tuple(value: object) -> tuple:
    return tuple(value) if isinstance(value, list | tuple) else (value,)
