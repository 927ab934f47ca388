"""sst2 and rte inputs: GLUE/RT readers with bad rows counted, the SST-2 <-> RT polarity
train/test overlap filter on the real files, RTE's CSV quoting and k-fold splits."""

from __future__ import annotations

import random

import pytest

from trainer.tasks import TaskInputError
from trainer.tasks.rte import kfold, read_rte_tsv
from trainer.tasks.sentiment import (
    overlap_filter,
    overlap_key,
    read_glue_tsv,
    read_rt_polarity,
)

RT = "eval/sentiment_rt_polarity"
SST2 = "eval/sst2/sst2_glue_dev.tsv"
RTE = "eval/nli_rte/rte_dev.tsv"


def test_overlap_key_ignores_case_spacing_and_punctuation():
    assert overlap_key("It 's a charming , and often affecting journey .") == overlap_key(
        "it's a charming and often-affecting journey"
    )
    assert overlap_key("Amélie 2") == "amélie2"  # letters of any script and digits stay


def test_overlap_filter_hand_cases():
    train = ["A great film!", "great", "a great film , really", "so boring", "superb acting"]
    test = ["a great film", "so boring it hurts"]
    keep, counts = overlap_filter(train, test)
    assert keep == [False, False, False, False, True]
    assert counts == {
        "overlap_equal": 1,
        "overlap_contains_test": 1,  # "a great film , really"
        "overlap_in_test": 2,  # "great", "so boring"
        "overlap_removed": 4,
    }


def test_overlap_filter_on_real_rt_and_sst2(shared_data):
    counts: dict[str, int] = {}
    rt = read_rt_polarity(str(shared_data / RT), counts)
    sst = read_glue_tsv(str(shared_data / SST2), counts)
    assert (len(rt), len(sst), counts) == (10662, 872, {})
    rt_keys = {overlap_key(t) for t, _ in rt}
    sst_keys = [overlap_key(t) for t, _ in sst]
    assert sum(k in rt_keys for k in sst_keys) == 731  # the figure
    joined = "\x00".join(rt_keys)
    assert sum(k in joined for k in sst_keys) == 871  # nearly all inside some RT snippet
    keep, overlap = overlap_filter([t for t, _ in rt], [t for t, _ in sst])
    assert overlap == {
        "overlap_equal": 731,
        "overlap_contains_test": 346,
        "overlap_in_test": 8,
        "overlap_removed": 1085,
    }
    kept = [overlap_key(t) for (t, _), k in zip(rt, keep, strict=True) if k]
    assert len(kept) == 10662 - 1085
    for key in random.Random(0).sample(kept, 300):  # brute-force check of a sample
        assert all(key not in s and s not in key for s in sst_keys)


def test_glue_tsv_counts_malformed_rows(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text(
        'sentence\tlabel\na "fine" film \t1\nno label here\nbad label\tx\n\t0\ndull \t0\n',
        encoding="utf-8",
    )
    counts: dict[str, int] = {}
    assert read_glue_tsv(str(path), counts) == [('a "fine" film', 1), ("dull", 0)]
    assert counts == {"malformed_rows": 3}


def test_rte_reader_csv_quoting_and_bad_rows(tmp_path, shared_data):
    path = tmp_path / "rte.tsv"
    path.write_text(
        "sentence1\tsentence2\tlabel\tidx\n"
        '"He said ""hi""\tthen left."\tHe left.\t0\t0\n'
        "A man sleeps.\tA man runs.\tnot_entailment\t1\n"
        "Too few fields\t1\n"
        "A.\tB.\tmaybe\t3\n",
        encoding="utf-8",
    )
    counts: dict[str, int] = {}
    rows = read_rte_tsv(str(path), counts)
    assert rows == [
        ('He said "hi"\tthen left.', "He left.", 0),
        ("A man sleeps.", "A man runs.", 1),
    ]
    assert counts == {"malformed_rows": 2}
    counts = {}
    real = read_rte_tsv(str(shared_data / RTE), counts)
    assert len(real) == 277 and counts == {}
    assert {label for _, _, label in real} == {0, 1}


@pytest.mark.parametrize(("n", "k"), [(277, 5), (10, 5), (11, 3), (2, 2)])
def test_kfold_disjoint_covering_balanced(n, k):
    folds = kfold(n, k, seed=0)
    assert len(folds) == k
    flat = [i for fold in folds for i in fold]
    assert sorted(flat) == list(range(n))  # covering, and disjoint (no index twice)
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    assert kfold(n, k, seed=0) == folds  # fixed by the seed
    if n > k:
        assert kfold(n, k, seed=1) != folds


def test_kfold_refuses_impossible_splits():
    with pytest.raises(TaskInputError):
        kfold(3, 5, seed=0)
    with pytest.raises(TaskInputError):
        kfold(10, 1, seed=0)
