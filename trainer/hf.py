"""Hugging Face folders: read any BERT folder into our model, write ours for ``transformers``.

A folder holds ``config.json``, ``model.safetensors`` (or ``pytorch_model.bin``, loaded with
``weights_only=True``, or a sharded ``*.index.json``) and usually the tokenizer files. Names
and config fields are mapped in trainer/hf_mapping.py. Every failure is an ``HFError``: one
line naming the file and the problem, raised before anything is written.
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch

from schemas.special_tokens import PAD
from trainer.hf_mapping import (
    HFError,
    config_from_hf,
    from_hf_state_dict,
    hf_config,
    to_hf_state_dict,
)

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
TORCH_FILE = "pytorch_model.bin"
MODEL_CARD_FILE = "README.md"
INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


def is_hf_dir(path: str) -> bool:
    """A folder with a ``config.json`` (whether its weights are sound is build_from_hf's job)."""
    return os.path.isfile(os.path.join(path, CONFIG_FILE))


def read_hf_config(hf_dir: str) -> dict[str, Any]:
    path = os.path.join(hf_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        raise HFError(f"{path}: no {CONFIG_FILE}; is {hf_dir} a Hugging Face model folder?")
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HFError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise HFError(f"{path}: not a JSON object")
    return config


# --- folders ----------------------------------------------------------------------------------


def read_hf_weights(hf_dir: str) -> tuple[dict[str, torch.Tensor], str]:
    """(state dict, the file(s) it came from): safetensors first, then pytorch_model.bin."""
    for index in INDEX_FILES:  # a sharded checkpoint: weight name -> file
        path = os.path.join(hf_dir, index)
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as f:
                    files = sorted(set(json.load(f)["weight_map"].values()))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise HFError(f"{path}: unreadable index ({exc!r})") from None
            sd: dict[str, torch.Tensor] = {}
            for name in files:
                sd.update(_read_weight_file(os.path.join(hf_dir, name)))
            return sd, path
    for name in (SAFETENSORS_FILE, TORCH_FILE):
        path = os.path.join(hf_dir, name)
        if os.path.isfile(path):
            return _read_weight_file(path), path
    raise HFError(f"{hf_dir}: no {SAFETENSORS_FILE} or {TORCH_FILE}")


def _read_weight_file(path: str) -> dict[str, torch.Tensor]:
    if path.endswith(".safetensors"):
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except (SafetensorError, OSError) as exc:
            raise HFError(f"{path}: unreadable safetensors ({_first_line(exc)})") from None
    import pickle

    try:  # weights_only: a pickle from elsewhere must not run code
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise HFError(f"{path}: unreadable torch weights ({_first_line(exc)})") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise HFError(f"{path}: not a state dict of tensors")
    return sd


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def build_from_hf(model_cls: Any, hf_dir: str, **config_overrides: Any) -> tuple[Any, list[str]]:
    """Any BERT folder -> (``model_cls`` (BertForPretraining) in eval mode, names of the parts
    that started fresh). The class is passed in, not imported: the model module reaches this
    one through ``BertForPretraining.load_hf``, and an import back would be a cycle.

    ``config_overrides``: BertConfig fields to change (e.g. ``dropout=0.0``), not the shapes.
    """
    where = os.path.join(hf_dir, CONFIG_FILE)
    cfg = config_from_hf(read_hf_config(hf_dir), where, **config_overrides)
    hf_sd, source = read_hf_weights(hf_dir)
    model = model_cls(cfg)
    fresh = from_hf_state_dict(hf_sd, model, source)
    return model.eval(), fresh


def load_hf_for_shards(
    model_cls: Any, hf_dir: str, identity: dict, shards, max_seq_len: int, dropout: float
) -> tuple[Any, list[str]]:
    """build_from_hf for continued pretraining on ``shards`` (their tokenizer ``identity``, as
    trainer.checkpoint.check_shard_identity gives it): same vocabulary, long enough."""
    check_hf_tokenizer(hf_dir, identity, shards)
    model, fresh = build_from_hf(model_cls, hf_dir, dropout=dropout, attention_dropout=dropout)
    if model.cfg.max_position_embeddings < max_seq_len:
        raise HFError(
            f"{os.path.join(hf_dir, CONFIG_FILE)}: max_position_embeddings "
            f"{model.cfg.max_position_embeddings} < the shards' max_seq_len {max_seq_len}"
        )
    return model, fresh


def save_hf(
    model: Any,  # BertForPretraining
    out_dir: str,
    *,
    tokenizer_dir: str | None = None,
    model_card: str | None = None,
) -> str:
    """Write ``out_dir`` for ``from_pretrained``: config.json, model.safetensors, the tokenizer
    files of ``tokenizer_dir`` and README.md (``model_card``). Built beside it and renamed, so
    a failure leaves nothing; an existing Hugging Face folder there is replaced."""
    import shutil

    from safetensors.torch import save_file

    if os.path.exists(out_dir) and os.listdir(out_dir) and not is_hf_dir(out_dir):
        raise HFError(f"{out_dir}: exists and is not a Hugging Face folder; not overwritten")
    pad_token_id, copies = None, []
    if tokenizer_dir is not None:
        size = hf_vocab_size(tokenizer_dir)
        if size != model.cfg.vocab_size:
            raise HFError(f"{tokenizer_dir}: {size} tokens, the model has {model.cfg.vocab_size}")
        pad_token_id = hf_special_token_ids(tokenizer_dir, [PAD]).get(PAD)
        copies = [os.path.join(tokenizer_dir, n) for n in TOKENIZER_FILES]
    config = hf_config(model.cfg, pad_token_id)
    files = {CONFIG_FILE: json.dumps(config, indent=2, sort_keys=True) + "\n"}
    if model_card is not None:
        files[MODEL_CARD_FILE] = model_card
    tmp = out_dir.rstrip(os.sep) + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        for path in filter(os.path.isfile, copies):
            shutil.copyfile(path, os.path.join(tmp, os.path.basename(path)))
        for name, text in files.items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(text)
        save_file(to_hf_state_dict(model), os.path.join(tmp, SAFETENSORS_FILE), {"format": "pt"})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return out_dir


# --- tokenizer of a folder --------------------------------------------------------------------


def _tokenizer_vocab(hf_dir: str) -> dict[str, int]:
    """token -> id of a folder's tokenizer.json (added tokens included) or vocab.txt."""
    path = os.path.join(hf_dir, "tokenizer.json")
    if os.path.isfile(path):
        from tokenizers import Tokenizer

        try:
            return Tokenizer.from_file(path).get_vocab(with_added_tokens=True)
        except Exception as exc:  # tokenizers raises bare Exception on a bad file
            raise HFError(f"{path}: unreadable tokenizer ({_first_line(exc)})") from None
    path = os.path.join(hf_dir, "vocab.txt")
    if os.path.isfile(path):  # BERT's load_vocab: the line index is the id
        with open(path, encoding="utf-8") as f:
            return {line.rstrip("\n"): i for i, line in enumerate(f)}
    raise HFError(f"{hf_dir}: no tokenizer.json or vocab.txt")


def hf_special_token_ids(hf_dir: str, tokens) -> dict[str, int]:
    """Ids of ``tokens`` in a folder's tokenizer (absent ones are left out)."""
    vocab = _tokenizer_vocab(hf_dir)
    return {t: vocab[t] for t in tokens if t in vocab}


def hf_vocab_size(hf_dir: str) -> int:
    return max(_tokenizer_vocab(hf_dir).values()) + 1


def check_hf_tokenizer(hf_dir: str, identity: dict, shards) -> None:
    """Shards made with another vocabulary than a checkpoint's would train garbage: the
    vocab size (config.json) and the special-token ids (its tokenizer) must match."""
    where = os.path.join(hf_dir, CONFIG_FILE)
    size = read_hf_config(hf_dir).get("vocab_size")
    if size != identity["vocab_size"]:
        raise HFError(
            f"{where}: vocab_size {size}, but shards {list(shards)} have {identity['vocab_size']}"
        )
    wanted = identity["special_token_ids"]
    theirs = hf_special_token_ids(hf_dir, wanted)
    if theirs != wanted:
        raise HFError(
            f"{hf_dir}: special token ids {theirs} differ from the shards' {wanted} "
            f"({list(shards)}); make the shards with --tokenizer {hf_dir}"
        )
