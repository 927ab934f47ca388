"""Checkpoints of a pretraining run: what an exact resume needs, and the checks that a resume
(or an eval set) uses the same tokenizer, special-token ids and data stream as the run."""

from __future__ import annotations

import os
from dataclasses import asdict

CHECKPOINT_FILE = "checkpoint.pt"


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


def save_checkpoint(
    path, cfg, identity, model, optimizer, scheduler, data, dist, step, model_cfg: dict
) -> None:
    """Everything an exact resume needs, written atomically by the main rank."""
    import torch

    loader_states = dist.gather(_loader_state(data))
    rng = {"torch": torch.get_rng_state()}
    if dist.device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(dist.device)
    rngs = dist.gather(rng)
    if not dist.is_main:
        return
    state = {
        "step": step,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "loader": loader_states,  # one per rank
        "rng": rngs,
        "train_config": asdict(cfg),
        "model_config": model_cfg,
        **identity,  # tokenizer_hash, special_token_ids, vocab_size of the shards
    }
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


# Settings that decide the model or the data stream: a resume must not change them.
_RESUME_FIXED = ("model_size", "batch_size", "seed", "masking", "mask_rate", "shards", "dropout")


def load_checkpoint(path, cfg, identity, model, optimizer, scheduler, data, dist) -> int:
    """Restore a run saved by save_checkpoint; checks it was made on the same shards/model."""
    import torch

    if not os.path.exists(path):
        raise FileNotFoundError(f"--resume: no checkpoint at {path}")
    state = torch.load(path, map_location=dist.device, weights_only=True)
    for key in ("tokenizer_hash", "special_token_ids", "vocab_size"):
        if state[key] != identity[key]:
            raise ValueError(
                f"{path}: {key} {state[key]!r} differs from the shards' "
                f"{identity[key]!r}; resume on the shards it was trained on"
            )
    saved = state["train_config"]
    for key in _RESUME_FIXED:
        if list(_as_tuple(saved[key])) != list(_as_tuple(getattr(cfg, key))):
            raise ValueError(f"{path}: run used {key}={saved[key]!r}, now {getattr(cfg, key)!r}")
    if len(state["loader"]) != dist.world_size:
        raise ValueError(f"{path}: saved by {len(state['loader'])} ranks, now {dist.world_size}")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    data.load_state_dict(state["loader"][dist.rank])
    rng = state["rng"][dist.rank]
    torch.set_rng_state(rng["torch"].cpu())
    if "cuda" in rng and dist.device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"].cpu(), dist.device)
    return int(state["step"])


def _as_tuple(value: object) -> tuple:
    return tuple(value) if isinstance(value, list | tuple) else (value,)
