"""The vocabulary job's configuration: a leaf module, so counting and training both import it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Model = Literal["wordpiece", "unigram", "bpe", "residues"]
MODELS: tuple[str, ...] = get_args(Model)
MILLI = 1000  # smoothed counts travel as integer thousandths (exact sums in any order)


@dataclass(frozen=True)
class VocabConfig:
    vocab_size: int = 30522
    model: Model = "wordpiece"
    lowercase: bool = True
    alpha: float = 0.7  # language smoothing exponent; 1.0 keeps natural frequencies
    max_words: int = 1_000_000  # distinct words handed to the trainer (bounds its memory)
    min_count: int = 2  # a (lang, word) seen fewer times is not a training word
    holdout_fraction: float = 0.02
    seed: int = 0
    model_max_length: int = 512
    max_train_count: int = (
        50_000_000  # trainer input budget, see transforms.vocab.train.quantize_counts
    )
    char_coverage: float = 1.0  # share of char occurrences whose chars must be in the vocab

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ValueError("holdout_fraction must be in [0, 1)")
        if self.alpha <= 0:
            raise ValueError("alpha must be positive")
