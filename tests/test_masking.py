"""Dynamic MLM masking: exact hash values, statistics on >= 200k tokens, word/span invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.hashing import splitmix64
from tests.example_fixtures import SPECIAL_TOKEN_IDS, VOCAB_SIZE, batch_arrays, make_rows
from trainer.masking import (
    IGNORE_INDEX,
    Masker,
    MaskingConfig,
    example_keys,
    position_hash,
    sample_span_lengths,
    select_whole_words,
    span_length_cdf,
    word_bounds,
)

MASK = SPECIAL_TOKEN_IDS["[MASK]"]
PAD = SPECIAL_TOKEN_IDS["[PAD]"]
SPECIAL = np.array(sorted(SPECIAL_TOKEN_IDS.values()))


def masker(**kw) -> Masker:
    return Masker(MaskingConfig(**kw), special_token_ids=SPECIAL_TOKEN_IDS, vocab_size=VOCAB_SIZE)


def sigma(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def corpus():
    """~3,500 realistic rows (>= 200k candidate tokens) in padded batches of 64, with keys."""
    rows = make_rows(3500, seed=11)
    batches = []
    for start in range(0, len(rows), 64):
        ids, real, word_start = batch_arrays(rows[start : start + 64])
        keys = example_keys(5, 0, np.arange(start, start + len(ids)))
        batches.append((ids, real, word_start, keys))
    return batches


def run_all(m: Masker, corpus) -> list[tuple[np.ndarray, ...]]:
    out = []
    for ids, real, word_start, keys in corpus:
        masked, labels = m(ids, keys, real=real, word_start=word_start)
        out.append((ids, real, word_start, masked, labels))
    return out


def totals(results) -> dict[str, int]:
    n = {"cand": 0, "sel": 0, "mask": 0, "rand": 0, "keep": 0}
    for ids, real, _, masked, labels in results:
        cand = real & ~np.isin(ids, SPECIAL)
        sel = labels != IGNORE_INDEX
        assert not (sel & ~cand).any(), "special token or padding selected"
        assert (labels[sel] == ids[sel]).all()
        assert (masked[~sel] == ids[~sel]).all(), "unselected token changed"
        n["cand"] += int(cand.sum())
        n["sel"] += int(sel.sum())
        n["mask"] += int((masked[sel] == MASK).sum())
        n["keep"] += int((masked[sel] == ids[sel]).sum())
        n["rand"] += int(((masked[sel] != MASK) & (masked[sel] != ids[sel])).sum())
    return n


def whole_words_respected(word_start: np.ndarray, real: np.ndarray, labels: np.ndarray) -> bool:
    """Every word (word_start run) is fully predicted or not at all."""
    for r in range(labels.shape[0]):
        n = int(real[r].sum())
        word = np.cumsum(word_start[r, :n])
        sel = labels[r, :n] != IGNORE_INDEX
        for w in np.unique(word[sel]):
            if not sel[word == w].all():
                return False
    return True


# --- exact values ---------------------------------------------------------------------------


def test_splitmix64_matches_reference_stream():
    # First outputs of the reference splitmix64 generator seeded with 0.
    states = np.arange(1, 4, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    assert splitmix64(states).tolist() == [
        0xE220A8397B1DCDAF,
        0x6E789E6AA1B965F4,
        0x06C45D188009454F,
    ]


def test_keys_are_stable_and_distinct():
    a = example_keys(0, 0, np.arange(1000))
    assert a.tolist() == example_keys(0, 0, np.arange(1000)).tolist()
    assert len(set(a.tolist())) == 1000
    assert not set(a.tolist()) & set(example_keys(0, 1, np.arange(1000)).tolist())
    assert not set(a.tolist()) & set(example_keys(1, 0, np.arange(1000)).tolist())


def test_config_rejects_bad_values():
    for bad in (
        {"mask_rate": 1.5},
        {"mask_token_frac": 0.8, "random_token_frac": 0.3},
        {"strategy": "sentence"},
        {"span_geometric_p": 0.0},
        {"max_span": 0},
    ):
        with pytest.raises(ValueError):
            MaskingConfig(**bad)
    with pytest.raises(ValueError, match="MASK"):
        Masker(MaskingConfig(), special_token_ids={"[PAD]": 0}, vocab_size=10)


def test_token_masking_pinned_output():
    """The random stream is part of the reproducibility contract: changing it changes runs."""
    ids = np.array([[101, *range(2000, 2030), 102, 0, 0]], dtype=np.int64)
    real = ids != PAD
    masked, labels = masker()(ids, example_keys(0, 0, np.array([7])), real=real)
    picked = np.flatnonzero(labels[0] != IGNORE_INDEX).tolist()
    assert picked == PINNED_POSITIONS
    assert masked[0, picked].tolist() == PINNED_IDS


PINNED_POSITIONS = [2, 11, 12]
PINNED_IDS = [MASK, MASK, 2974]  # 12 drew a random token


# --- statistics -----------------------------------------------------------------------------


def test_token_masking_statistics(corpus):
    n = totals(run_all(masker(), corpus))
    assert n["cand"] >= 200_000
    assert abs(n["sel"] / n["cand"] - 0.15) < 4 * sigma(0.15, n["cand"])
    for key, p in (("mask", 0.8), ("rand", 0.1), ("keep", 0.1)):
        # keep also gets the 1/vocab chance that a random token equals the original
        assert abs(n[key] / n["sel"] - p) < 4 * sigma(p, n["sel"]) + 1e-4, key


def test_random_tokens_uniform_over_non_special_ids(corpus):
    replaced = []
    for _, _, _, masked, labels in run_all(
        masker(mask_token_frac=0.0, random_token_frac=1.0), corpus
    ):
        sel = labels != IGNORE_INDEX
        replaced.append(masked[sel])
    values = np.concatenate(replaced)
    assert not np.isin(values, SPECIAL).any()
    assert values.min() >= 0 and values.max() < VOCAB_SIZE
    counts = np.bincount(values * 10 // VOCAB_SIZE, minlength=10)  # ten equal id ranges
    expected = len(values) / 10
    assert (np.abs(counts - expected) < 4 * math.sqrt(expected)).all(), counts


def test_mask_rate_option(corpus):
    n = totals(run_all(masker(mask_rate=0.3), corpus))
    assert abs(n["sel"] / n["cand"] - 0.3) < 4 * sigma(0.3, n["cand"])
    assert totals(run_all(masker(mask_rate=0.0), corpus[:3]))["sel"] == 0
    n = totals(run_all(masker(mask_token_frac=1.0, random_token_frac=0.0), corpus[:10]))
    assert n["mask"] == n["sel"] > 0


def test_whole_word_masking_never_splits_words(corpus):
    results = run_all(masker(strategy="whole_word"), corpus)
    n = totals(results)
    for _, real, word_start, _, labels in results:
        assert whole_words_respected(word_start, real, labels)
    # Budget floor(n * 0.15 + U) is unbiased and the greedy fills it with 1-3 token words.
    assert abs(n["sel"] / n["cand"] - 0.15) < 4 * sigma(0.15, n["cand"])
    assert abs(n["mask"] / n["sel"] - 0.8) < 4 * sigma(0.8, n["sel"])


def test_span_masking_keeps_words_and_rate(corpus):
    results = run_all(masker(strategy="span"), corpus)
    n = totals(results)
    for _, real, word_start, _, labels in results:
        assert whole_words_respected(word_start, real, labels)
    assert abs(n["sel"] / n["cand"] - 0.15) < 4 * sigma(0.15, n["cand"])


def test_span_runs_follow_the_geometric_law():
    """Long single-segment rows of one-token words, so segment ends and the budget rarely cut
    a span: masked runs then follow geometric(0.2) clipped to 10 (mean 3.8), up to merges."""
    rows, width = 400, 512
    ids = np.full((rows, width), 2000, dtype=np.int64)
    ids[:, 0], ids[:, -1] = SPECIAL_TOKEN_IDS["[CLS]"], SPECIAL_TOKEN_IDS["[SEP]"]
    real, word_start = np.ones_like(ids, dtype=bool), np.ones_like(ids, dtype=np.uint8)
    _, labels = masker(strategy="span")(
        ids, example_keys(1, 0, np.arange(rows)), real=real, word_start=word_start
    )
    edges = np.diff(np.pad((labels != IGNORE_INDEX).astype(np.int8), ((0, 0), (1, 1))), axis=1)
    runs = np.nonzero(edges == -1)[1] - np.nonzero(edges == 1)[1]
    assert len(runs) > 5000
    pmf = 0.2 * 0.8 ** np.arange(10)
    pmf /= pmf.sum()
    freq = np.bincount(runs, minlength=11)[1:11] / len(runs)
    assert (np.abs(freq - pmf) < 0.02).all(), freq
    assert np.mean(runs > 10) < 0.03 and 3.5 < runs.mean() < 4.3  # > 10: touching spans


def test_span_length_law():
    cdf = span_length_cdf(0.2, 10)
    u = splitmix64(np.arange(1, 300_001, dtype=np.uint64)) >> np.uint64(32)
    lengths = sample_span_lengths(u, cdf)
    assert lengths.min() == 1 and lengths.max() == 10
    pmf = 0.2 * 0.8 ** np.arange(10)
    pmf /= pmf.sum()
    freq = np.bincount(lengths, minlength=11)[1:] / len(lengths)
    assert (np.abs(freq - pmf) < 4 * np.sqrt(pmf * (1 - pmf) / len(lengths))).all()
    assert sample_span_lengths(np.array([0, 2**32 - 1], dtype=np.uint64), cdf).tolist() == [1, 10]


# --- invariants -----------------------------------------------------------------------------


def google_greedy(priority: np.ndarray, word_len: np.ndarray, budget: int) -> set[int]:
    """google-research/bert WWM: visit words in order, skip those that overflow the budget."""
    chosen, used = set(), 0
    for w in sorted(np.flatnonzero(word_len), key=lambda i: (priority[i], i)):
        if used >= budget:
            break
        if used + word_len[w] > budget:
            continue
        chosen.add(int(w))
        used += int(word_len[w])
    return chosen


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 6), st.booleans()), min_size=1, max_size=40),
    st.integers(0, 30),
    st.integers(0, 2**32),
)
def test_whole_word_selection_is_google_greedy(words, budget, seed):
    word_start, special = [], []
    for length, is_special in words:
        word_start += [1] + [0] * (length - 1)
        special += [is_special] * length
    cand = ~np.array([special])
    real = np.ones_like(cand)
    cand, starts, word_end = word_bounds(cand, np.array([word_start], dtype=np.uint8), real)
    priority = splitmix64(np.arange(seed, seed + cand.shape[1], dtype=np.uint64))[
        None
    ] >> np.uint64(32)
    selected = select_whole_words(priority, starts, word_end, cand, np.array([budget]))
    pos = np.arange(cand.shape[1])
    word_len = np.where(starts[0], word_end[0] - pos + 1, 0)
    expected = google_greedy(priority[0], word_len, budget)
    got = {int(p) for p in np.flatnonzero(selected[0] & starts[0])}
    assert got == expected
    assert int(selected.sum()) == sum(int(word_len[w]) for w in expected)


row_strategy = st.lists(
    st.tuples(st.integers(1, 4), st.sampled_from(["word", "word", "word", "special"])),
    min_size=1,
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(row_strategy, min_size=1, max_size=4),
    st.sampled_from(["token", "whole_word", "span"]),
    st.integers(0, 1000),
)
def test_masking_properties(rows, strategy, seed):
    """Labels only on candidates, equal to the original; whole words; padding untouched;
    each row's mask is independent of the batch it sits in."""
    built = []
    for spec in rows:
        ids, ws = [SPECIAL_TOKEN_IDS["[CLS]"]], [1]
        for length, kind in spec:
            if kind == "special":
                ids.append(SPECIAL_TOKEN_IDS["[SEP]"])
                ws.append(1)
            else:
                ids += [2000 + length] + [25000] * (length - 1)
                ws += [1] + [0] * (length - 1)
        built.append({"input_ids": ids, "word_start": ws})
    ids, real, word_start = batch_arrays(built)
    keys = example_keys(seed, 0, np.arange(len(built)))
    m = masker(strategy=strategy, mask_rate=0.3)
    masked, labels = m(ids, keys, real=real, word_start=word_start)
    sel = labels != IGNORE_INDEX
    assert not (sel & (~real | np.isin(ids, SPECIAL))).any()
    assert (labels[sel] == ids[sel]).all() and (masked[~sel] == ids[~sel]).all()
    assert (masked[~real] == PAD).all()
    if strategy != "token":
        assert whole_words_respected(word_start, real, labels)
    for r in range(len(built)):  # alone, with different padding
        one_ids, one_real, one_ws = batch_arrays([built[r]])
        one_ids = np.pad(one_ids, ((0, 0), (0, 5)))
        one_real = np.pad(one_real, ((0, 0), (0, 5)))
        one_ws = np.pad(one_ws, ((0, 0), (0, 5)), constant_values=1)
        m1, l1 = m(one_ids, keys[r : r + 1], real=one_real, word_start=one_ws)
        n = len(built[r]["input_ids"])
        assert (m1[0, :n] == masked[r, :n]).all() and (l1[0, :n] == labels[r, :n]).all()


def test_word_with_a_special_piece_is_never_masked():
    """[UNK] followed by a continuation piece is one word that may not be masked; rate 1."""
    ids = np.array([[101, 100, 25000, 2000, 25001, 2001, 102, 0]], dtype=np.int64)
    ws = np.array([[1, 1, 0, 1, 0, 1, 1, 0]], dtype=np.uint8)  # pad word_start 0 on purpose
    real = ids != PAD
    for strategy in ("whole_word", "span"):
        _, labels = masker(strategy=strategy, mask_rate=1.0)(
            ids, example_keys(0, 0, np.array([0])), real=real, word_start=ws
        )
        assert (labels[0] != IGNORE_INDEX).tolist() == [0, 0, 0, 1, 1, 1, 0, 0], strategy


def test_position_hash_depends_only_on_key_and_position():
    keys = example_keys(3, 2, np.arange(4))
    wide, narrow = position_hash(keys, 64), position_hash(keys[2:3], 16)
    assert (wide[2, :16] == narrow[0]).all()
    assert len(np.unique(wide)) == wide.size
