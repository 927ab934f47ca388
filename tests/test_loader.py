"""PretrainingData: batch contract, determinism across workers/ranks, resume, mixtures,
corruption detection, static masks, and one real shard set from pipeline.shards."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from schemas.example import NO_PAIR
from schemas.shards import ShardError, read_manifest
from tests.example_fixtures import SPECIAL_TOKEN_IDS, flip_byte, read_rows, write_example_set
from trainer.data import LoaderConfig, PretrainingData
from trainer.masking import IGNORE_INDEX, MaskingConfig
from trainer.sampling import (
    PlannedBatch,
    largest_remainder,
    mixture_probabilities,
    split_for_ranks,
)

KEYS = ("input_ids", "token_type_ids", "attention_mask", "labels", "pair_label")


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("example_sets")
    write_example_set(root / "a", num_examples=600, seed=1, static_masks=True)
    write_example_set(root / "b", num_examples=250, seed=2, rows_per_shard=60)
    return {"a": str(root / "a"), "b": str(root / "b")}


@pytest.fixture(scope="module")
def rows_a(sets) -> list[dict]:
    return read_rows(sets["a"])


def originals(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.where(batch["labels"] != IGNORE_INDEX, batch["labels"], batch["input_ids"])


def plan_indices(data: PretrainingData, epoch: int | None = None) -> list[list[int]]:
    return [p.indices.tolist() for p in data.plan(epoch)]


def assert_same_batches(xs: list[dict], ys: list[dict]) -> None:
    assert len(xs) == len(ys)
    for x, y in zip(xs, ys, strict=True):
        for key in KEYS:
            assert torch.equal(x[key], y[key]), key


def check_batch(batch: dict, indices: list[int], rows: list[dict], pad_multiple: int = 8) -> None:
    """The contract of one batch against the rows it was planned from."""
    assert set(batch) == set(KEYS)
    assert all(v.dtype == torch.int64 for v in batch.values())
    lengths = [len(rows[i]["input_ids"]) for i in indices]
    width = batch["input_ids"].shape[1]
    assert width % pad_multiple == 0 and width - pad_multiple < max(lengths) <= width
    assert len({rows[i]["length_bin"] for i in indices}) == 1, "batch mixes length bins"
    orig = originals(batch)
    for j, i in enumerate(indices):
        row, n = rows[i], lengths[j]
        assert orig[j, :n].tolist() == row["input_ids"]
        assert batch["attention_mask"][j].tolist() == [1] * n + [0] * (width - n)
        b = row["segment_b_start"]
        assert batch["token_type_ids"][j].tolist() == [0] * b + [1] * (n - b) + [0] * (width - n)
        assert (batch["input_ids"][j, n:] == SPECIAL_TOKEN_IDS["[PAD]"]).all()
        assert (batch["labels"][j, n:] == IGNORE_INDEX).all()
        expected = IGNORE_INDEX if row["pair_label"] == NO_PAIR else row["pair_label"]
        assert int(batch["pair_label"][j]) == expected


# --- batch contract and the epoch plan --------------------------------------------------------


def test_batches_follow_the_contract(sets, rows_a):
    data = PretrainingData(sets["a"], LoaderConfig(batch_size=16, seed=3))
    assert data.special_token_ids == SPECIAL_TOKEN_IDS
    assert (data.vocab_size, data.pair_task, data.max_seq_len) == (30522, "nsp", 128)
    plan = plan_indices(data)
    batches = list(data)
    assert len(batches) == len(data) == len(plan)
    for batch, indices in zip(batches, plan, strict=True):
        check_batch(batch, indices, rows_a)
    seen = sorted(i for b in plan for i in b)
    assert seen == list(range(600)), "each example exactly once per epoch"
    assert sum(int((b["labels"] != IGNORE_INDEX).sum()) for b in batches) > 0


def test_epochs_differ_and_are_reproducible(sets):
    cfg = LoaderConfig(batch_size=16, seed=3)
    data, again = PretrainingData(sets["a"], cfg), PretrainingData(sets["a"], cfg)
    first = list(data)
    assert_same_batches(first, list(again))
    assert (data.epoch, data.batches_consumed) == (0, len(data))
    assert_same_batches(first, list(data))  # a finished epoch replays identically
    partial = iter(data)
    for _ in range(3):
        next(partial)
    assert data.batches_consumed == 3
    data.set_epoch(0)  # restarts the epoch, whatever was consumed
    assert_same_batches(first, list(data))
    data.set_epoch(1)
    second = list(data)
    assert plan_indices(data, 0) != plan_indices(data, 1)
    # the same example gets a different mask in another epoch
    where0 = {i: (k, j) for k, b in enumerate(plan_indices(data, 0)) for j, i in enumerate(b)}
    where1 = {i: (k, j) for k, b in enumerate(plan_indices(data, 1)) for j, i in enumerate(b)}
    differ = sum(
        not torch.equal(
            first[where0[i][0]]["labels"][where0[i][1]][:32],
            second[where1[i][0]]["labels"][where1[i][1]][:32],
        )
        for i in range(600)
    )
    assert differ > 300
    unshuffled = PretrainingData(sets["a"], LoaderConfig(batch_size=16, shuffle=False))
    flat = [i for b in plan_indices(unshuffled) for i in b]
    assert flat == sorted(flat)


def test_same_batches_with_0_1_2_workers(sets):
    cfg = LoaderConfig(batch_size=16, seed=9, masking=MaskingConfig(strategy="whole_word"))
    runs = []
    for workers in (0, 1, 2):
        data = PretrainingData(sets["a"], cfg, num_workers=workers)
        data.set_epoch(2)
        runs.append(list(data))
        assert (data.epoch, data.batches_consumed) == (2, len(data))
    assert_same_batches(runs[0], runs[1])
    assert_same_batches(runs[0], runs[2])
    wrapped = PretrainingData(sets["a"], cfg)  # a user's own DataLoader over the dataset
    wrapped.set_epoch(2)
    assert_same_batches(runs[0], list(DataLoader(wrapped, batch_size=None, num_workers=2)))


@pytest.mark.parametrize(
    ("world_size", "batch_size", "drop_last"), [(2, 16, False), (3, 7, False), (2, 7, True)]
)
def test_ranks_partition_the_examples(sets, rows_a, world_size, batch_size, drop_last):
    cfg = LoaderConfig(batch_size=batch_size, seed=4, drop_last=drop_last)
    ranks = [
        PretrainingData(sets["a"], cfg, rank=r, world_size=world_size) for r in range(world_size)
    ]
    assert len({len(d) for d in ranks}) == 1, "every rank runs the same number of steps"
    seen = [i for d in ranks for b in plan_indices(d) for i in b]
    assert len(seen) == len(set(seen)), "no example on two ranks"
    if not drop_last:
        assert sorted(seen) == list(range(600)), "no example left out"
    else:
        assert all(len(b) == batch_size for d in ranks for b in plan_indices(d))
    for batch, indices in zip(ranks[-1], plan_indices(ranks[-1]), strict=True):
        check_batch(batch, indices, rows_a)


def test_resume_mid_epoch_with_and_without_workers(sets):
    cfg = LoaderConfig(batch_size=16, seed=5, masking=MaskingConfig(strategy="span"))
    full = PretrainingData(sets["a"], cfg)
    full.set_epoch(1)
    expected = list(full)
    stopped = PretrainingData(sets["a"], cfg, num_workers=2)
    stopped.set_epoch(1)
    for k, _ in enumerate(stopped, start=1):
        if k == 7:
            break
    state = stopped.state_dict()
    assert (state["epoch"], state["batches_consumed"]) == (1, 7)
    for workers in (0, 2):
        resumed = PretrainingData(sets["a"], cfg, num_workers=workers)
        resumed.load_state_dict(state)
        assert_same_batches(list(resumed), expected[7:])
        assert resumed.state_dict()["batches_consumed"] == len(expected)
    continued = list(stopped)  # the same object continues where it stopped
    assert_same_batches(continued, expected[7:])
    with pytest.raises(ValueError, match="world_size"):
        PretrainingData(sets["a"], cfg, world_size=2).load_state_dict(state)


# --- verification, static masks, mixtures ----------------------------------------------------


def test_corrupted_shard_is_named_in_the_constructor(tmp_path):
    write_example_set(tmp_path / "set", num_examples=120, seed=3, rows_per_shard=30)
    victim = read_manifest(str(tmp_path / "set"))["shards"][2]["path"]
    flip_byte(tmp_path / "set" / victim)
    with pytest.raises(ShardError, match=victim):
        PretrainingData(tmp_path / "set", LoaderConfig())


def test_static_masks_are_used_when_asked(sets, rows_a):
    cfg = LoaderConfig(batch_size=16, masking=MaskingConfig(use_static_masks=True))
    data = PretrainingData(sets["a"], cfg)
    rows_seen = 0
    for batch, indices in zip(data, plan_indices(data), strict=True):
        check_batch(batch, indices, rows_a)
        for j, i in enumerate(indices):
            positions = rows_a[i]["static_mask_positions"]
            if positions is None:
                continue
            rows_seen += 1
            assert torch.nonzero(batch["labels"][j] != IGNORE_INDEX).flatten().tolist() == positions
            assert batch["input_ids"][j, positions].tolist() == rows_a[i]["static_mask_ids"]
    assert rows_seen == 300
    with pytest.raises(ValueError, match="static"):
        PretrainingData(sets["b"], cfg)


def test_mixture_counts_and_determinism(sets):
    base = dict(batch_size=16, seed=6)
    plain = PretrainingData([sets["a"], sets["b"]], LoaderConfig(**base))
    seen = sorted(i for b in plan_indices(plain) for i in b)
    assert seen == list(range(850)), "default mixture = one pass over every set"
    cfg = LoaderConfig(**base, mixture_weights=(0.25, 0.75))
    data = PretrainingData([sets["a"], sets["b"]], cfg)
    total = sum(s.batches_per_cycle for s in data.planner.sets)
    assert len(data) == total
    from_b = [all(i >= 600 for i in b) or all(i < 600 for i in b) for b in plan_indices(data)]
    assert all(from_b), "a batch never mixes shard sets"
    n_b = sum(b[0] >= 600 for b in plan_indices(data))
    assert n_b == largest_remainder(total, np.array([0.25, 0.75]))[1]
    again = PretrainingData([sets["a"], sets["b"]], cfg)
    assert plan_indices(again, 3) == plan_indices(data, 3)
    assert plan_indices(data, 0) != plan_indices(data, 1)
    # set b is upsampled: epoch 0 needs more than one cycle of it, the next cycle reshuffled
    b_examples = [i for b in plan_indices(data) for i in b if i >= 600]
    assert len(b_examples) > 250 and set(b_examples) == set(range(600, 850))
    smooth = PretrainingData([sets["a"], sets["b"]], LoaderConfig(**base, mixture_alpha=0.5))
    p = np.sqrt([600, 250]) / np.sqrt([600, 250]).sum()
    assert smooth.planner.counts.tolist() == largest_remainder(total, p).tolist()


def test_incompatible_sets_are_rejected(sets, tmp_path):
    other = dict(SPECIAL_TOKEN_IDS, **{"[MASK]": 4})
    write_example_set(tmp_path / "c", num_examples=20, seed=7, special_token_ids=other)
    with pytest.raises(ValueError, match="special_token_ids"):
        PretrainingData([sets["b"], tmp_path / "c"], LoaderConfig())
    with pytest.raises(ValueError, match="not both"):
        LoaderConfig(mixture_weights=(1.0, 1.0), mixture_alpha=0.3)


def test_pin_memory_option(sets):
    """pin_memory pins every tensor where CUDA exists and changes no batch's content or order."""
    plain = list(PretrainingData(sets["b"], LoaderConfig(batch_size=64)))
    pinned = list(PretrainingData(sets["b"], LoaderConfig(batch_size=64), pin_memory=True))
    assert len(pinned) == len(plain) > 1
    for want, got in zip(plain, pinned, strict=True):
        assert want.keys() == got.keys()
        assert all(torch.equal(want[k], got[k]) for k in want)
    if torch.cuda.is_available():
        assert all(t.is_pinned() for batch in pinned for t in batch.values())


# --- sampling: pure functions -----------------------------------------------------------------


def planned(sizes: list[int]) -> list[PlannedBatch]:
    return [PlannedBatch(np.arange(k * 10, k * 10 + n), 0) for k, n in enumerate(sizes)]


def test_split_for_ranks_exact():
    split = split_for_ranks(planned([4, 4, 4, 4, 3]), 4, drop_last=False)
    assert [b.indices.tolist() for b in split] == [
        [0, 1], [2, 3], [10, 11], [12, 13], [20, 21], [22, 23], [30, 31, 32, 33], [40, 41, 42]
    ]  # fmt: skip
    kept = split_for_ranks(planned([4, 4, 4, 4, 3]), 4, drop_last=True)
    assert [len(b.indices) for b in kept] == [4, 4, 4, 4]
    assert len(split_for_ranks(planned([4, 4]), 2, drop_last=False)) == 2
    tiny = split_for_ranks(planned([1, 1, 1]), 2, drop_last=False)  # cannot split single rows
    assert [b.indices.tolist() for b in tiny] == [[0], [10], [20]]


def test_largest_remainder_and_alpha():
    assert largest_remainder(10, np.array([0.25, 0.75])).tolist() == [3, 7]  # tie: lower index
    assert largest_remainder(7, np.array([1, 1, 1]) / 3).tolist() == [3, 2, 2]
    p = mixture_probabilities([100, 400], weights=None, alpha=0.5)
    assert np.allclose(p, [1 / 3, 2 / 3])
    assert np.allclose(mixture_probabilities([1, 1], weights=[1, 3], alpha=None), [0.25, 0.75])
    with pytest.raises(ValueError):
        mixture_probabilities([1, 1], weights=[1.0], alpha=None)


# --- a real shard set from the packing job ----------------------------------------------------


@pytest.fixture(scope="module")
def packed_sample_text(shared_data, tmp_path_factory) -> str:
    """bert/sample_text.txt -> TOK_DIR (uncased BERT vocab) -> pipeline.shards -> shard set."""
    from pipeline import shards
    from tests.corpus_fixtures import sample_text_docs, write_doc_shard_set
    from transforms.vocab.tokenizer_dir import tokenizer_from_vocab

    root = tmp_path_factory.mktemp("packed")
    vocab = shared_data / "vocab" / "bert-base-uncased-vocab_from_all-MiniLM-L6-v2.txt"
    tokenizer_from_vocab(str(vocab), str(root / "tok"), True)
    write_doc_shard_set(root / "clean", sample_text_docs(shared_data))
    shards.run(
        [
            f"--input={root / 'clean'}",
            f"--tokenizer={root / 'tok'}",
            f"--output={root / 'shards'}",
            "--max_seq_len=64",
            "--dupe_factor=3",
            "--bins=32,48,64",
            "--static_masks",
        ]
    )
    return str(root / "shards")


def test_real_packed_shard_set(packed_sample_text):
    rows = read_rows(packed_sample_text)
    assert len(rows) >= 20
    for strategy in ("token", "whole_word"):
        cfg = LoaderConfig(batch_size=8, masking=MaskingConfig(strategy=strategy))
        data = PretrainingData(packed_sample_text, cfg, world_size=2, rank=1)
        assert data.special_token_ids["[MASK]"] == 103 and data.vocab_size == 30522
        for batch, indices in zip(data, plan_indices(data), strict=True):
            check_batch(batch, indices, rows)
    ranks = [
        PretrainingData(packed_sample_text, LoaderConfig(batch_size=8), rank=r, world_size=2)
        for r in (0, 1)
    ]
    seen = sorted(i for d in ranks for b in plan_indices(d) for i in b)
    assert seen == list(range(len(rows)))
    static = PretrainingData(
        packed_sample_text, LoaderConfig(masking=MaskingConfig(use_static_masks=True))
    )
    for batch, indices in zip(static, plan_indices(static), strict=True):
        for j, i in enumerate(indices):
            positions = rows[i]["static_mask_positions"]
            assert torch.nonzero(batch["labels"][j] != IGNORE_INDEX).flatten().tolist() == positions
            assert batch["input_ids"][j, positions].tolist() == rows[i]["static_mask_ids"]
