"""trainer.pretrain: CLI, optimizer/schedule, a full run's outputs, exact resume (mid-epoch and at
an epoch boundary), torchrun DDP on CPU, and the tokenizer/special-id checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from schemas.shards import read_manifest
from tests.example_fixtures import SPECIAL_TOKEN_IDS, write_example_set
from trainer.checkpoint import CHECKPOINT_FILE
from trainer.optim import make_scheduler
from trainer.pretrain import (
    TrainConfig,
    main,
    make_optimizer,
    parse_args,
)
from trainer.runtime import EVAL_FILE, LOG_FILE

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEP_KEYS = {
    "step",
    "epoch",
    "loss",
    "mlm_loss",
    "pair_loss",
    "mlm_acc",
    "pair_acc",
    "tokens_per_s",
    "lr",
    "grad_norm",
}


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict:
    from trainer.data import LoaderConfig, PretrainingData

    root = tmp_path_factory.mktemp("sets")
    write_example_set(
        root / "train",
        num_examples=40,
        seed=11,
        max_seq_len=64,
        bin_edges=(32, 64),
        rows_per_shard=16,
    )
    write_example_set(root / "eval", num_examples=24, seed=12, max_seq_len=64, bin_edges=(32, 64))
    epoch = len(PretrainingData(str(root / "train"), LoaderConfig(batch_size=8)))
    return {"train": str(root / "train"), "eval": str(root / "eval"), "epoch_batches": epoch}


def _args(sets: dict, output, *extra: str) -> list[str]:
    """A small run: one epoch plus 3 steps, a log line per step, evaluations every 4 steps."""
    steps = sets["epoch_batches"] + 3
    flags = (
        f"--shards {sets['train']} --output {output} --max_steps {steps} --batch_size 8 --lr 1e-3 "
        f"--warmup_steps 2 --log_every 1 --eval_shards {sets['eval']} --eval_batches 2 "
        "--eval_every 4"
    )
    return [*flags.split(), *extra]


def _records(run_dir) -> list[dict]:
    with open(os.path.join(run_dir, LOG_FILE), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _losses(run_dir) -> list[dict]:
    """Per-step records minus wall-clock fields: what must repeat exactly on resume."""
    return [
        {k: v for k, v in r.items() if k != "tokens_per_s"}
        for r in _records(run_dir)
        if "loss" in r
    ]


@pytest.fixture(scope="module")
def full_run(sets, tmp_path_factory) -> tuple[str, dict]:
    run_dir = tmp_path_factory.mktemp("run") / "full"
    return str(run_dir), main(_args(sets, run_dir))


def test_full_run_writes_log_checkpoint_and_eval(full_run, sets):
    run_dir, result = full_run
    steps = sets["epoch_batches"] + 3
    records = _records(run_dir)
    assert records[0]["event"] == "start" and records[0]["parameters"] > 4_000_000
    per_step = [r for r in records if "loss" in r]
    assert [r["step"] for r in per_step] == list(range(1, steps + 1))
    assert all(STEP_KEYS <= set(r) for r in per_step)
    assert [r["epoch"] for r in per_step][-1] == 1  # crossed into the second epoch
    assert per_step[0]["lr"] == pytest.approx(1e-3) and per_step[-1]["lr"] == 0.0
    assert all(0 <= r["mlm_acc"] <= 1 and 0 <= r["pair_acc"] <= 1 for r in per_step)
    evals = [r for r in records if r.get("event") == "eval"]
    expected = sorted({*range(4, steps + 1, 4), steps})  # every 4 steps and once at the end
    assert [r["step"] for r in evals] == expected
    with open(os.path.join(run_dir, EVAL_FILE), encoding="utf-8") as f:
        final = json.load(f)
    assert final == result["eval"] == {k: v for k, v in evals[-1].items() if k != "event"}
    assert final["mlm_predictions"] > 0 and final["pairs"] > 0
    ckpt = torch.load(os.path.join(run_dir, CHECKPOINT_FILE), weights_only=True)
    manifest = read_manifest(sets["train"])
    assert ckpt["step"] == steps
    assert ckpt["tokenizer_hash"] == manifest["tokenizer_hash"]
    assert ckpt["special_token_ids"] == SPECIAL_TOKEN_IDS
    assert ckpt["model_config"]["vocab_size"] == manifest["vocab_size"]
    assert ckpt["loader"][0]["epoch"] == 1 and ckpt["loader"][0]["batches_consumed"] == 3
    assert {"model", "optimizer", "scheduler", "rng", "train_config"} <= set(ckpt)


@pytest.mark.parametrize("stop", ["mid_epoch", "epoch_end"])
def test_resume_reproduces_the_uninterrupted_run(full_run, sets, tmp_path, stop):
    stop_after = sets["epoch_batches"] - 2 if stop == "mid_epoch" else sets["epoch_batches"]
    run_dir = tmp_path / "resumed"
    main(_args(sets, run_dir, "--stop_after", str(stop_after)))
    assert _records(run_dir)[-1]["step"] == stop_after
    with open(os.path.join(run_dir, LOG_FILE), "a", encoding="utf-8") as f:
        f.write(json.dumps({"step": stop_after + 1, "loss": -1.0}) + "\n")  # died after saving
    result = main(_args(sets, run_dir, "--resume"))
    assert _losses(run_dir) == _losses(full_run[0])  # every step, bit for bit
    assert result["eval"] == full_run[1]["eval"]


def test_resume_checks_data_and_settings(full_run, sets, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(full_run[0], run_dir)
    with pytest.raises(ValueError, match="batch_size"):
        main(_args(sets, run_dir, "--resume", "--batch_size", "4"))
    other = tmp_path / "other"
    shutil.copytree(sets["train"], other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["tokenizer_hash"] = "another-tokenizer"
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="tokenizer_hash"):
        main(_args({**sets, "train": str(other)}, run_dir, "--resume"))
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        main(_args(sets, tmp_path / "empty", "--resume"))


def test_eval_shards_must_share_special_token_ids(sets, tmp_path):
    write_example_set(
        tmp_path / "eval",
        num_examples=8,
        seed=1,
        max_seq_len=64,
        bin_edges=(32, 64),
        special_token_ids={**SPECIAL_TOKEN_IDS, "[MASK]": 104},
    )
    with pytest.raises(ValueError, match="special_token_ids"):
        main(_args({**sets, "eval": str(tmp_path / "eval")}, tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run" / CHECKPOINT_FILE)  # failed before training


def test_single_segment_shards_have_no_pair_metrics(tmp_path):
    write_example_set(
        tmp_path / "set", num_examples=16, seed=5, max_seq_len=32, bin_edges=(32,), pair_task="none"
    )
    shards = str(tmp_path / "set")
    args = f"--shards {shards} --output {tmp_path / 'run'} --max_steps 2 --batch_size 8"
    args += f" --eval_shards {shards}"
    result = main(args.split())
    assert result["train"]["pair_loss"] == 0.0 and result["train"]["pair_acc"] is None
    assert result["eval"]["pairs"] == 0 and result["eval"]["pair_acc"] is None
    assert result["train"]["loss"] == result["train"]["mlm_loss"] > 0


def test_help_is_instant_and_lists_the_flags():
    probe = "import sys, trainer.pretrain; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "False"  # no heavy import before argparse
    out = subprocess.run(
        [sys.executable, "-m", "trainer.pretrain", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    for flag in (
        "--shards",
        "--output",
        "--model_size",
        "--max_steps",
        "--batch_size",
        "--lr",
        "--warmup_steps",
        "--weight_decay",
        "--grad_clip",
        "--seed",
        "--device",
        "--threads",
        "--precision",
        "--log_every",
        "--save_every",
        "--eval_shards",
        "--eval_batches",
        "--masking",
        "--resume",
    ):
        assert flag in out.stdout


def test_parse_args_builds_a_frozen_config():
    cfg = parse_args(
        [
            "--shards",
            "a,b",
            "--output",
            "r",
            "--model_size",
            "mini",
            "--lr",
            "3e-4",
            "--adam_betas",
            "0.9,0.98",
            "--resume",
            "--masking",
            "span",
        ]
    )
    assert cfg.shards == ("a", "b") and cfg.eval_shards == () and cfg.resume
    assert (cfg.model_size, cfg.lr, cfg.adam_betas, cfg.masking) == (
        "mini",
        3e-4,
        (0.9, 0.98),
        "span",
    )
    assert parse_args(["--shards", "a", "--output", "r"]) == TrainConfig(shards=("a",), output="r")
    with pytest.raises(SystemExit):
        parse_args(["--shards", "a", "--output", "r", "--model_size", "huge"])
    with pytest.raises(ValueError, match="max_steps"):
        parse_args(["--shards", "a", "--output", "r", "--max_steps", "0"])


def test_schedule_warms_up_then_decays_linearly():
    cfg = TrainConfig(shards=("a",), output="r", lr=1.0, warmup_steps=4, max_steps=12)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    scheduler = make_scheduler(optimizer, cfg)
    lrs = []
    for _ in range(cfg.max_steps):
        lrs.append(scheduler.get_last_lr()[0])  # the lr used by this step
        optimizer.step()
        scheduler.step()
    assert lrs == pytest.approx(
        [0.25, 0.5, 0.75, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125]
    )


def test_no_weight_decay_on_biases_and_layernorm():
    from trainer.model import BertConfig, BertForPretraining

    model = BertForPretraining(BertConfig.preset("tiny", vocab_size=100))
    cfg = TrainConfig(shards=("a",), output="r", weight_decay=0.05)
    decay, no_decay = make_optimizer(model, cfg, torch.device("cpu")).param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert all(
        names[id(p)].endswith("weight") and "norm" not in names[id(p)] for p in decay["params"]
    )
    assert {names[id(p)] for p in no_decay["params"]} >= {
        "mlm_bias",
        "embeddings.norm.weight",
        "layers.0.ff_in.bias",
    }
    assert len(decay["params"]) + len(no_decay["params"]) == len(names)


def test_torchrun_two_ranks_train_and_resume(sets, tmp_path):
    """DDP on CPU (gloo): 2 ranks, per-rank loader states in the checkpoint, resume continues.
    (Bit-exact resume is tested single-process above; the same code path restores each rank.)"""
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}

    def launch(*extra: str) -> None:
        flags = f"--shards {sets['train']} --output {tmp_path} --max_steps 4 --batch_size 4"
        args = [*flags.split(), "--log_every", "1", "--threads", "1", *extra]
        cmd = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "trainer.pretrain", *args]
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[:6000]

    launch("--stop_after", "2")
    ckpt = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)
    assert [(s["rank"], s["batches_consumed"]) for s in ckpt["loader"]] == [(0, 2), (1, 2)]
    launch("--resume")
    records = _records(tmp_path)
    assert [r["world_size"] for r in records if r.get("event") == "start"] == [2, 2]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3, 4]
    assert all(r["loss"] > 0 for r in records if "loss" in r)
    assert torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)["step"] == 4
