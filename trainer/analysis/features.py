"""Frozen features of an encoder, one array per layer: index 0 is the embedding layer's output
(word + position + segment, normalised), index i the output of encoder layer i.

Words are read on their first sub-token (as the POS fine-tuning task reads them) or as the mean
of their sub-tokens; sentences as the [CLS] vector or the mean over their tokens (without [CLS]
and [SEP]). Inputs are batched by length and padded per batch; nothing is trained here.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from trainer.model import BertForPretraining
from trainer.tasks.encoding import TextEncoder
from trainer.tasks.features import Feature, collate, eval_batches
from trainer.tasks.tagging import align

WordPool = Literal["first", "mean"]
SentencePool = Literal["cls", "mean"]
BATCH_SIZE = 64


@torch.no_grad()
def layer_states(model: BertForPretraining, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """[num_layers + 1] hidden states [B, L, H]: the embedding output, then every layer's."""
    key_mask = batch["attention_mask"].bool()[:, None, None, :]
    x = model.embeddings(batch["input_ids"], batch["token_type_ids"])
    states = [x]
    for layer in model.layers:
        x = layer(x, key_mask)
        states.append(x)
    return states


def _run(model, features: list[Feature], pad_id: int, read) -> None:
    """Calls read(feature_indices, states) for each length-sorted batch, in eval mode."""
    model.eval()
    lengths = [len(f.input_ids) for f in features]
    for indices in eval_batches(lengths, BATCH_SIZE):
        arrays = collate([features[i] for i in indices], pad_id)
        batch = {k: torch.from_numpy(v) for k, v in arrays.items() if k != "labels"}
        read(indices, layer_states(model, batch))


def word_spans(input_ids: list[int], firsts: list[int]) -> list[tuple[int, int]]:
    """[start, end) sub-token span of each word: from its first sub-token to the next word's
    (the last word ends before [SEP])."""
    ends = [*firsts[1:], len(input_ids) - 1]
    return list(zip(firsts, ends, strict=True))


def word_features(
    model: BertForPretraining,
    text: TextEncoder,
    sentences: list[list[str]],
    pool: WordPool = "first",
    max_len: int = 128,
) -> np.ndarray:
    """[num_layers + 1, number of words, H] float32, words in sentence order.

    A sentence longer than max_len is cut into windows of whole words (trainer.tasks.tagging),
    so every word gets exactly one vector.
    """
    tagged = align([(words, [0] * len(words)) for words in sentences], text, max_len)
    offsets = np.cumsum([0] + [len(p) for p in tagged.positions])
    layers = model.cfg.num_layers + 1
    out = np.zeros((layers, int(offsets[-1]), model.cfg.hidden_size), dtype=np.float32)

    def read(indices, states) -> None:
        for row, i in enumerate(indices):
            spans = word_spans(tagged.features[i].input_ids, tagged.positions[i])
            for layer, h in enumerate(states):
                if pool == "first":
                    vectors = h[row, [start for start, _ in spans]]
                else:
                    vectors = torch.stack([h[row, s:e].mean(0) for s, e in spans])
                out[layer, offsets[i] : offsets[i + 1]] = vectors.float().numpy()

    # Windows of one sentence are consecutive features, so feature order is word order.
    _run(model, tagged.features, text.pad_id, read)
    return out


def static_word_features(
    model: BertForPretraining, text: TextEncoder, sentences: list[list[str]], pool: WordPool
) -> np.ndarray:
    """[number of words, H]: the input word-embedding rows alone (no position, no context)."""
    table = model.embeddings.word.weight.detach().float()
    flat = [word for words in sentences for word in words]
    rows = []
    for ids in text.word_ids(flat):
        rows.append(table[ids[0]] if pool == "first" else table[ids].mean(0))
    return torch.stack(rows).numpy() if rows else np.zeros((0, table.shape[1]), np.float32)


def sentence_features(
    model: BertForPretraining,
    text: TextEncoder,
    texts: list[str],
    pool: SentencePool = "cls",
    max_len: int = 128,
) -> np.ndarray:
    """[num_layers + 1, number of texts, H] float32: [CLS] or the mean over the text's tokens."""
    features = []
    for ids in text.ids(texts):
        input_ids, segments, _ = text.single(ids, max_len)
        features.append(Feature(input_ids, segments, 0))
    layers = model.cfg.num_layers + 1
    out = np.zeros((layers, len(texts), model.cfg.hidden_size), dtype=np.float32)

    def read(indices, states) -> None:
        for row, i in enumerate(indices):
            n = len(features[i].input_ids)
            for layer, h in enumerate(states):
                # A text with no tokens ([CLS] [SEP] only) falls back to its [CLS] vector.
                v = h[row, 0] if pool == "cls" or n <= 2 else h[row, 1 : n - 1].mean(0)
                out[layer, i] = v.float().numpy()

    _run(model, features, text.pad_id, read)
    return out
