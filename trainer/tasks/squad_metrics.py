"""SQuAD scoring: the official answer normalisation, EM and F1 (v2.0 rules, which agree with
v1.1 whenever an answer exists), best-span search, and the v2 no-answer threshold.

Scores are fractions in [0, 1] (the official script prints them x100).
"""

from __future__ import annotations

import collections
import re
import string

import numpy as np

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation, drop articles, collapse whitespace (official order)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(gold: str, predicted: str) -> float:
    return float(normalize_answer(gold) == normalize_answer(predicted))


def f1_score(gold: str, predicted: str) -> float:
    """Bag-of-tokens F1; an empty answer (no-answer) scores 1 only against an empty one."""
    gold_tokens = normalize_answer(gold).split()
    predicted_tokens = normalize_answer(predicted).split()
    if not gold_tokens or not predicted_tokens:
        return float(gold_tokens == predicted_tokens)
    common = collections.Counter(gold_tokens) & collections.Counter(predicted_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def gold_texts(answers: list[str]) -> list[str]:
    """The golds a prediction is scored against: answers that normalise to nothing are left
    out, and a question without any is unanswerable (gold ``""``)."""
    kept = [a for a in answers if normalize_answer(a)]
    return kept or [""]


def score_answer(answers: list[str], predicted: str) -> tuple[float, float]:
    """(EM, F1) of one prediction: the best over the gold answers."""
    golds = gold_texts(answers)
    return max(exact_match(g, predicted) for g in golds), max(f1_score(g, predicted) for g in golds)


def best_span(
    start_logits: np.ndarray, end_logits: np.ndarray, allowed: np.ndarray, max_answer_len: int
) -> tuple[int, int, float] | None:
    """Highest start + end score over spans with start <= end < start + max_answer_len and
    both ends at allowed positions (the context); None when no position is allowed."""
    n = len(start_logits)
    scores = start_logits[:, None].astype(np.float64) + end_logits[None, :]  # [start, end]
    offset = np.arange(n)[None, :] - np.arange(n)[:, None]  # end - start
    valid = (offset >= 0) & (offset < max_answer_len) & allowed[:, None] & allowed[None, :]
    if not valid.any():
        return None
    flat = int(np.where(valid, scores, -np.inf).argmax())
    start, end = divmod(flat, n)
    return start, end, float(scores[start, end])


def best_null_threshold(
    score_diffs: list[float], span_f1: list[float], has_answer: list[bool]
) -> float:
    """The null-score margin that maximises total F1 on (training) questions.

    A question is answered "" when its null score minus its best span score exceeds the
    threshold. Sweeping the threshold up through the sorted margins answers one more question
    with its span each time (the official script's find_best_thresh, over F1).
    """
    order = np.argsort(np.asarray(score_diffs, dtype=np.float64), kind="stable")
    null_f1 = np.asarray([0.0 if h else 1.0 for h in has_answer])
    gain = np.asarray(span_f1)[order] - null_f1[order]  # answering instead of abstaining
    totals = np.concatenate([[0.0], np.cumsum(gain)])  # totals[k]: first k answered
    k = int(totals.argmax())
    diffs = np.asarray(score_diffs, dtype=np.float64)[order]
    if k == 0:
        return float(diffs[0] - 1.0) if len(diffs) else 0.0  # abstain on every question
    return float(diffs[k - 1])


def aggregate(
    predictions: list[str], answers: list[list[str]], has_answer: list[bool]
) -> dict[str, float]:
    """EM and F1 over questions, plus HasAns_/NoAns_ splits when both kinds exist (v2)."""
    pairs = [score_answer(a, p) for a, p in zip(answers, predictions, strict=True)]
    out = {"exact": _mean([em for em, _ in pairs]), "f1": _mean([f1 for _, f1 in pairs])}
    if not all(has_answer):
        for name, want in (("has_ans", True), ("no_ans", False)):
            part = [s for s, h in zip(pairs, has_answer, strict=True) if h == want]
            out[f"{name}_exact"] = _mean([em for em, _ in part])
            out[f"{name}_f1"] = _mean([f1 for _, f1 in part])
            out[f"{name}_total"] = float(len(part))
    return out


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
