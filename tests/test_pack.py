"""Packing: truncation, NSP/SOP pairs, single segments, rows and counters; one pipeline."""

from __future__ import annotations

import math
import random

import apache_beam as beam
import numpy as np
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.example import NO_PAIR, PAIR_IS_NEXT, PAIR_RANDOM_NEXT, SOP_IN_ORDER, SOP_SWAPPED
from transforms.pack.binning import length_bin
from transforms.pack.config import PackConfig
from transforms.pack.example_rows import Vocab, assemble
from transforms.pack.instances import (
    DROPPED_TOO_SHORT,
    EXAMPLES_WRITTEN,
    NSP_RANDOM,
    TOKENS_WRITTEN,
    PackExamples,
    pack_documents,
)
from transforms.pack.pairs import (
    NSP_FORCED_NEXT,
    PROTEIN_CROPPED,
    create_pair_instances,
    create_single_instances,
    truncation_plan,
)
from transforms.pack.static_masks import StaticMaskConfig, num_to_predict
from transforms.pack.tokenize import (
    TokenizedDoc,
)
from transforms.shared.accounting import EMITTED, CounterDict

CLS, SEP, MASK, PAD, UNK = 2, 3, 4, 0, 1
VOCAB = Vocab.from_special_ids(
    {"[PAD]": PAD, "[UNK]": UNK, "[CLS]": CLS, "[SEP]": SEP, "[MASK]": MASK}, 1000
)


def tdoc(doc_no: int, sentence_lengths: list[int], source: str = "text") -> TokenizedDoc:
    """Synthetic doc whose token ids encode (doc, position): id = 100 + doc_no*100_000 + pos."""
    n = sum(sentence_lengths)
    ids = (100 + doc_no * 100_000 + np.arange(n)).astype(np.int32)
    word_start = (np.arange(n) % 3 == 0).astype(np.uint8)  # words of 3 tokens
    offsets = np.concatenate([[0], np.cumsum(sentence_lengths)]).astype(np.int64)
    return TokenizedDoc(f"d{doc_no:05d}", source, ids, word_start, offsets)


def position(token_id: int) -> tuple[int, int]:
    return (token_id - 100) // 100_000, (token_id - 100) % 100_000


# --- truncation ------------------------------------------------------------------------------


def google_truncate(la: int, lb: int, max_num: int) -> tuple[int, int]:
    """google-research/bert truncate_seq_pair, counting removals only."""
    drop_a = drop_b = 0
    while la + lb > max_num:
        if la > lb:
            la, drop_a = la - 1, drop_a + 1
        else:
            lb, drop_b = lb - 1, drop_b + 1
    return drop_a, drop_b


def test_truncation_plan_exact():
    rng = random.Random(0)
    assert truncation_plan(3, 3, 10, rng) == (0, 0, 0, 0)
    af, ab, bf, bb = truncation_plan(7, 3, 8, rng)
    assert (af + ab, bf + bb) == (2, 0)
    af, ab, bf, bb = truncation_plan(4, 4, 5, rng)
    assert (af + ab, bf + bb) == (1, 2)


@given(st.integers(1, 600), st.integers(1, 600), st.integers(2, 600), st.integers(0, 2**32))
def test_truncation_plan_matches_google_totals(la, lb, max_num, seed):
    af, ab, bf, bb = truncation_plan(la, lb, max_num, random.Random(seed))
    assert (af + ab, bf + bb) == google_truncate(la, lb, max_num)
    assert min(af, ab, bf, bb) >= 0
    if la + lb > max_num:
        assert la - af - ab + lb - bf - bb == max_num
        assert la - af - ab >= 1 and lb - bf - bb >= 1


def test_truncation_front_share_is_half():
    rng = random.Random(7)
    fronts = [truncation_plan(400, 1, 200, rng)[0] for _ in range(200)]
    mean = sum(fronts) / len(fronts)  # Binomial(199, 1/2): sd of the mean ~0.5
    assert abs(mean - 199 / 2) < 4 * math.sqrt(199 / 4 / 200)


# --- pair instances: properties ----------------------------------------------------------------

docs_strategy = st.lists(
    st.lists(st.integers(1, 60), min_size=1, max_size=30), min_size=1, max_size=5
)


def check_example(inst, docs, cfg):
    ids, word_start, b_start = assemble(inst, VOCAB)
    assert len(ids) <= cfg.max_seq_len
    assert ids[0] == CLS and ids.count(CLS) == 1
    assert ids.count(SEP) == 2 and ids[-1] == SEP and ids[b_start - 1] == SEP
    assert len(word_start) == len(ids) and word_start[0] == word_start[b_start] == 1
    a = [position(t) for t in ids[1 : b_start - 1]]
    b = [position(t) for t in ids[b_start:-1]]
    assert a and b
    a_doc, b_doc = {d for d, _ in a}, {d for d, _ in b}
    assert len(a_doc) == 1 and len(b_doc) == 1
    # each segment is a contiguous token run of its document
    for seg in (a, b):
        assert [p for _, p in seg] == list(range(seg[0][1], seg[0][1] + len(seg)))
    return a, b, a_doc.pop(), b_doc.pop()


@settings(max_examples=60, deadline=None)
@given(docs_strategy, st.sampled_from([16, 32, 128]), st.integers(0, 10**6), st.booleans())
def test_nsp_pairs_properties(doc_lengths, max_seq_len, seed, short):
    docs = [tdoc(i, lens) for i, lens in enumerate(doc_lengths)]
    cfg = PackConfig(max_seq_len=max_seq_len, pair_task="nsp", short_seq_prob=0.5 * short)
    count = CounterDict()
    for index in range(len(docs)):
        last_end = 0
        insts = create_pair_instances(docs, index, cfg, random.Random(seed + index), count)
        for inst in insts:
            a, b, a_doc, b_doc = check_example(inst, docs, cfg)
            assert a_doc == index
            if inst.pair_label == PAIR_RANDOM_NEXT:
                assert b_doc != index  # negatives never from the same document
            else:
                assert inst.pair_label == PAIR_IS_NEXT and b_doc == index
                assert b[0][1] >= a[-1][1] + 1  # B follows A
            assert a[0][1] >= last_end  # examples walk the document in order, disjoint
            last_end = (b if b_doc == index else a)[-1][1] + 1
    if len(docs) == 1:
        assert count[NSP_RANDOM] == 0


@settings(max_examples=60, deadline=None)
@given(docs_strategy, st.sampled_from([16, 64]), st.integers(0, 10**6))
def test_sop_pairs_are_true_swaps(doc_lengths, max_seq_len, seed):
    docs = [tdoc(i, lens) for i, lens in enumerate(doc_lengths)]
    cfg = PackConfig(max_seq_len=max_seq_len, pair_task="sop")
    for index in range(len(docs)):
        for inst in create_pair_instances(docs, index, cfg, random.Random(seed), CounterDict()):
            a, b, a_doc, b_doc = check_example(inst, docs, cfg)
            assert a_doc == b_doc == index
            if inst.pair_label == SOP_SWAPPED:
                assert b[-1][1] < a[0][1]  # B comes first in the document
            else:
                assert inst.pair_label == SOP_IN_ORDER and a[-1][1] < b[0][1]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.just(1), min_size=1, max_size=80), min_size=2, max_size=4),
       st.integers(0, 10**6))  # fmt: skip
def test_nsp_puts_unused_sentences_back(doc_lengths, seed):
    """With one-token sentences nothing is truncated, so A and true-B tile each document."""
    docs = [tdoc(i, lens) for i, lens in enumerate(doc_lengths)]
    cfg = PackConfig(max_seq_len=16, pair_task="nsp", short_seq_prob=0.0)
    for index, doc in enumerate(docs):
        covered = []
        for inst in create_pair_instances(docs, index, cfg, random.Random(seed), CounterDict()):
            covered += range(inst.a[1], inst.a[2])
            if inst.pair_label == PAIR_IS_NEXT:
                covered += range(inst.b[1], inst.b[2])
        assert covered == list(range(doc.num_tokens))


def test_nsp_label_balance_binomial():
    rng = np.random.default_rng(3)
    docs = [tdoc(i, rng.integers(3, 40, size=30).tolist()) for i in range(200)]
    cfg = PackConfig(max_seq_len=64, pair_task="nsp")
    labels = [
        inst.pair_label
        for index in range(len(docs))
        for inst in create_pair_instances(docs, index, cfg, random.Random(index), CounterDict())
    ]
    n = len(labels)
    assert n > 2000
    assert abs(sum(labels) - n / 2) <= 3 * math.sqrt(n / 4)


def test_nsp_single_document_falls_back_to_next():
    count = CounterDict()
    docs = [tdoc(0, [5] * 20)]
    insts = create_pair_instances(docs, 0, PackConfig(max_seq_len=32), random.Random(1), count)
    assert insts and all(i.pair_label == PAIR_IS_NEXT for i in insts)
    assert count[NSP_FORCED_NEXT] > 0


# --- single segments and protein ---------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=1, max_size=30), st.sampled_from([16, 128]))
def test_single_segments_tile_the_document(lengths, max_seq_len):
    doc = tdoc(0, lengths)
    cfg = PackConfig(max_seq_len=max_seq_len, pair_task="none", short_seq_prob=0.0)
    insts = create_single_instances(doc, cfg, random.Random(0), CounterDict())
    covered = []
    for inst in insts:
        assert inst.b is None and inst.pair_label == NO_PAIR
        assert 1 <= inst.a[2] - inst.a[1] <= max_seq_len - 2
        covered += range(inst.a[1], inst.a[2])
    assert covered == list(range(doc.num_tokens))
    # a segment breaks inside a sentence only when that sentence alone is too long
    starts = set(doc.sent_offsets.tolist())
    for inst in insts:
        if inst.a[1] not in starts:
            prev = insts[insts.index(inst) - 1]
            assert prev.a[2] - prev.a[1] == max_seq_len - 2


def test_protein_crop_is_seeded_and_bounded():
    doc = tdoc(0, [1000], source="protein")
    cfg = PackConfig(max_seq_len=128, pair_task="none")
    count = CounterDict()
    one = create_single_instances(doc, cfg, random.Random(5), count)
    again = create_single_instances(doc, cfg, random.Random(5), count)
    other = create_single_instances(doc, cfg, random.Random(6), count)
    assert len(one) == 1 and one[0].a[2] - one[0].a[1] == 126
    assert one == again and one != other
    assert count == {PROTEIN_CROPPED: 3}
    short = tdoc(1, [50], source="protein")
    assert create_single_instances(short, cfg, random.Random(0), count)[0].a == (short, 0, 50)


# --- pack_documents: rows and exact counters ---------------------------------------------------


def test_pack_documents_rows_and_counters():
    docs = [tdoc(0, [1]), tdoc(1, [4, 4]), tdoc(2, [3, 3, 3])]
    count = CounterDict()
    cfg = PackConfig(max_seq_len=16, pair_task="sop", short_seq_prob=0.0, seed=1)
    rows = list(pack_documents(docs, cfg, VOCAB, count))
    tokens = sum(r["num_tokens"] for _, r in rows)
    labels = CounterDict()
    for _, r in rows:
        labels(r["pair_label"])
    assert count == {
        DROPPED_TOO_SHORT: 1,  # one token cannot form a pair
        EMITTED: 2,
        EXAMPLES_WRITTEN: len(rows),
        TOKENS_WRITTEN: tokens,
        **{
            name: labels[label]
            for name, label in (("sop_in_order", SOP_IN_ORDER), ("sop_swapped", SOP_SWAPPED))
            if labels[label]
        },
    }
    assert len(rows) == 2 and tokens == 11 + 12
    assert [k for k, _ in rows] == [("d00001", 0, 0), ("d00002", 0, 0)]
    row = rows[0][1]
    assert row["num_tokens"] == len(row["input_ids"]) == len(row["word_start"]) == 11
    assert row["length_bin"] == length_bin(11, cfg.bin_edges) and row["b_doc_id"] is None


def test_pack_documents_dupes_differ_and_are_reproducible():
    docs = [tdoc(i, [7] * 40) for i in range(4)]
    cfg = PackConfig(max_seq_len=64, pair_task="nsp", dupe_factor=2, seed=9)
    one = list(pack_documents(docs, cfg, VOCAB, CounterDict()))
    two = list(pack_documents(docs, cfg, VOCAB, CounterDict()))
    assert one == two
    by_dupe = [[r["input_ids"] for k, r in one if k[0] == "d00000" and k[1] == d] for d in (0, 1)]
    assert by_dupe[0] != by_dupe[1]
    for _, r in one:
        assert (r["b_doc_id"] is not None) == (r["pair_label"] == PAIR_RANDOM_NEXT)


def test_pack_documents_static_masks():
    docs = [tdoc(i, [9] * 30) for i in range(3)]
    masks = StaticMaskConfig(max_predictions_per_seq=20, whole_word=True)
    cfg = PackConfig(max_seq_len=128, pair_task="nsp", static_masks=masks, dupe_factor=2)
    rows = [r for _, r in pack_documents(docs, cfg, VOCAB, CounterDict())]
    assert rows
    for r in rows:
        pos, mids = r["static_mask_positions"], r["static_mask_ids"]
        assert 1 <= len(pos) == len(mids) <= num_to_predict(r["num_tokens"], masks)
        assert pos == sorted(set(pos))
        assert all(r["input_ids"][p] not in (CLS, SEP) for p in pos)


# --- Beam transform ------------------------------------------------------------------------------


def _label_of(kv):
    return kv[1][1]["doc_id"], kv[1][1]["pair_label"]


def test_pack_examples_transform_matches_pure_function():
    docs = [tdoc(i, [6] * 25) for i in range(6)]
    cfg = PackConfig(max_seq_len=32, pair_task="nsp", seed=4)
    expected = [
        (r["doc_id"], r["pair_label"]) for _, r in pack_documents(docs, cfg, VOCAB, CounterDict())
    ]
    with test_pipeline.TestPipeline() as p:
        out = p | beam.Create(docs) | PackExamples(cfg, VOCAB, num_buckets=1)
        assert_that(out.examples | beam.Map(_label_of), equal_to(expected))


def test_rows_to_table_matches_from_pylist():
    import pyarrow as pa

    from schemas.example import EXAMPLE_SCHEMA
    from transforms.pack.example_rows import compact_row, rows_to_table

    docs = [tdoc(i, [9] * 30) for i in range(3)]
    masks = StaticMaskConfig()
    for cfg in (PackConfig(max_seq_len=64), PackConfig(max_seq_len=64, static_masks=masks)):
        rows = [r for _, r in pack_documents(docs, cfg, VOCAB, CounterDict())]
        expected = pa.Table.from_pylist(rows, schema=EXAMPLE_SCHEMA)
        assert rows_to_table([compact_row(r) for r in rows]).equals(expected)
        assert rows_to_table(rows).equals(expected)
