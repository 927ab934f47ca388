"""BERT's special tokens by name: the vocabulary job writes them, packing and the trainer look
their ids up in a tokenizer's (or a manifest's) special-token map under these names."""

from __future__ import annotations

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)  # vocabulary order: ids 0..4 of a trained vocab
