"""The one mapping between our BertForPretraining and ``transformers``' BERT: config.json
fields <-> BertConfig, and weight names both ways (pure: no files; trainer/hf.py does folders).

Export gives exactly the keys ``BertForPreTraining.save_pretrained`` writes (the tied decoder
weight and bias are not repeated), so ``from_pretrained`` reports no missing or unexpected
weights. Import takes any BERT state dict: keys with or without the ``bert.`` prefix
(``BertModel`` folders, e.g. sentence-transformers, have none), old ``gamma``/``beta``
LayerNorm names, with or without pooler and pretraining heads; absent heads start fresh.
Every problem is an ``HFError`` naming the file (``where``) and the weight.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import torch

from schemas.cli import UserError
from trainer.bert_config import BertConfig

# Parts that may be absent from a checkpoint (they start fresh): name -> our parameter prefixes.
OPTIONAL_PARTS = {
    "pooler": ("pooler.",),
    "mlm_head": ("mlm_transform.", "mlm_norm.", "mlm_bias"),
    "pair_head": ("pair_head.",),
}
# Names in HF checkpoints that are buffers, not weights (older transformers saved them).
_IGNORED_SUFFIXES = ("position_ids",)
_WORD, _BIAS = "bert.embeddings.word_embeddings.weight", "cls.predictions.bias"
_VOCAB_ROWS = ("embeddings.word.weight", "mlm_bias")  # [vocab_size] in HF, padded in ours


class HFError(UserError):
    """A Hugging Face folder cannot be read or written; the message names the file."""


# --- config.json <-> BertConfig ---------------------------------------------------------------


def hf_config(cfg: BertConfig, pad_token_id: int | None = None) -> dict[str, Any]:
    """config.json of ``BertForPreTraining`` for our config: the real vocabulary, not the padded."""
    return {
        "architectures": ["BertForPreTraining"],
        "model_type": "bert",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads,
        "intermediate_size": cfg.intermediate_size,
        "hidden_act": "gelu",
        "hidden_dropout_prob": cfg.dropout,
        "attention_probs_dropout_prob": cfg.attention_dropout,
        "max_position_embeddings": cfg.max_position_embeddings,
        "type_vocab_size": cfg.type_vocab_size,
        "initializer_range": cfg.initializer_range,
        "layer_norm_eps": cfg.layer_norm_eps,
        "position_embedding_type": "absolute",
        "tie_word_embeddings": True,
        "pad_token_id": pad_token_id if pad_token_id is not None else 0,
        "dtype": "float32",
    }


def config_from_hf(hf: dict[str, Any], where: str, **overrides: Any) -> BertConfig:
    """config.json -> BertConfig; architectures we do not implement are refused by name."""
    if hf.get("model_type") != "bert":
        raise HFError(f"{where}: model_type {hf.get('model_type')!r} is not 'bert'")
    unsupported = {
        "hidden_act": (hf.get("hidden_act", "gelu"), "gelu"),  # ours is exact (erf) GELU
        "position_embedding_type": (hf.get("position_embedding_type", "absolute"), "absolute"),
        "is_decoder": (hf.get("is_decoder", False), False),
    }
    for key, (value, ours) in unsupported.items():
        if value != ours:
            raise HFError(f"{where}: {key} {value!r} is not supported (only {ours!r})")
    try:
        cfg = BertConfig(
            vocab_size=int(hf["vocab_size"]),
            hidden_size=int(hf["hidden_size"]),
            num_layers=int(hf["num_hidden_layers"]),
            num_heads=int(hf["num_attention_heads"]),
            intermediate_size=int(hf["intermediate_size"]),
            max_position_embeddings=int(hf.get("max_position_embeddings", 512)),
            type_vocab_size=int(hf.get("type_vocab_size", 2)),
            dropout=float(hf.get("hidden_dropout_prob", 0.1)),
            attention_dropout=float(hf.get("attention_probs_dropout_prob", 0.1)),
            layer_norm_eps=float(hf.get("layer_norm_eps", 1e-12)),
            initializer_range=float(hf.get("initializer_range", 0.02)),
        )
    except KeyError as exc:
        raise HFError(f"{where}: no {exc.args[0]!r}") from None
    known = {f.name for f in fields(BertConfig)}
    if set(overrides) - known:
        raise TypeError(f"unknown BertConfig fields {sorted(set(overrides) - known)}")
    try:
        return replace(cfg, **overrides)
    except ValueError as exc:
        raise HFError(f"{where}: {exc}") from None


# --- weight names -----------------------------------------------------------------------------


def _name_pairs(cfg: BertConfig) -> list[tuple[str, str]]:
    """(HF name, our name) for every weight except the fused QKV, handled by the callers."""
    pairs = [
        ("bert.embeddings.position_embeddings.weight", "embeddings.position.weight"),
        ("bert.embeddings.token_type_embeddings.weight", "embeddings.token_type.weight"),
        ("bert.embeddings.LayerNorm.weight", "embeddings.norm.weight"),
        ("bert.embeddings.LayerNorm.bias", "embeddings.norm.bias"),
        ("bert.pooler.dense.weight", "pooler.weight"),
        ("bert.pooler.dense.bias", "pooler.bias"),
        ("cls.predictions.transform.dense.weight", "mlm_transform.weight"),
        ("cls.predictions.transform.dense.bias", "mlm_transform.bias"),
        ("cls.predictions.transform.LayerNorm.weight", "mlm_norm.weight"),
        ("cls.predictions.transform.LayerNorm.bias", "mlm_norm.bias"),
        ("cls.seq_relationship.weight", "pair_head.weight"),
        ("cls.seq_relationship.bias", "pair_head.bias"),
    ]
    for i in range(cfg.num_layers):
        ours, hf = f"layers.{i}.", f"bert.encoder.layer.{i}."
        for kind in ("weight", "bias"):
            pairs += [
                (hf + f"attention.output.dense.{kind}", ours + f"attention_out.{kind}"),
                (hf + f"attention.output.LayerNorm.{kind}", ours + f"attention_norm.{kind}"),
                (hf + f"intermediate.dense.{kind}", ours + f"ff_in.{kind}"),
                (hf + f"output.dense.{kind}", ours + f"ff_out.{kind}"),
                (hf + f"output.LayerNorm.{kind}", ours + f"ff_norm.{kind}"),
            ]
    return pairs


def _qkv_names(i: int, kind: str) -> tuple[str, str, str]:
    hf = f"bert.encoder.layer.{i}.attention.self."
    return hf + f"query.{kind}", hf + f"key.{kind}", hf + f"value.{kind}"


def to_hf_state_dict(model: Any) -> dict[str, torch.Tensor]:
    """Our weights under ``transformers.BertForPreTraining`` names, vocabulary padding removed:
    the keys ``save_pretrained`` writes (the tied decoder weight and bias are not repeated)."""
    cfg, sd = model.cfg, model.state_dict()
    out = {hf: sd[ours] for hf, ours in _name_pairs(cfg)}
    out["bert.embeddings.word_embeddings.weight"] = sd["embeddings.word.weight"][: cfg.vocab_size]
    out["cls.predictions.bias"] = sd["mlm_bias"][: cfg.vocab_size]
    for i in range(cfg.num_layers):
        for kind in ("weight", "bias"):
            fused = sd[f"layers.{i}.attention.qkv.{kind}"].split(cfg.hidden_size, dim=0)
            out.update(zip(_qkv_names(i, kind), fused, strict=True))
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in out.items()}


def _canonical(name: str) -> str:
    """HF key as BertForPreTraining names it: ``bert.`` prefix, weight/bias (not gamma/beta)."""
    if name.startswith(("embeddings.", "encoder.", "pooler.")):
        name = "bert." + name
    if name.endswith(".gamma"):
        name = name[: -len("gamma")] + "weight"
    elif name.endswith(".beta"):
        name = name[: -len("beta")] + "bias"
    return name


def _to_ours(
    hf_sd: dict[str, torch.Tensor], cfg: BertConfig, where: str
) -> dict[str, torch.Tensor]:
    """HF state dict -> {our name: tensor} (QKV fused); refuses weights that cannot be placed."""
    sd = {_canonical(k): v for k, v in hf_sd.items()}
    decoder, word = sd.pop("cls.predictions.decoder.weight", None), sd.get(_WORD)
    if decoder is not None and word is not None and not torch.equal(decoder, word):
        raise HFError(f"{where}: MLM decoder is not tied to the word embeddings (unsupported)")
    decoder_bias = sd.pop("cls.predictions.decoder.bias", None)
    if decoder_bias is not None:
        sd.setdefault("cls.predictions.bias", decoder_bias)
    names = dict(_name_pairs(cfg)) | {_WORD: "embeddings.word.weight", _BIAS: "mlm_bias"}
    out = {ours: sd.pop(hf) for hf, ours in names.items() if hf in sd}
    for i in range(cfg.num_layers):
        for kind in ("weight", "bias"):
            parts = [sd.pop(n, None) for n in _qkv_names(i, kind)]
            if all(p is not None for p in parts):
                out[f"layers.{i}.attention.qkv.{kind}"] = torch.cat(parts)  # type: ignore[arg-type]
    # What is left under BERT's own names means another architecture; other heads
    # (classifier., qa_outputs. of fine-tuned folders) are simply not read.
    stray = [k for k in sd if k.startswith(("bert.", "cls.")) and not k.endswith(_IGNORED_SUFFIXES)]
    if stray:
        raise HFError(f"{where}: unexpected weight {sorted(stray)[0]} for this config.json")
    return out


def from_hf_state_dict(hf_sd: dict[str, torch.Tensor], model: Any, where: str) -> list[str]:
    """Copy an HF state dict into ``model``; returns the optional parts that started fresh."""
    cfg = model.cfg
    given = _to_ours(hf_sd, cfg, where)
    fresh = [part for part, prefixes in OPTIONAL_PARTS.items() if not _has_any(given, prefixes)]
    skip = tuple(prefix for part in fresh for prefix in OPTIONAL_PARTS[part])
    targets = model.state_dict()
    missing = [k for k in targets if k not in given and not k.startswith(skip)]
    if missing:
        raise HFError(f"{where}: no weight for {_hf_name(missing[0], cfg)}")
    for ours, tensor in given.items():
        target = targets[ours]
        expect = tuple(target.shape)
        if ours in _VOCAB_ROWS:
            expect = (cfg.vocab_size, *expect[1:])
        if tuple(tensor.shape) != expect:
            raise HFError(
                f"{where}: {_hf_name(ours, cfg)} has shape {tuple(tensor.shape)}, "
                f"config.json implies {expect}"
            )
    with torch.no_grad():  # every check passed: only now is the model touched
        for ours, tensor in given.items():
            if ours in _VOCAB_ROWS:  # padding rows: zero (never an input; -inf logits)
                targets[ours].zero_()[: cfg.vocab_size].copy_(tensor)
            else:
                targets[ours].copy_(tensor)
    return fresh


def _has_any(given: dict, prefixes: tuple[str, ...]) -> bool:
    return any(k.startswith(prefixes) for k in given)


def _hf_name(ours: str, cfg: BertConfig) -> str:
    """The HF key(s) behind one of our weights, for error messages."""
    if ".attention.qkv." in ours:
        _, i, _, _, kind = ours.split(".")
        return "/".join(_qkv_names(int(i), kind))
    by_ours = {v: k for k, v in _name_pairs(cfg)} | {"embeddings.word.weight": _WORD}
    return by_ours.get(ours, {"mlm_bias": _BIAS}.get(ours, ours))
