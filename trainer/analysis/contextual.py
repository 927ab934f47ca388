"""How contextual are the encoder's vectors? For each ambiguous word (senses.json: two senses,
several written contexts each) the cosine-similarity matrix of its vectors across contexts, per
layer and for the static input embedding, and a sense-separation score:

    separation = mean similarity of pairs with the same sense - mean over pairs across senses

(pairs i != j only). The static embedding is the same vector in every context, so its matrix is
all ones and its separation exactly 0: whatever a layer separates, context put there.
"""

from __future__ import annotations

import os
import re

import numpy as np

from trainer.analysis.features import static_word_features, word_features
from trainer.analysis.spec_files import read_spec

SENSES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "senses.json")
_WORDS = re.compile(r"\w+|[^\w\s]")


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """[n, H] -> [n, n] cosine similarities (a zero vector has similarity 0 to everything)."""
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    unit = np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
    return unit @ unit.T


def separation_score(similarity: np.ndarray, senses: list[str]) -> dict[str, float]:
    """Mean within-sense and across-sense similarity over pairs i != j, and their difference."""
    labels = np.asarray(senses)
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    within, across = similarity[same & off_diagonal], similarity[~same]
    if not within.size or not across.size:
        raise ValueError("separation needs two senses and two contexts of one sense")
    w, a = float(within.mean()), float(across.mean())
    return {"within": w, "across": a, "separation": w - a}


def read_senses(path: str = SENSES_FILE) -> dict[str, dict[str, list[str]]]:
    """word -> sense -> contexts; every context must hold its word exactly once."""
    words = read_spec(path, ("words",))["words"]
    for word, senses in words.items():
        for contexts in senses.values():
            for context in contexts:
                if len(target_positions(context, word)) != 1:
                    raise ValueError(f"{path}: {word!r} not exactly once in {context!r}")
    return words


def split_words(text: str) -> list[str]:
    return _WORDS.findall(text)


def target_positions(text: str, word: str) -> list[int]:
    return [i for i, w in enumerate(split_words(text)) if w.lower() == word.lower()]


def word_vectors(model, text, word: str, contexts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(per-layer vectors [layers, n, H], static vectors [n, H]) of ``word`` in each context:
    the mean of its sub-tokens."""
    sentences = [split_words(c) for c in contexts]
    starts = np.cumsum([0] + [len(s) for s in sentences])[:-1]
    rows = [
        int(start) + target_positions(c, word)[0] for start, c in zip(starts, contexts, strict=True)
    ]
    layers = word_features(model, text, sentences, "mean")[:, rows]
    static = static_word_features(model, text, sentences, "mean")[rows]
    return layers, static


def analyse_word(model, text, word: str, senses: dict[str, list[str]]) -> dict:
    """Matrices and separation per layer ('static', 0 = embedding output, 1..N) of one word."""
    labels = [sense for sense, contexts in senses.items() for _ in contexts]
    contexts = [c for cs in senses.values() for c in cs]
    layers, static = word_vectors(model, text, word, contexts)
    result: dict = {"word": word, "senses": labels, "contexts": contexts, "layers": {}}
    for name, vectors in [("static", static), *((str(i), v) for i, v in enumerate(layers))]:
        sim = cosine_matrix(vectors)
        result["layers"][name] = {
            "similarity": sim.round(4).tolist(),
            **separation_score(sim, labels),
        }
    return result


def analyse(model, text, senses: dict[str, dict[str, list[str]]]) -> dict:
    """Every word, plus the separation averaged over words per layer."""
    words = [analyse_word(model, text, w, s) for w, s in senses.items()]
    names = list(words[0]["layers"]) if words else []
    mean = {n: float(np.mean([w["layers"][n]["separation"] for w in words])) for n in names}
    return {"words": words, "mean_separation": mean}
