"""The encoder's shape and regularisation (BertConfig) and the named size presets: a leaf
module, so the Hugging Face mapping can build configs without importing the network."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

# name -> (num_layers, hidden_size, num_heads, intermediate_size)
PRESETS: dict[str, tuple[int, int, int, int]] = {
    "tiny": (2, 128, 2, 512),
    "mini": (4, 256, 4, 1024),
    "small": (4, 512, 8, 2048),
    "base": (12, 768, 12, 3072),
}


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int = 30522  # real ids [0, vocab_size); the embedding is padded beyond it
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-12
    initializer_range: float = 0.02
    vocab_multiple: int = 64  # embedding rows padded to a multiple of this (matmul-friendly)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> BertConfig:
        if name not in PRESETS:
            raise ValueError(f"unknown model size {name!r}; choose from {sorted(PRESETS)}")
        layers, hidden, heads, ff = PRESETS[name]
        base = cls(num_layers=layers, hidden_size=hidden, num_heads=heads, intermediate_size=ff)
        return replace(base, **overrides)

    @property
    def padded_vocab_size(self) -> int:
        return math.ceil(self.vocab_size / self.vocab_multiple) * self.vocab_multiple

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} not divisible by {self.num_heads}")
