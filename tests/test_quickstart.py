"""The README quickstart, end to end: `pipeline.corpus` (clean -> vocab -> shards, each job in
its own process, DirectRunner with 2 workers as `make corpus` runs it), then the trainer."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from schemas.example import EXAMPLE_SCHEMA
from schemas.shards import open_shard_set
from trainer.pretrain import main as pretrain


@pytest.fixture(scope="module")
def corpus(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("quickstart") / "books"
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.corpus", "--lang", "books", "--output", str(out),
         "--data_dir", str(shared_data), "--vocab_size", "3000", "--max_seq_len", "64",
         "--", "--direct_running_mode=multi_processing", "--direct_num_workers=2"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def test_every_stage_balances(corpus):
    out, stdout = corpus
    for stage in ("clean/books", "tokenizer", "shards"):
        ledger = json.loads((out / stage / "stats.json").read_text())["ledger"]
        assert ledger["balanced"], (stage, ledger)
    assert json.loads((out / "clean/books/stats.json").read_text())["ledger"]["emitted"] == 9
    assert "python -m trainer.pretrain --shards" in stdout


def test_shards_describe_their_tokenizer(corpus):
    out, _ = corpus
    manifest, tables = open_shard_set(str(out / "shards"), schema=EXAMPLE_SCHEMA)
    vocab = (out / "tokenizer" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert manifest["vocab_size"] == len(vocab) <= 3000
    for token, token_id in manifest["special_token_ids"].items():
        assert vocab[token_id] == token
    assert manifest["num_rows"] == sum(t.num_rows for t in tables) > 100
    assert max(max(t.column("num_tokens").to_pylist()) for t in tables) <= 64


def test_trainer_runs_on_the_corpus(corpus):
    out, _ = corpus
    run_dir = out / "run"
    pretrain(["--shards", str(out / "shards"), "--output", str(run_dir), "--model_size", "tiny",
              "--max_steps", "4", "--batch_size", "8", "--warmup_steps", "1", "--log_every", "2",
              "--eval_shards", str(out / "shards"), "--eval_batches", "2"])  # fmt: skip
    evaluation = json.loads((run_dir / "eval.json").read_text())
    assert (run_dir / "checkpoint.pt").exists()
    logged = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    losses = [e["loss"] for e in logged if "loss" in e]
    assert losses and all(math.isfinite(x) for x in losses)
    assert 0.0 <= evaluation["mlm_acc"] <= 1.0
