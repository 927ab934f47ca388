"""SQuAD scoring and features: official normalisation, EM/F1 (v2 no-answer), best span, the
null threshold, doc-stride windows and answer checking, on hand-computed cases and the real
two-article sample."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.finetune_fixtures import bert_tok_dir  # noqa: F401  (fixture)
from trainer.tasks import TaskConfig
from trainer.tasks.squad import NULL, featurize, predict_answers, read_squad
from trainer.tasks.squad_metrics import (
    aggregate,
    best_null_threshold,
    best_span,
    exact_match,
    f1_score,
    gold_texts,
    normalize_answer,
    score_answer,
)

SQUAD = "eval/squad/squad_v2.0_dev_first2articles.json"


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("The Quick, brown fox!", "quick brown fox"),
        ("  an Apple a day  ", "apple day"),
        ("theater", "theater"),  # articles only as whole words
        ("Norman: Nourmands;", "norman nourmands"),
        ("10th-century", "10thcentury"),  # punctuation removed, not replaced by a space
        ("", ""),
    ],
)
def test_normalize_answer_official_rules(text, normal):
    assert normalize_answer(text) == normal


def test_exact_match_and_f1_hand_computed():
    assert exact_match("Normans", "the Normans") == 1.0
    assert exact_match("Normans", "Norman") == 0.0
    # gold {quick, brown, fox}, predicted {quick, fox, jumps}: 2 shared, P = R = 2/3
    assert f1_score("the quick brown fox", "quick fox jumps") == pytest.approx(2 / 3)
    # multiset overlap: red x min(2, 1) + blue x min(1, 2) = 2 of 3 each way
    assert f1_score("red red blue", "red blue blue") == pytest.approx(2 / 3)
    assert f1_score("France", "in France") == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert f1_score("France", "Italy") == 0.0


def test_v2_no_answer_scoring():
    assert gold_texts([]) == [""]
    assert gold_texts(["the", "France"]) == ["France"]  # "the" normalises to nothing
    assert score_answer([], "") == (1.0, 1.0)
    assert score_answer([], "France") == (0.0, 0.0)
    assert score_answer(["France"], "") == (0.0, 0.0)
    assert score_answer(["in France", "France"], "France") == (1.0, 1.0)  # best gold
    out = aggregate(["France", "", "x"], [["France"], [], []], [True, False, False])
    assert out["exact"] == pytest.approx(2 / 3)
    assert out["has_ans_exact"] == 1.0 and out["has_ans_total"] == 1.0
    assert out["no_ans_exact"] == 0.5 and out["no_ans_f1"] == 0.5 and out["no_ans_total"] == 2
    assert "has_ans_f1" not in aggregate(["France"], [["France"]], [True])  # v1.1: no split


def test_best_span_respects_order_length_and_context():
    start = np.array([0.0, 1.0, 5.0, 0.0])
    end = np.array([0.0, 0.0, 1.0, 6.0])
    context = np.array([False, True, True, True])
    assert best_span(start, end, context, max_answer_len=30) == (2, 3, 11.0)
    assert best_span(start, end, context, max_answer_len=1) == (2, 2, 6.0)  # first of a tie
    # the highest sum (start 3, end 1) runs backwards: never chosen
    assert best_span(
        np.array([0.0, 0.0, 0.0, 9.0]), np.array([0.0, 9.0, 0.0, 0.0]), context, 3
    ) == (1, 1, 9.0)
    # [CLS] (position 0) is never a span end, even with the best scores
    cls_best = np.array([9.0, 0.0, 0.0, 0.0])
    assert best_span(cls_best, cls_best, context, 30) == (1, 1, 0.0)
    assert best_span(start, end, np.zeros(4, dtype=bool), 30) is None


def test_null_threshold_maximises_training_f1():
    # margins sorted: answering q0 gains 1, q1 (unanswerable) loses 1, q2 gains 1: ties -> first
    assert best_null_threshold([-2.0, 1.0, 3.0], [1.0, 0.0, 1.0], [True, False, True]) == -2.0
    assert best_null_threshold([-2.0, 1.0, 3.0], [1.0, 0.0, 1.0], [True, True, True]) == 3.0
    # all unanswerable and every span wrong: abstain on all (threshold below every margin)
    assert best_null_threshold([0.5, 1.0], [0.0, 0.0], [False, False]) == -0.5


def test_read_squad_real_sample(shared_data):
    counts: dict[str, int] = {}
    questions, titles, v2 = read_squad(str(shared_data / SQUAD), counts)
    assert titles == ["Normans", "Computational_complexity_theory"] and v2
    assert len(questions) == 626
    assert sum(not q.answers for q in questions) == 333  # is_impossible
    assert counts == {}
    for q in questions:
        if q.answer_start is not None:
            assert q.context[q.answer_start :].startswith(q.answer_text)


def test_mismatched_answer_is_counted_and_not_trained_on(tmp_path, bert_tok_dir):  # noqa: F811
    from trainer.encoder import load_text_encoder

    context = "The Normans gave their name to Normandy, a region in France."
    data = {
        "version": "v2.0",
        "data": [
            {
                "title": "t",
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {"id": "ok", "question": "Where is Normandy?", "is_impossible": False,
                             "answers": [{"text": "France", "answer_start": context.index("France")}]},
                            {"id": "bad", "question": "Who?", "is_impossible": False,
                             "answers": [{"text": "Normans", "answer_start": 0}]},
                        ],
                    }
                ],
            }
        ],
    }  # fmt: skip
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    counts: dict[str, int] = {}
    questions, _, _ = read_squad(str(path), counts)
    assert counts == {"answers_mismatched": 1, "answers_unusable_questions": 1}
    assert questions[1].answers == ["Normans"] and questions[1].answer_start is None
    encoder = load_text_encoder(bert_tok_dir)
    features, windows = featurize(questions, encoder, TaskConfig(), train=True)
    assert {w.question for w in windows} == {0}  # the bad one is not trained on
    start, end = features[0].label
    assert encoder.tokenizer.decode(features[0].input_ids[start : end + 1]) == "france"


def test_doc_stride_windows_cover_the_context_and_label_the_answer(shared_data, bert_tok_dir):  # noqa: F811
    from trainer.encoder import load_text_encoder

    encoder = load_text_encoder(bert_tok_dir)
    questions, _, _ = read_squad(str(shared_data / SQUAD), {})
    q = next(q for q in questions if q.answers and q.answer_start > 300)
    cfg = TaskConfig(max_seq_len=48, doc_stride=16, max_query_len=12)
    features, windows = featurize([q], encoder, cfg, train=True)
    n_tokens = len(encoder.ids_and_offsets([q.context])[0][0])
    assert len(windows) > 2
    assert windows[0].token_start == 0
    assert [w.token_start for w in windows] == list(range(0, 16 * len(windows), 16))
    assert windows[-1].token_start + len(windows[-1].offsets) == n_tokens  # covered to the end
    assert all(len(f.input_ids) <= 48 for f in features)
    answered = [f for f in features if f.label != NULL]
    assert answered, "some window holds the whole answer"
    for f in answered:
        s, e = f.label
        text = encoder.tokenizer.decode(f.input_ids[s : e + 1])
        assert normalize_answer(text) == normalize_answer(q.answer_text)
        assert f.token_type_ids[s] == 1  # inside the context segment
    # predicting the labelled span of a window gives the answer text from the context
    f = answered[0]
    logits = np.full((len(f.input_ids), 2), -5.0)
    logits[f.label[0], 0] = logits[f.label[1], 1] = 5.0
    others = [np.zeros((len(x.input_ids), 2)) for x in features]
    others[features.index(f)] = logits
    texts, margins = predict_answers(others, windows, [q], cfg.max_answer_len)
    assert texts == [q.answer_text] and margins[0] < 0
