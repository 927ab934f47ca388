"""Static (google-compatible) MLM masks and length binning: pure functions and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.pack.binning import default_bin_edges, length_bin, padding_waste, parse_bin_edges
from transforms.pack.example_rows import Vocab
from transforms.pack.static_masks import (
    StaticMaskConfig,
    choose_positions,
    num_to_predict,
    static_mask,
)
from transforms.shared.accounting import CounterDict

CLS, SEP, MASK, PAD, UNK = 2, 3, 4, 0, 1
VOCAB = Vocab.from_special_ids(
    {"[PAD]": PAD, "[UNK]": UNK, "[CLS]": CLS, "[SEP]": SEP, "[MASK]": MASK}, 1000
)


# --- static masks ----------------------------------------------------------------------------


def test_num_to_predict_like_google():
    cfg = StaticMaskConfig()
    assert [num_to_predict(n, cfg) for n in (1, 5, 10, 100, 128, 512)] == [1, 1, 2, 15, 19, 20]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.booleans(), min_size=3, max_size=200), st.integers(0, 2**32), st.booleans())
def test_static_mask_properties(starts, seed, whole_word):
    n = len(starts)
    ids = np.arange(100, 100 + n, dtype=np.int32)
    ids[0], ids[-1] = CLS, SEP
    word_start = np.array(starts, dtype=np.uint8)
    word_start[0] = word_start[-1] = word_start[1] = 1
    cfg = StaticMaskConfig(whole_word=whole_word)
    rng = np.random.default_rng(seed)
    pos, new = static_mask(ids, word_start, VOCAB.mask_specials(), VOCAB.random_pool, cfg, rng)
    assert len(pos) <= num_to_predict(n, cfg) and np.all(np.diff(pos) > 0)
    assert not np.isin(pos, [0, n - 1]).any()  # specials never chosen
    if not whole_word:
        assert len(pos) == min(num_to_predict(n, cfg), n - 2)
    else:  # chosen words are complete
        word = np.cumsum(word_start)
        chosen = set(pos.tolist())
        for w in set(word[pos].tolist()):
            members = [i for i in range(1, n - 1) if word[i] == w]
            assert set(members) <= chosen
    assert not np.isin(new[new != MASK], VOCAB.special_ids).any()


def test_static_mask_80_10_10():
    ids = np.arange(100, 612, dtype=np.int32)
    ws = np.ones(512, np.uint8)
    cfg = StaticMaskConfig(max_predictions_per_seq=80)
    rng = np.random.default_rng(0)
    kinds = CounterDict()
    for _ in range(200):
        pos, new = static_mask(ids, ws, VOCAB.mask_specials(), VOCAB.random_pool, cfg, rng)
        kinds("mask", int((new == MASK).sum()))
        kinds("same", int((new == ids[pos]).sum()))
        kinds("n", len(pos))
    n = kinds["n"]
    assert abs(kinds["mask"] - 0.8 * n) <= 3 * math.sqrt(n * 0.16)
    assert abs(kinds["same"] - 0.1 * n) <= 3 * math.sqrt(n * 0.09)


def test_choose_positions_whole_word_skips_overflowing_words():
    ws = np.array([1, 1, 0, 0, 0, 1, 1], np.uint8)  # words: [1..4], [5], [6]
    cand = np.array([0, 1, 1, 1, 1, 1, 1], bool)
    for seed in range(20):
        got = choose_positions(ws, cand, 2, True, np.random.default_rng(seed)).tolist()
        assert got == [5, 6]


# --- binning --------------------------------------------------------------------------------


def test_bin_edges_and_lookup():
    assert default_bin_edges(128) == (32, 64, 96, 128)
    assert default_bin_edges(512) == (64, 128, 192, 256, 320, 384, 448, 512)
    assert parse_bin_edges("32,64", 128) == (32, 64, 128)
    assert parse_bin_edges("64,128,256", 128) == (64, 128)
    with pytest.raises(ValueError):
        parse_bin_edges("64,32", 128)
    edges = (32, 64, 128)
    assert [length_bin(n, edges) for n in (1, 32, 33, 64, 65, 128)] == [0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError):
        length_bin(129, edges)


def test_padding_waste_exact():
    # 32 rows of 30 and 32 of 100: binned batches pad to 32 and 104; naive pads all to 128
    waste = padding_waste({30: 32, 100: 32}, (64, 128), max_seq_len=128)
    assert waste["binned"] == pytest.approx((32 * 2 + 32 * 4) / (32 * 32 + 32 * 104))
    assert waste["naive"] == pytest.approx(1 - (30 + 100) / 256)
    assert waste["num_examples"] == 64 and waste["binned"] < waste["mixed"] <= waste["naive"]
