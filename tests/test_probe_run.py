"""trainer.pretrain --keep_checkpoints (a series that loads and resumes) and every
``trainer.probe`` command end to end on tiny models, writing its JSON and PNG."""

from __future__ import annotations

import json
import os

import pytest
import torch

from tests.example_fixtures import write_example_set
from tests.finetune_fixtures import UNCASED_VOCAB, bert_tok_dir, tiny_hf_folder  # noqa: F401
from trainer.checkpoint import CHECKPOINT_FILE, load_run_model
from trainer.pretrain import main as pretrain_main
from trainer.pretrain import parse_args
from trainer.probe import main as probe_main

QUICK_PROBE = ["--threads", "1", "--max_iter", "20", "--max_sentences", "12"]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def train_set(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("sets") / "train"
    write_example_set(root, num_examples=40, seed=11, max_seq_len=64, bin_edges=(32, 64))
    return str(root)


def _pretrain(shards: str, run_dir, *extra: str) -> dict:
    flags = f"--shards {shards} --output {run_dir} --batch_size 4 --lr 1e-3 --warmup_steps 1"
    return pretrain_main([*flags.split(), "--log_every", "1", "--threads", "1", *extra])


def _kept(run_dir) -> list[str]:
    return sorted(n for n in os.listdir(run_dir) if n.startswith("checkpoint-"))


def _weights(run_dir, name: str) -> dict:
    return torch.load(os.path.join(run_dir, name), weights_only=True)["model"]


def test_keep_checkpoints_flag_forms():
    base = ["--shards", "s", "--output", "o", "--save_every", "5", "--max_steps", "20"]
    every = parse_args([*base, "--keep_checkpoints"])
    assert [s for s in range(21) if every.keeps(s)] == [0, 5, 10, 15, 20]
    listed = parse_args([*base, "--keep_checkpoints", "3,7"])
    assert [s for s in range(21) if listed.keeps(s)] == [3, 7]
    assert not any(parse_args(base).keeps(s) for s in range(21))
    with pytest.raises(ValueError, match="keep_checkpoints"):
        parse_args([*base, "--keep_checkpoints", "3,x"])


def test_checkpoint_series_is_kept_loadable_and_resumable(train_set, tmp_path):
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    series = ("--max_steps", "6", "--save_every", "2", "--keep_checkpoints")
    _pretrain(train_set, whole, *series)
    names = ["checkpoint-0.pt", "checkpoint-2.pt", "checkpoint-4.pt", "checkpoint-6.pt"]
    assert _kept(whole) == names
    _pretrain(train_set, resumed, *series, "--stop_after", "4")
    assert _kept(resumed) == names[:3]
    _pretrain(train_set, resumed, *series, "--resume")  # continues from checkpoint.pt (step 4)
    assert _kept(resumed) == names
    for name in [*names, CHECKPOINT_FILE]:  # the resumed series is the uninterrupted one
        a, b = _weights(whole, name), _weights(resumed, name)
        assert all(torch.equal(a[k], b[k]) for k in a), name
    step2 = _weights(whole, "checkpoint-2.pt")
    assert not torch.equal(
        step2["embeddings.word.weight"], _weights(whole, names[-1])["embeddings.word.weight"]
    )
    model, meta = load_run_model(str(whole), "checkpoint-2.pt")  # what the probes load
    assert meta["step"] == 2 and not model.training


def test_listed_steps_are_kept_without_save_every(train_set, tmp_path):
    _pretrain(train_set, tmp_path, "--max_steps", "4", "--keep_checkpoints", "1,3")
    assert _kept(tmp_path) == ["checkpoint-1.pt", "checkpoint-3.pt"]
    final = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)
    assert final["step"] == 4


def test_embryology_probes_every_kept_step(shared_data, bert_tok_dir, tmp_path):  # noqa: F811
    """pipeline.shards on real text -> 4 steps keeping 0, 2, 4 -> probes at each and at random
    init, every layer, plus the static embedding."""
    from pipeline import shards
    from tests.corpus_fixtures import sample_text_docs, write_doc_shard_set

    write_doc_shard_set(tmp_path / "clean", sample_text_docs(shared_data))
    shards.run(
        [f"--input={tmp_path / 'clean'}", f"--tokenizer={bert_tok_dir}",
         f"--output={tmp_path / 'shards'}", "--max_seq_len=64", "--bins=64", "--shards_per_bin=1"]
    )  # fmt: skip
    run_dir = tmp_path / "run"
    _pretrain(str(tmp_path / "shards"), run_dir, "--max_steps", "4", "--keep_checkpoints", "0,2,4")
    out = tmp_path / "probe"
    argv = ["embryology", "--run", str(run_dir), "--output", str(out)]
    probe_main([*argv, "--data_dir", str(shared_data), "--max_texts", "40", *QUICK_PROBE])
    result = json.loads((out / "embryology.json").read_text(encoding="utf-8"))
    assert result["steps"] == [0, 2, 4] and result["num_layers"] == 2
    cells = {(r["step"], r["task"], r["layer"]) for r in result["records"]}
    for step in (0, 2, 4, None):  # None: the random-init baseline
        for layer in (0, 1, 2, "static"):
            assert (step, "pos", layer) in cells
        for layer in (0, 1, 2):
            assert (step, "sentiment_cls", layer) in cells and (
                step,
                "sentiment_mean",
                layer,
            ) in cells
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in result["records"])
    assert result["data"]["pos_test_words"] > 0 and result["data"]["sentiment_train"] == 40
    assert (out / "embryology.png").stat().st_size > 10_000
    cached = ["checkpoint-0.pt.json", "checkpoint-2.pt.json", "checkpoint-4.pt.json"]
    assert sorted(os.listdir(out / "cache")) == [*cached, "random_init.json"]
    again = probe_main(
        [*argv, "--data_dir", str(shared_data), "--max_texts", "40", "--steps", "2,4", *QUICK_PROBE]
    )
    assert again["steps"] == [2, 4]  # from the cache: the same records, step 0 left out
    assert again["records"] == [r for r in result["records"] if r["step"] != 0]


@pytest.fixture(scope="module")
def hf_dir(shared_data, tmp_path_factory) -> str:
    return tiny_hf_folder(tmp_path_factory.mktemp("hf") / "bert", shared_data / UNCASED_VOCAB)


def test_contextual_writes_matrices_and_separation(hf_dir, shared_data, tmp_path):
    result = probe_main(["contextual", "--model", hf_dir, "--output", str(tmp_path), *QUICK_PROBE])
    for name in ("model", "random_init"):
        words = {w["word"]: w for w in result[name]["words"]}
        apple = words["apple"]["layers"]
        assert list(apple) == ["static", "0", "1", "2"]
        assert len(apple["2"]["similarity"]) == 8  # 2 senses x 4 contexts
        assert apple["static"]["separation"] == pytest.approx(0.0, abs=1e-6)
    saved = json.loads((tmp_path / "contextual.json").read_text(encoding="utf-8"))
    assert saved["encoder"] == hf_dir and (tmp_path / "contextual.png").stat().st_size > 10_000


def test_multilingual_writes_language_analysis(hf_dir, shared_data, tmp_path):
    argv = ["multilingual", "--model", hf_dir, "--output", str(tmp_path)]
    result = probe_main(
        [*argv, "--data_dir", str(shared_data), "--langs", "eng,fra,rus", *QUICK_PROBE]
    )
    langs = result["model"]["languages"]
    assert langs["languages"] == ["eng", "fra", "rus"] and langs["paragraphs"] == 50
    assert len(langs["layers"]) == 3 and set(langs["layers"][-1]["retrieval"]) == {"fra", "rus"}
    assert set(langs["projection"]) == {"eng", "fra", "rus"}
    pos = result["model"]["zero_shot_pos"]
    assert set(pos) == {"fr", "ru", "zh", "ja"} and all(
        len(v["accuracy_per_layer"]) == 3 for v in pos.values()
    )
    assert (tmp_path / "multilingual.json").exists()
    assert (tmp_path / "multilingual.png").stat().st_size > 10_000


def test_polarity_writes_margins_per_layer_and_neighbours(hf_dir, tmp_path):
    result = probe_main(["polarity", "--model", hf_dir, "--output", str(tmp_path), *QUICK_PROBE])
    for name in ("model", "random_init"):
        layers = result[name]["layers"]
        assert list(layers) == ["static", "0", "1", "2"]
        for scores in layers.values():
            assert scores["margin"] == pytest.approx(scores["synonym"] - scores["antonym"])
            assert len(scores["triples"]) == 20 and 0.0 <= scores["synonym_closer"] <= 1.0
    neighbours = result["model"]["neighbours"]
    assert len(neighbours["good"]) == 8 and "good" not in neighbours["good"]
    saved = json.loads((tmp_path / "polarity.json").read_text(encoding="utf-8"))
    assert saved["templates"] and (tmp_path / "polarity.png").stat().st_size > 10_000
