"""Does pretraining separate sentiment polarity in word vectors? For (word, synonym, antonym)
triples (polarity.json), the cosine of each word to its synonym and to its antonym, per layer
and for the static input embedding:

    margin = mean cos(word, synonym) - mean cos(word, antonym)
    synonym_closer = share of triples whose synonym is nearer than their antonym

Masked-LM training places a word near the words that fill the same slots, and antonyms fill the
same slots ("the film was good / bad"); a margin near 0 means the vectors carry topic and part
of speech but not polarity, which a sentiment classifier must then learn from its labels. A
word's contextual vector is its sub-tokens' mean, averaged over the neutral templates.
"""

from __future__ import annotations

import os

import numpy as np

from trainer.analysis.contextual import cosine_matrix, split_words, word_vectors
from trainer.analysis.spec_files import read_spec

POLARITY_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "polarity.json")
NEIGHBOURS = 8


def read_triples(path: str = POLARITY_FILE) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(triples, templates); every template holds one ``{}``, every triple three words."""
    spec = read_spec(path, ("triples", "templates"))
    triples = [tuple(t) for t in spec["triples"]]
    templates = list(spec["templates"])
    for t in triples:
        if len(t) != 3 or not all(isinstance(w, str) and len(split_words(w)) == 1 for w in t):
            raise ValueError(f"{path}: a triple is three single words, got {list(t)!r}")
    for template in templates:
        if template.count("{}") != 1:
            raise ValueError(f"{path}: a template holds one {{}}, got {template!r}")
    if not triples or not templates:
        raise ValueError(f"{path}: needs triples and templates")
    return triples, templates  # type: ignore[return-value]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(cosine_matrix(np.stack([a, b]))[0, 1])


def polarity_scores(vectors: dict[str, np.ndarray], triples) -> dict:
    """Per triple cos(word, synonym) and cos(word, antonym); their means, margin, share."""
    rows = []
    for word, synonym, antonym in triples:
        syn, ant = (_cosine(vectors[word], vectors[other]) for other in (synonym, antonym))
        rows.append({"word": word, "synonym": syn, "antonym": ant})
    syn_mean = float(np.mean([r["synonym"] for r in rows]))
    ant_mean = float(np.mean([r["antonym"] for r in rows]))
    closer = float(np.mean([r["synonym"] > r["antonym"] for r in rows]))
    return {"synonym": syn_mean, "antonym": ant_mean, "margin": syn_mean - ant_mean,
            "synonym_closer": closer, "triples": rows}  # fmt: skip


def word_layers(model, text, words: list[str], templates: list[str]) -> dict[str, np.ndarray]:
    """word -> [layers + 1 ('static' first), H]: the static embedding, then each layer's vector
    averaged over the templates."""
    out = {}
    for word in words:
        layers, static = word_vectors(model, text, word, [t.format(word) for t in templates])
        out[word] = np.concatenate([static[:1], layers.mean(axis=1)], axis=0)
    return out


def neighbours(model, text, words: list[str], k: int = NEIGHBOURS) -> dict[str, list[str]]:
    """The k nearest vocabulary pieces of each single-piece word's input embedding."""
    vocab = {i: piece for piece, i in text.tokenizer.get_vocab().items()}
    # Only rows the vocabulary names: the table is padded to a multiple of 64 rows.
    table = model.embeddings.word.weight.detach().float().numpy()[: max(vocab) + 1]
    unit = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12)
    out = {}
    for word, ids in zip(words, text.word_ids(words), strict=True):
        if len(ids) == 1:
            ranked = np.argsort(-(unit @ unit[ids[0]]))
            out[word] = [vocab[int(i)] for i in ranked if int(i) != ids[0] and int(i) in vocab][:k]
    return out


def analyse(model, text, triples, templates: list[str]) -> dict:
    """Scores per layer ('static', '0' = embedding output, '1'..N) and static neighbours."""
    words = sorted({w for t in triples for w in t})
    by_word = word_layers(model, text, words, templates)
    depth = next(iter(by_word.values())).shape[0]
    names = ["static", *(str(i) for i in range(depth - 1))]
    layers = {
        name: polarity_scores({w: v[i] for w, v in by_word.items()}, triples)
        for i, name in enumerate(names)
    }
    return {"layers": layers, "neighbours": neighbours(model, text, [t[0] for t in triples])}
