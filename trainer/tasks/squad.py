"""squad: extractive QA, two learned vectors (start, end) over the token outputs; F1 and EM.

SQuAD v1.1 / v2.0 JSON. Input ``[CLS] question [SEP] context window [SEP]``: a context longer
than the room left is cut into windows every ``doc_stride`` tokens; a window that does not hold
the whole answer (and every v2 unanswerable question) points at [CLS]. An answer whose text is
not the context at ``answer_start`` is counted and not trained on (its text still scores).
Predictions: the best span in any window; v2 answers "" when the [CLS] null score beats it by
more than a threshold chosen on the training part (after training, never on the test part).
With no test file the articles are halved: train on one half, test on the other, and the
reverse (the shared sample: Normans <-> Computational_complexity_theory); both are reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from trainer.tasks import Fold, TaskConfig, TaskData, TaskInputError, capped, default_path, require
from trainer.tasks.encoding import TextEncoder
from trainer.tasks.features import Feature
from trainer.tasks.squad_metrics import aggregate, best_null_threshold, best_span, score_answer

DEFAULT_DATA = "eval/squad/squad_v2.0_dev_first2articles.json"
NULL = (0, 0)  # start/end at [CLS]: no answer in this window


@dataclass(frozen=True)
class Question:
    qid: str
    article: int
    question: str
    context: str
    answers: list[str]  # every gold text (scoring)
    answer_start: int | None  # char offset of the first usable answer (training); None: none
    answer_text: str


def read_squad(path: str, counts: dict[str, int]) -> tuple[list[Question], list[str], bool]:
    """(questions, article titles, is v2): answers checked against their context."""
    try:
        with open(path, encoding="utf-8") as f:
            articles = json.load(f)["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise TaskInputError(f"{path}: not SQuAD JSON ({exc})") from None
    questions, titles, v2 = [], [], False
    for a, article in enumerate(articles):
        titles.append(article.get("title", f"article{a}"))
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                v2 = v2 or "is_impossible" in qa
                start, text = None, ""
                for answer in qa.get("answers", []):
                    at, said = answer["answer_start"], answer["text"]
                    if context[at : at + len(said)] != said:
                        counts["answers_mismatched"] = counts.get("answers_mismatched", 0) + 1
                    elif start is None:
                        start, text = at, said
                impossible = bool(qa.get("is_impossible", False))
                if not impossible and start is None:
                    counts["answers_unusable_questions"] = (
                        counts.get("answers_unusable_questions", 0) + 1
                    )
                golds = [] if impossible else [x["text"] for x in qa.get("answers", [])]
                questions.append(
                    Question(
                        qa["id"],
                        a,
                        qa["question"],
                        context,
                        golds,
                        None if impossible else start,
                        text,
                    )
                )
    return questions, titles, v2


@dataclass(frozen=True)
class Window:
    question: int  # index into the question list
    context_at: int  # input position of the window's first context token
    token_start: int  # context token index of that position
    offsets: list[tuple[int, int]]  # char offsets of the window's context tokens


def featurize(
    questions: list[Question], encoder: TextEncoder, cfg: TaskConfig, train: bool
) -> tuple[list[Feature], list[Window]]:
    """Question x context windows -> features (answer token positions or NULL) and windows."""
    contexts = sorted({q.context for q in questions})
    encoded = dict(zip(contexts, encoder.ids_and_offsets(contexts), strict=True))
    query_ids = encoder.ids([q.question for q in questions])
    features, windows = [], []
    for i, (q, query) in enumerate(zip(questions, query_ids, strict=True)):
        if train and q.answer_start is None and q.answers:
            continue  # answerable, but no answer matches its context: nothing to learn from
        query = query[: min(cfg.max_query_len, cfg.max_seq_len // 2)]
        ids, offsets = encoded[q.context]
        span = _token_span(offsets, q.answer_start, len(q.answer_text))
        room = cfg.max_seq_len - len(query) - 3
        start = 0
        while True:
            end = min(start + room, len(ids))
            context_at = len(query) + 2
            label = NULL
            if span and start <= span[0] and span[1] < end:
                label = (span[0] - start + context_at, span[1] - start + context_at)
            input_ids, segments, _ = encoder.pair(query, ids[start:end], cfg.max_seq_len)
            features.append(Feature(input_ids, segments, label))
            windows.append(Window(i, context_at, start, offsets[start:end]))
            if end == len(ids):
                break
            start += min(cfg.doc_stride, room)
    return features, windows


def _token_span(offsets, char_start: int | None, length: int) -> tuple[int, int] | None:
    """First and last context token overlapping [char_start, char_start + length)."""
    if char_start is None:
        return None
    char_end = char_start + length
    inside = [t for t, (s, e) in enumerate(offsets) if e > char_start and s < char_end]
    return (inside[0], inside[-1]) if inside else None


def predict_answers(
    logits: list[np.ndarray], windows: list[Window], questions: list[Question], max_len: int
) -> tuple[list[str], list[float]]:
    """Best span text per question and its null-score margin (null minus best span score)."""
    best: dict[int, tuple[float, str]] = {}
    null: dict[int, float] = {}
    for window_logits, w in zip(logits, windows, strict=True):
        start_logits, end_logits = window_logits[:, 0], window_logits[:, 1]
        null[w.question] = min(null.get(w.question, np.inf), start_logits[0] + end_logits[0])
        allowed = np.zeros(len(start_logits), dtype=bool)
        allowed[w.context_at : w.context_at + len(w.offsets)] = True
        found = best_span(start_logits, end_logits, allowed, max_len)
        if found and found[2] > best.get(w.question, (-np.inf, ""))[0]:
            s, e = found[0] - w.context_at, found[1] - w.context_at
            text = questions[w.question].context[w.offsets[s][0] : w.offsets[e][1]]
            best[w.question] = (found[2], text)
    texts = [best.get(i, (0.0, ""))[1] for i in range(len(questions))]
    margins = [float(null[i] - best.get(i, (null[i], ""))[0]) for i in range(len(questions))]
    return texts, margins


def _fold(name: str, train: list[Question], test: list[Question], v2: bool, encoder, cfg) -> Fold:
    train_features, train_windows = featurize(train, encoder, cfg, train=True)
    test_features, test_windows = featurize(test, encoder, cfg, train=False)
    scored = sorted({w.question for w in train_windows})  # training questions with features
    train_scored = [train[i] for i in scored]
    window_of = {q: k for k, q in enumerate(scored)}
    train_windows = [
        Window(window_of[w.question], w.context_at, w.token_start, w.offsets) for w in train_windows
    ]

    def score(predict) -> dict[str, float]:
        texts, margins = predict_answers(
            predict(test_features), test_windows, test, cfg.max_answer_len
        )
        threshold = None
        if v2:  # the threshold comes from the training questions, never from the test ones
            train_texts, train_margins = predict_answers(
                predict(train_features), train_windows, train_scored, cfg.max_answer_len
            )
            span_f1 = [
                score_answer(q.answers, t)[1]
                for q, t in zip(train_scored, train_texts, strict=True)
            ]
            threshold = best_null_threshold(
                train_margins, span_f1, [bool(q.answers) for q in train_scored]
            )
            texts = ["" if m > threshold else t for t, m in zip(texts, margins, strict=True)]
        out = aggregate(texts, [q.answers for q in test], [bool(q.answers) for q in test])
        return out if threshold is None else {**out, "null_threshold": threshold}

    return Fold(name, train_features, test_features, len(test), score)


def load(cfg: TaskConfig, encoder: TextEncoder) -> TaskData:
    counts: dict[str, int] = {}
    train_path = require(cfg.train or default_path(cfg, DEFAULT_DATA), "--train")
    questions, titles, v2 = read_squad(train_path, counts)
    files = {"train": train_path}
    if cfg.test:
        files["test"] = require(cfg.test, "--test")
        test, _, test_v2 = read_squad(cfg.test, counts)
        parts = [("test", questions, test)]
        v2 = v2 or test_v2
    else:
        if len(titles) < 2:
            raise TaskInputError(f"{train_path}: one article; give --test to evaluate")
        half = len(titles) // 2
        first = [q for q in questions if q.article < half]
        second = [q for q in questions if q.article >= half]
        name_a, name_b = "+".join(titles[:half]), "+".join(titles[half:])
        parts = [(f"test={name_b}", first, second), (f"test={name_a}", second, first)]
    folds: list[Fold] = []
    trained: set[str] = set()
    for k, (name, train, test) in enumerate(parts):
        train = capped(train, cfg.max_train_examples, cfg.split_seed, f"squad-train-{k}")
        test = capped(test, cfg.max_test_examples, cfg.split_seed, f"squad-test-{k}")
        folds.append(_fold(name, train, test, v2, encoder, cfg))
        trained.update(q.qid for q in train)
    n_train = len(trained)
    n_test = sum(f.test_examples for f in folds)
    return TaskData("squad", "span", 2, "f1", folds, n_train, n_test, counts, files)
