"""Word-level tagging on sub-token inputs (pos, ner): one label per word on its first sub-token.

A sentence longer than ``max_seq_len`` is cut into windows of whole words, so every word is
predicted exactly once and read back in order; nothing is silently truncated away.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainer.tasks import Predict
from trainer.tasks.encoding import TextEncoder, tag_window, word_windows
from trainer.tasks.features import Feature


@dataclass(frozen=True)
class Tagged:
    """Features of a list of sentences and where each word's prediction is read back."""

    features: list[Feature]
    sentence_of: list[int]  # feature -> sentence index
    positions: list[list[int]]  # feature -> first-sub-token position of each of its words


def align(
    sentences: list[tuple[list[str], list[int]]], encoder: TextEncoder, max_len: int
) -> Tagged:
    """(words, label ids) per sentence -> features with labels on first sub-tokens."""
    flat = [word for words, _ in sentences for word in words]
    flat_ids = encoder.word_ids(flat)  # one tokenizer call for the whole corpus
    features, sentence_of, positions, at = [], [], [], 0
    for s, (words, labels) in enumerate(sentences):
        word_ids = flat_ids[at : at + len(words)]
        at += len(words)
        for start, end in word_windows(word_ids, max_len):
            input_ids, position_labels, first = tag_window(
                encoder, word_ids[start:end], labels[start:end], max_len
            )
            features.append(Feature(input_ids, [0] * len(input_ids), position_labels))
            sentence_of.append(s)
            positions.append(first)
    return Tagged(features, sentence_of, positions)


def predict_tags(predict: Predict, tagged: Tagged, num_sentences: int) -> list[list[int]]:
    """Predicted label id per word, per sentence (windows concatenated in order)."""
    out: list[list[int]] = [[] for _ in range(num_sentences)]
    for logits, s, first in zip(
        predict(tagged.features), tagged.sentence_of, tagged.positions, strict=True
    ):
        out[s] += logits[first].argmax(-1).tolist()
    return out
