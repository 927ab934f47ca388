"""Text -> token ids for fine-tuning: single sentences, sentence pairs and pre-split words.

Special tokens are looked up in the tokenizer by name (the folder's special_tokens_map.json,
else BERT's names), never assumed to sit at fixed ids. Texts are encoded without the
tokenizer's own template so every task builds ``[CLS] A [SEP] (B [SEP])`` the same way.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from schemas.special_tokens import CLS, PAD, SEP, UNK
from trainer.masking import IGNORE_INDEX

SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"
# BERT's names, used when a folder has no special_tokens_map.json (role -> token).
DEFAULT_SPECIAL_TOKENS = {"cls_token": CLS, "sep_token": SEP, "pad_token": PAD, "unk_token": UNK}


def special_token_names(tok_dir: str | None) -> dict[str, str]:
    """Role -> token string for a tokenizer folder (special_tokens_map.json overrides BERT's)."""
    names = dict(DEFAULT_SPECIAL_TOKENS)
    path = os.path.join(tok_dir, SPECIAL_TOKENS_MAP_FILE) if tok_dir else ""
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for role, value in json.load(f).items():
                if role in names:  # a value is a string or an AddedToken dict
                    names[role] = value["content"] if isinstance(value, dict) else value
    return names


@dataclass(frozen=True)
class TextEncoder:
    tokenizer: Any  # tokenizers.Tokenizer, truncation and padding off
    cls_id: int
    sep_id: int
    pad_id: int
    unk_id: int

    @classmethod
    def build(cls, tokenizer: Any, names: dict[str, str]) -> TextEncoder:
        ids = {role: tokenizer.token_to_id(token) for role, token in names.items()}
        missing = [names[role] for role, i in ids.items() if i is None]
        if missing:
            raise ValueError(f"tokenizer lacks special tokens {missing}")
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return cls(
            tokenizer, ids["cls_token"], ids["sep_token"], ids["pad_token"], ids["unk_token"]
        )

    def ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, no special tokens."""
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        return [e.ids for e in encodings]

    def ids_and_offsets(self, texts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        """Token ids and (start, end) character offsets into each original text."""
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        return [(e.ids, e.offsets) for e in encodings]

    def word_ids(self, words: list[str]) -> list[list[int]]:
        """Sub-token ids per word; a word that yields no token (e.g. a lone control character)
        becomes [UNK], so every word keeps a position of its own."""
        return [ids or [self.unk_id] for ids in self.ids(words)] if words else []

    def single(self, ids: list[int], max_len: int) -> tuple[list[int], list[int], bool]:
        """[CLS] A [SEP] truncated to max_len -> (input_ids, token_type_ids, truncated)."""
        body = ids[: max_len - 2]
        input_ids = [self.cls_id, *body, self.sep_id]
        return input_ids, [0] * len(input_ids), len(body) < len(ids)

    def pair(self, a: list[int], b: list[int], max_len: int) -> tuple[list[int], list[int], bool]:
        """[CLS] A [SEP] B [SEP], the longer side trimmed first (BERT's rule) -> ids, segments,
        truncated."""
        a, b = list(a), list(b)
        truncated = False
        while len(a) + len(b) > max_len - 3:
            (a if len(a) > len(b) else b).pop()
            truncated = True
        input_ids = [self.cls_id, *a, self.sep_id, *b, self.sep_id]
        segments = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        return input_ids, segments, truncated


def word_windows(word_ids: list[list[int]], max_len: int) -> list[tuple[int, int]]:
    """Split a sentence's words into [start, end) windows whose sub-tokens fit max_len - 2.

    A word longer than the budget gets a window of its own (its tail is cut in ``tag_window``).
    """
    budget, windows, start, used = max_len - 2, [], 0, 0
    for i, ids in enumerate(word_ids):
        if used and used + len(ids) > budget:
            windows.append((start, i))
            start, used = i, 0
        used += len(ids)
    if word_ids:
        windows.append((start, len(word_ids)))
    return windows


def tag_window(
    encoder: TextEncoder, word_ids: list[list[int]], labels: list[int], max_len: int
) -> tuple[list[int], list[int], list[int]]:
    """Words -> (input_ids, label per position, first-sub-token position per word).

    Each word's label sits on its first sub-token; the other positions and [CLS]/[SEP] carry
    IGNORE_INDEX, so a prediction is read back exactly once per word.
    """
    input_ids, positions, budget = [encoder.cls_id], [], max_len - 2
    position_labels = [IGNORE_INDEX]
    for ids, label in zip(word_ids, labels, strict=True):
        room = budget - (len(input_ids) - 1)
        piece = ids[: max(1, room)]
        positions.append(len(input_ids))
        input_ids += piece
        position_labels += [label] + [IGNORE_INDEX] * (len(piece) - 1)
    input_ids.append(encoder.sep_id)
    position_labels.append(IGNORE_INDEX)
    return input_ids, position_labels, positions
