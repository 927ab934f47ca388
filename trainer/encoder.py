"""Which encoder to fine-tune: a model spec -> our ``BertForPretraining`` and its tokenizer.

    RUN_DIR              a trainer.pretrain run (checkpoint.pt; tokenizer of its shards)
    HF_DIR               any BERT folder (config.json + weights, tokenizer.json or vocab.txt)
    random:RUN_DIR|HF_DIR  the same architecture and vocabulary at random init: the baseline
    random:SIZE:TOK_DIR  a preset size (tiny/mini/small/base) over a tokenizer folder

A random encoder is drawn anew for every training seed (the seed controls its init too).
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, replace

from torch import nn

from schemas.cli import UserError
from trainer.bert_config import PRESETS, BertConfig
from trainer.model import BertForPretraining
from trainer.tasks.encoding import TextEncoder, special_token_names

RANDOM_PREFIX = "random:"
TOKENIZER_JSON = "tokenizer.json"
VOCAB_TXT = "vocab.txt"
TOKENIZER_CONFIG = "tokenizer_config.json"
CHECKPOINT_FILE = "checkpoint.pt"


class ModelSpecError(UserError):
    """The model spec names nothing loadable; the message says what was expected."""


@dataclass
class Encoder:
    spec: str
    cfg: BertConfig
    text: TextEncoder
    tokenizer_dir: str
    random: bool
    fresh_parts: list[str]  # parts a folder lacked (started fresh), e.g. the pooler
    _weights: BertForPretraining | None  # None when random

    def new_model(self, dropout: float) -> BertForPretraining:
        """A copy of the pretrained encoder, or (random) one drawn from torch's RNG now."""
        if self._weights is None:
            cfg = replace(self.cfg, dropout=dropout, attention_dropout=dropout)
            return BertForPretraining(cfg)
        model = copy.deepcopy(self._weights)
        for module in model.modules():
            if isinstance(module, nn.Dropout):
                module.p = dropout
        return model


def load_encoder(spec: str) -> Encoder:
    random = spec.startswith(RANDOM_PREFIX)
    target = spec[len(RANDOM_PREFIX) :] if random else spec
    size, _, tok_dir = target.partition(":")
    if random and size in PRESETS and tok_dir:
        text = load_text_encoder(tok_dir)
        cfg = BertConfig.preset(size, vocab_size=text.tokenizer.get_vocab_size())
        return Encoder(spec, cfg, text, tok_dir, True, [], None)
    if not os.path.isdir(target):
        raise ModelSpecError(f"--model {spec}: {target} is not a folder")
    model, fresh, tok_dir = _load_weights(spec, target)
    text = load_text_encoder(tok_dir)
    vocab = text.tokenizer.get_vocab_size()
    if vocab > model.cfg.vocab_size:
        raise ModelSpecError(f"{tok_dir}: {vocab} tokens, model has {model.cfg.vocab_size}")
    weights = None if random else model
    return Encoder(spec, model.cfg, text, tok_dir, random, [] if random else fresh, weights)


def _load_weights(spec: str, target: str) -> tuple[BertForPretraining, list[str], str]:
    """(model, parts that started fresh, tokenizer folder) of an HF folder or a run folder."""
    from trainer.checkpoint import load_run_model, run_tokenizer_dir
    from trainer.hf import HFError, is_hf_dir

    try:
        if is_hf_dir(target):
            model, fresh = BertForPretraining.load_hf(target)
            return model, fresh, target
        if os.path.isfile(os.path.join(target, CHECKPOINT_FILE)):
            model, _ = load_run_model(target)
            return model, [], run_tokenizer_dir(target)
    except (HFError, ValueError) as exc:  # unreadable weights, a moved tokenizer: one line
        raise ModelSpecError(f"--model {spec}: {exc}") from None
    raise ModelSpecError(
        f"--model {spec}: {target} has neither config.json (HF) nor {CHECKPOINT_FILE} (run)"
    )


def load_text_encoder(tok_dir: str) -> TextEncoder:
    return TextEncoder.build(load_tokenizer(tok_dir), special_token_names(tok_dir))


def load_tokenizer(tok_dir: str):
    """tokenizer.json when the folder has one, else BERT's WordPiece rules over vocab.txt
    (lower-casing as tokenizer_config.json's do_lower_case says; BERT's default: on)."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import WordPiece

    path = os.path.join(tok_dir, TOKENIZER_JSON)
    if os.path.isfile(path):
        return Tokenizer.from_file(path)
    vocab_path = os.path.join(tok_dir, VOCAB_TXT)
    if not os.path.isfile(vocab_path):
        raise ModelSpecError(f"{tok_dir}: no {TOKENIZER_JSON} or {VOCAB_TXT}")
    lowercase = True
    config_path = os.path.join(tok_dir, TOKENIZER_CONFIG)
    if os.path.isfile(config_path):
        with open(config_path, encoding="utf-8") as f:
            lowercase = bool(json.load(f).get("do_lower_case", True))
    with open(vocab_path, encoding="utf-8") as f:
        vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
    unk = special_token_names(tok_dir)["unk_token"]
    tokenizer = Tokenizer(WordPiece(vocab, unk_token=unk, continuing_subword_prefix="##"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=None)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    return tokenizer
