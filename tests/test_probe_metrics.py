"""trainer.analysis metrics on hand-made inputs: sense separation, cosine matrices, parallel
retrieval with and without the mean shift, PCA, the linear probe, UDHR alignment, word spans,
synonym/antonym polarity."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.analysis.contextual import (
    cosine_matrix,
    read_senses,
    separation_score,
    target_positions,
)
from trainer.analysis.features import word_spans
from trainer.analysis.linear_probe import ProbeConfig, probe_accuracy, split_indices
from trainer.analysis.multilingual import (
    pca_2d,
    retrieval_top1,
    shifted_retrieval,
    udhr_articles,
    udhr_paragraphs,
)
from trainer.analysis.polarity import polarity_scores, read_triples


def test_separation_score_is_exact_on_hand_made_vectors():
    # a, a' point one way, b, b' another: cos(a, a') = 1, cos(b, b') = 0.8, across 0 or 0.6.
    vectors = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    sim = cosine_matrix(vectors)
    assert sim == pytest.approx(
        np.array([[1, 1, 0, 0.6], [1, 1, 0, 0.6], [0, 0, 1, 0.8], [0.6, 0.6, 0.8, 1]])
    )
    score = separation_score(sim, ["x", "x", "y", "y"])
    assert score["within"] == pytest.approx((1.0 + 0.8) / 2)  # pairs i != j only
    assert score["across"] == pytest.approx((0 + 0.6 + 0 + 0.6) / 4)
    assert score["separation"] == pytest.approx(0.9 - 0.3)


def test_one_static_vector_separates_nothing():
    sim = cosine_matrix(np.tile([[0.3, -1.0, 2.0]], (4, 1)))
    assert separation_score(sim, ["a", "a", "b", "b"])["separation"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="two senses"):
        separation_score(sim, ["a", "a", "a", "a"])


def test_zero_vector_has_similarity_zero():
    sim = cosine_matrix(np.array([[0.0, 0.0], [1.0, 0.0]]))
    assert sim[0, 1] == 0.0 and sim[1, 1] == pytest.approx(1.0)


def test_retrieval_top1_and_mean_shift_are_exact():
    # Targets are the sources moved by a constant offset [-1, 1]: t0 = [0, 1], t1 = [-1, 2].
    # s0 = [1, 0] finds t0 (cos 0 > -0.447), s1 = [0, 1] also finds t0 (cos 1 > 0.894): 1/2.
    # The shift mean(t) - mean(s) is exactly the offset, so shifted sources are the targets.
    source = np.array([[1.0, 0.0], [0.0, 1.0]])
    target = source + np.array([-1.0, 1.0])
    assert retrieval_top1(source, source) == 1.0
    assert retrieval_top1(source, target) == 0.5
    assert shifted_retrieval(source, target) == {"top1": 0.5, "top1_shifted": 1.0}
    assert retrieval_top1(source, source[::-1]) == 0.0  # only the parallel item counts


def test_pca_2d_finds_the_spread_direction():
    x = np.array([[0.0, 0.0, 5.0], [10.0, 0.0, 5.0], [20.0, 0.1, 5.0], [30.0, 0.0, 5.0]])
    points = pca_2d(x)
    assert points.shape == (4, 2)
    assert np.abs(points[:, 0]).tolist() == pytest.approx([15, 5, 5, 15], abs=0.01)


def test_linear_probe_learns_a_separable_problem_and_is_seeded():
    rng = np.random.default_rng(0)
    centres = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    y = rng.integers(0, 3, 300)
    x = centres[y] + rng.normal(0, 0.5, (300, 2))
    train, test = split_indices(300, 0.3, seed=1, salt="t")
    assert len(test) == 90 and not set(train) & set(test)
    acc = probe_accuracy(x[train], y[train], x[test], y[test], 3, ProbeConfig(seed=3))
    assert acc > 0.95
    assert acc == probe_accuracy(x[train], y[train], x[test], y[test], 3, ProbeConfig(seed=3))
    shuffled = rng.permutation(y)  # labels unrelated to features: chance level
    assert probe_accuracy(x[train], shuffled[train], x[test], shuffled[test], 3) < 0.6


def test_word_spans_run_to_the_next_word_and_stop_before_sep():
    # [CLS] w0 w1a w1b w2 [SEP]
    assert word_spans([2, 10, 11, 12, 13, 3], [1, 2, 4]) == [(1, 2), (2, 4), (4, 5)]


def test_udhr_alignment_on_a_small_file(tmp_path):
    body = "Title\n   Preamble\n   Whereas.\n   \n"
    for n in range(1, 31):
        body += f"      Article {n}\n      First {n}.\n" + ("      Second.\n" if n == 2 else "")
        body += "   \n"
    (tmp_path / "multilingual" / "udhr2").mkdir(parents=True)
    (tmp_path / "multilingual" / "udhr2" / "eng.txt").write_text(body, encoding="utf-8")
    (tmp_path / "multilingual" / "udhr2" / "xx.txt").write_text(body.upper(), encoding="utf-8")
    short = body.replace("      Second.\n", "")
    (tmp_path / "multilingual" / "udhr2" / "yy.txt").write_text(short, encoding="utf-8")
    articles = udhr_articles(str(tmp_path / "multilingual" / "udhr2" / "eng.txt"))
    assert len(articles) == 30 and articles[0] == ["First 1."]
    assert articles[1] == ["First 2.", "Second."]
    paragraphs, skipped = udhr_paragraphs(str(tmp_path), ["eng", "xx", "yy", "zz"])
    assert list(paragraphs) == ["eng", "xx"] and len(paragraphs["xx"]) == 31
    assert paragraphs["xx"][0] == "FIRST 1."
    assert skipped["yy"] == "paragraphs per article differ from English"
    assert "no such file" in skipped["zz"]


def test_real_udhr_aligns_the_default_languages(shared_data):
    from trainer.analysis.multilingual import DEFAULT_LANGS

    paragraphs, skipped = udhr_paragraphs(str(shared_data), list(DEFAULT_LANGS))
    assert skipped == {} and {len(p) for p in paragraphs.values()} == {50}
    assert paragraphs["eng"][0].startswith("All human beings are born free")
    assert paragraphs["fra"][0].startswith("Tous les êtres humains naissent libres")


def test_sense_list_holds_each_word_once_per_context():
    senses = read_senses()
    assert len(senses) >= 8 and set(senses["apple"]) == {"fruit", "company"}
    assert all(len(s) == 2 for s in senses.values())
    assert target_positions("Apple sells apples.", "apple") == [0]


def test_polarity_scores_are_exact_on_hand_made_vectors():
    # good ~ great: cos 1; good ~ bad: cos 0.6. happy ~ glad: cos 0; happy ~ sad: cos 0.8.
    vectors = {
        "good": np.array([1.0, 0.0]),
        "great": np.array([3.0, 0.0]),
        "bad": np.array([0.6, 0.8]),
        "happy": np.array([0.0, 1.0]),
        "glad": np.array([2.0, 0.0]),
        "sad": np.array([0.6, 0.8]),
    }
    scores = polarity_scores(vectors, [("good", "great", "bad"), ("happy", "glad", "sad")])
    assert scores["synonym"] == pytest.approx(0.5) and scores["antonym"] == pytest.approx(0.7)
    assert scores["margin"] == pytest.approx(-0.2)
    assert scores["synonym_closer"] == 0.5  # good's synonym is nearer, happy's is not
    assert [r["word"] for r in scores["triples"]] == ["good", "happy"]


def test_shipped_polarity_triples_are_well_formed(tmp_path):
    triples, templates = read_triples()
    assert len(triples) >= 20 and all(t.count("{}") == 1 for t in templates)
    bad = tmp_path / "bad.json"
    bad.write_text('{"templates": ["it was {} ."], "triples": [["good", "bad"]]}')
    with pytest.raises(ValueError, match="three single words"):
        read_triples(str(bad))


def test_malformed_spec_files_name_the_file(tmp_path):
    """senses.json and polarity.json alike: bad JSON, a non-object or a missing key is one
    ValueError naming the file (the probe command's one-line error), never a traceback."""
    cases = {
        "broken.json": ("{", "not valid JSON"),
        "list.json": ("[]", "not a JSON object"),
        "empty.json": ("{}", None),
    }
    for name, (content, problem) in cases.items():
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        for reader, key in ((read_senses, "words"), (read_triples, "triples, templates")):
            with pytest.raises(ValueError, match=problem or f"lacks {key}") as err:
                reader(str(path))
            assert str(err.value).startswith(str(path))
