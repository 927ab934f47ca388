"""Language information in a multilingual encoder, on UDHR's parallel paragraphs.

- one mean sentence vector per language and a 2-D PCA projection of all paragraph vectors;
- a language-id probe on frozen sentence vectors (test paragraphs held out in every language,
  so the probe cannot recognise content it was trained on);
- the mean-difference experiment (Libovický et al. 2019; Pires et al. 2019): shift English
  paragraph vectors by mean(L) - mean(en) and retrieve the parallel paragraph in L by cosine
  nearest neighbour; top-1 with and without the shift. The means are over the same paragraphs.
- zero-shot cross-lingual POS with a frozen probe: trained on UD English, tested on other UD
  dev sets (the fine-tuned version is ``trainer.finetune --task pos --test FILE``).

UDHR files (``udhr2/CODE.txt``) separate articles by a line of three spaces; articles 1-30 are
aligned paragraph by paragraph when a language has as many paragraphs per article as English,
otherwise the language is skipped with that reason.
"""

from __future__ import annotations

import os

import numpy as np

from trainer.analysis.features import sentence_features, word_features
from trainer.analysis.linear_probe import ProbeConfig, probe_accuracy, split_indices
from trainer.tasks.pos import UPOS_TAGS, read_conllu

UDHR_DIR = "multilingual/udhr2"
ARTICLES = 30
ARTICLE_BREAK = "   "
PIVOT = "eng"
# UDHR file code -> ISO 639-1, the languages the multi corpus recipe trains on or near.
DEFAULT_LANGS = {
    "eng": "en",
    "fra": "fr",
    "deu": "de",
    "spa": "es",
    "rus": "ru",
    "ukr": "uk",
    "jpn": "ja",
    "cmn_hans": "zh",
}
UD_DEV = {
    "fr": "eval/ud_multilingual/fr_gsd-ud-dev.conllu",
    "ru": "eval/ud_multilingual/ru_gsd-ud-dev.conllu",
    "zh": "eval/ud_multilingual/zh_gsd-ud-dev.conllu",
    "ja": "eval/ud_multilingual/ja_gsd-ud-dev.conllu",
}


def udhr_articles(path: str) -> list[list[str]]:
    """Articles 1-30 of one UDHR file, each a list of paragraphs (its heading dropped)."""
    chunks: list[list[str]] = [[]]
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line == ARTICLE_BREAK:
                chunks.append([])
            elif line.strip():
                chunks[-1].append(line.strip())
    articles = [c for c in chunks if c][-ARTICLES:]
    return [c[1:] for c in articles]


def udhr_paragraphs(data_dir: str, codes: list[str]) -> tuple[dict[str, list[str]], dict]:
    """(code -> aligned paragraphs, code -> why skipped); the pivot language comes first."""
    pivot = udhr_articles(os.path.join(data_dir, UDHR_DIR, f"{PIVOT}.txt"))
    shape = [len(a) for a in pivot]
    out, skipped = {PIVOT: [p for a in pivot for p in a]}, {}
    for code in codes:
        if code == PIVOT:
            continue
        path = os.path.join(data_dir, UDHR_DIR, f"{code}.txt")
        if not os.path.isfile(path):
            skipped[code] = f"{path}: no such file"
            continue
        articles = udhr_articles(path)
        if [len(a) for a in articles] != shape:
            skipped[code] = "paragraphs per article differ from English"
            continue
        out[code] = [p for a in articles for p in a]
    return out, skipped


def retrieval_top1(queries: np.ndarray, candidates: np.ndarray) -> float:
    """Fraction of i whose cosine nearest neighbour among candidates is candidates[i]."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True).clip(1e-12)
    c = candidates / np.linalg.norm(candidates, axis=1, keepdims=True).clip(1e-12)
    return float((np.argmax(q @ c.T, axis=1) == np.arange(len(q))).mean())


def shifted_retrieval(source: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Top-1 source -> target without and with the shift mean(target) - mean(source)."""
    shift = target.mean(0) - source.mean(0)
    return {
        "top1": retrieval_top1(source, target),
        "top1_shifted": retrieval_top1(source + shift, target),
    }


def pca_2d(x: np.ndarray) -> np.ndarray:
    """[n, H] -> [n, 2]: projection on the first two principal components."""
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def language_analysis(model, text, paragraphs: dict[str, list[str]], cfg: ProbeConfig) -> dict:
    """Per layer: language-id probe accuracy and retrieval en -> L; plus the last layer's
    per-language means and 2-D projection."""
    codes = list(paragraphs)
    feats = {c: sentence_features(model, text, paragraphs[c], "mean") for c in codes}
    n = len(paragraphs[PIVOT])
    train_idx, test_idx = split_indices(n, 0.3, cfg.seed, "langid")
    layers = feats[PIVOT].shape[0]
    result: dict = {"languages": codes, "paragraphs": n, "layers": []}
    for layer in range(layers):
        x_train = np.concatenate([feats[c][layer][train_idx] for c in codes])
        x_test = np.concatenate([feats[c][layer][test_idx] for c in codes])
        y_train = np.repeat(np.arange(len(codes)), len(train_idx))
        y_test = np.repeat(np.arange(len(codes)), len(test_idx))
        langid = probe_accuracy(x_train, y_train, x_test, y_test, len(codes), cfg)
        retrieval = {c: shifted_retrieval(feats[PIVOT][layer], feats[c][layer]) for c in codes[1:]}
        result["layers"].append({"layer": layer, "langid_accuracy": langid, "retrieval": retrieval})
    last = {c: feats[c][-1] for c in codes}
    means = np.stack([last[c].mean(0) for c in codes])
    result["mean_cosine"] = np.round(_cos(means), 4).tolist()
    points = pca_2d(np.concatenate([last[c] for c in codes]))
    result["projection"] = {
        c: points[i * n : (i + 1) * n].round(4).tolist() for i, c in enumerate(codes)
    }
    return result


def _cos(x: np.ndarray) -> np.ndarray:
    unit = x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)
    return unit @ unit.T


def zero_shot_pos(
    model, text, en_train: str, tests: dict[str, str], cfg: ProbeConfig, max_sentences: int = 0
) -> dict:
    """Frozen POS probe per layer trained on UD English, tested on each language's UD file."""
    tag = {t: i for i, t in enumerate(UPOS_TAGS)}

    def read(path: str):
        counts: dict[str, int] = {}
        sentences = read_conllu(path, counts)
        sentences = sentences[:max_sentences] if max_sentences else sentences
        y = np.array([tag[t] for s in sentences for t in s.tags])
        return word_features(model, text, [s.words for s in sentences], "first"), y, counts

    x_en, y_en, _ = read(en_train)
    out: dict = {}
    for lang, path in tests.items():
        x, y, counts = read(path)
        accs = [probe_accuracy(x_en[i], y_en, x[i], y, len(UPOS_TAGS), cfg) for i in range(len(x))]
        out[lang] = {"words": int(len(y)), "accuracy_per_layer": accs, **counts}
    return out
