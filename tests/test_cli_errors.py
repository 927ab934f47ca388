"""Every command's user errors and every output folder's claim (issue #16).

A user error (bad flag, missing input, a glob matching nothing, a folder of the wrong kind, a
corrupted shard) is exactly one ``error: ...`` line on stderr and exit status 2, with the
traceback only under ``--debug``. A command that writes an output folder reruns the same
settings there, refuses another run's folder (naming the folder, what differs and
``--overwrite``) and with ``--overwrite`` removes the old run's files, not the user's.

Most checks call the entry points in this process (a Beam job or trainer import costs seconds
per subprocess); a few run real subprocesses to see the status and stderr a shell sees.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import clean, corpus, download, report, shards, vocab
from schemas.cli import UserError
from tests.example_fixtures import flip_byte, write_example_set
from trainer import evaluate, export, finetune, pretrain, probe

REPO = Path(__file__).resolve().parent.parent
ENTRY = {
    "pipeline.clean": clean.run,
    "pipeline.vocab": vocab.run,
    "pipeline.shards": shards.run,
    "pipeline.corpus": corpus.run,
    "pipeline.report": report.main,
    "pipeline.download": download.run,
    "trainer.pretrain": pretrain.run,
    "trainer.finetune": finetune.main,
    "trainer.probe": probe.main,
    "trainer.export": export.main,
    "trainer.evaluate": evaluate.main,
}
WORDS = (
    "river mountain city train boat weather winter summer garden market teacher student "
    "music painting history science language forest ocean island bridge village road"
).split()
CLEAN = ["--source", "text", "--num_shards", "1", "--no_near_dedup", "--no_quality"]


def _write_jsonl(path: Path, docs: int = 12, seed: int = 0) -> str:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(docs):
            sentences = [
                " ".join(rng.choice(WORDS) for _ in range(8)).capitalize() + "." for _ in range(4)
            ]
            line = json.dumps({"id": f"d{i}", "text": " ".join(sentences)}) + "\n"
            f.write(line * (2 if i == 0 else 1))  # one exact duplicate, dropped by dedup
    return str(path)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, str]:
    """Inputs of every kind: jsonl text, a cleaned-document set, a tokenizer, example sets
    (intact and with a flipped byte), an empty folder and a plain file."""
    root = tmp_path_factory.mktemp("inputs")
    out = {"root": str(root), "jsonl": _write_jsonl(root / "in.jsonl")}
    out["docs"] = str(root / "docs")
    clean.run([*CLEAN, "--input", out["jsonl"], "--output", out["docs"]])
    out["tok"] = str(root / "tok")
    vocab.run(["--input", out["docs"], "--output", out["tok"], "--vocab_size", "150",
               "--min_count", "1"])  # fmt: skip
    out["bad_docs"] = str(root / "bad_docs")
    shutil.copytree(out["docs"], out["bad_docs"])
    flip_byte(os.path.join(out["bad_docs"], "docs-00000.arrow"))
    out["examples"] = str(root / "examples")
    write_example_set(out["examples"], num_examples=16, max_seq_len=32, bin_edges=(32,))
    out["bad_examples"] = str(root / "bad_examples")
    shutil.copytree(out["examples"], out["bad_examples"])
    for name in os.listdir(out["bad_examples"]):
        if name.endswith(".arrow"):
            flip_byte(os.path.join(out["bad_examples"], name))
    (root / "empty").mkdir()
    out["empty"] = str(root / "empty")
    out["file"] = str(root / "notes.txt")
    Path(out["file"]).write_text("not a folder\n")
    corpus_out = root / "corpus_out" / "clean" / "docs"  # pipeline.report's view of a corpus
    shutil.copytree(out["docs"], corpus_out)
    out["corpus_out"] = str(corpus_out.parent.parent)
    return out


def _cases(f: dict[str, str]) -> list[tuple[str, list[str], str]]:
    """(command, argv, text the error line holds) for every command's user errors."""
    r, out = f["root"], "<out>"
    cases = [
        ("pipeline.clean", [*CLEAN, "--input", f"{r}/nope.jsonl", "--output", out], "no such file"),
        ("pipeline.clean", [*CLEAN, "--input", f"{r}/*.nothing", "--output", out], "matches no"),
        ("pipeline.clean", [*CLEAN, "--input", f["jsonl"], "--output", out, "--num_shards", "x"],
         "invalid int value"),
        ("pipeline.clean", [*CLEAN, "--input", f["jsonl"], "--output", f["file"]], "not a folder"),
        ("pipeline.clean", [*CLEAN, "--input", f["jsonl"], "--output", out, "--minhash_bands",
                            "7"], "bands"),
        ("pipeline.vocab", ["--input", f"{r}/nope", "--output", out], "no such folder"),
        ("pipeline.vocab", ["--input", f["empty"], "--output", out], "no manifest"),
        ("pipeline.vocab", ["--input", f["examples"], "--output", out], "holds pretraining"),
        ("pipeline.vocab", ["--input", f["docs"], "--output", out, "--holdout_fraction", "2"],
         "holdout_fraction"),
        ("pipeline.vocab", ["--input", f["bad_docs"], "--output", out], "docs-00000.arrow"),
        # Worker processes: the shard's error reaches the driver as a traceback in a RuntimeError.
        ("pipeline.vocab", ["--input", f["bad_docs"], "--output", out, "--overwrite",
                            "--direct_running_mode=multi_processing", "--direct_num_workers=2"],
         "docs-00000.arrow: sha256 mismatch"),
        ("pipeline.shards", ["--input", f["examples"], "--tokenizer", f["tok"], "--output", out],
         "holds pretraining"),
        ("pipeline.shards", ["--input", f["docs"], "--tokenizer", f["empty"], "--output", out],
         f["empty"]),
        ("pipeline.shards", ["--input", f["docs"], "--tokenizer", f["tok"], "--output", out,
                             "--max_seq_len", "4"], "--max_seq_len"),
        ("pipeline.shards", ["--input", f["docs"], "--tokenizer", f["tok"], "--output", out,
                             "--pair", "xyz"], "invalid choice"),
        ("pipeline.corpus", ["--lang", "books", "--output", out, "--data_dir", f["empty"]],
         "lacks books"),
        ("pipeline.corpus", ["--lang", "klingon", "--output", out], "invalid choice"),
        ("pipeline.report", [f"{r}/nope"], "no such folder"),
        ("pipeline.report", [f["empty"]], "not a pipeline.corpus output"),
        ("pipeline.report", [f["corpus_out"], "--run", f["empty"]], "no log.jsonl"),
        ("pipeline.download", ["--wiki", "xx", "--output", out, "--base_url",
                               "http://127.0.0.1:9"], "download failed"),
        ("pipeline.download", ["--recipe", "klingon", "--output", out], "invalid choice"),
        ("trainer.pretrain", ["--shards", f"{r}/nope", "--output", out], "no manifest"),
        ("trainer.pretrain", ["--shards", f["docs"], "--output", out], f["docs"]),
        ("trainer.pretrain", ["--shards", f["examples"], "--output", out, "--max_steps", "0"],
         "--max_steps must be >= 1"),
        ("trainer.pretrain", ["--shards", f["bad_examples"], "--output", out, "--max_steps", "1",
                              "--batch_size", "4", "--device", "cpu"], "examples-b00"),
        ("trainer.pretrain", ["--shards", f["examples"], "--output", out, "--resume",
                              "--overwrite"], "cannot go with --resume"),
        ("trainer.finetune", ["--task", "sst2", "--model", f["empty"], "--output", out],
         "neither config.json"),
        ("trainer.finetune", ["--task", "sst2", "--model", f["empty"], "--output", out,
                              "--epochs", "0"], "--epochs must be >= 1"),
        ("trainer.finetune", ["--task", "nope", "--model", f["empty"], "--output", out],
         "invalid choice"),
        ("trainer.probe", ["contextual", "--model", f["empty"], "--output", out],
         "neither config.json"),
        ("trainer.probe", ["embryology", "--run", f["empty"], "--output", out], "no checkpoint"),
        ("trainer.probe", [], "required: command"),
        ("trainer.export", ["--run", f["empty"], "--output", out], "no checkpoint"),
        ("trainer.export", ["--run", f["empty"]], "required: --output"),
        ("trainer.evaluate", ["--model", f["empty"], "--output", out, "--tasks", "pos"],
         "neither config.json"),
        ("trainer.evaluate", ["--model", f["empty"], "--output", out, "--tasks", "sst2,foo"],
         "unknown tasks"),
    ]  # fmt: skip
    # Each command its own output folder: a job that fails mid-run has claimed its folder.
    return [(c, [a.replace(out, f"{r}/out/{c}") for a in argv], e) for c, argv, e in cases]


def _one_error_line(capsys, command: str, argv: list[str]) -> str:
    """Run ``command`` in-process; it must exit 2 with one ``error:`` line and no traceback."""
    with pytest.raises(SystemExit) as exit_info:
        ENTRY[command](argv)
    assert exit_info.value.code == 2, (command, argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (command, argv, err)
    assert "Traceback" not in err
    return lines[0]


def test_every_user_error_is_one_line_and_exit_2(folders, capsys):
    cases = _cases(folders)
    assert {c for c, _, _ in cases} == set(ENTRY)  # every command has its cases
    for command, argv, expected in cases:
        line = _one_error_line(capsys, command, argv)
        assert expected in line, (command, argv, line)


def test_debug_shows_the_exception(folders, capsys):
    """``--debug``: the exception propagates (Python prints its traceback), for every command
    (its first case above: not a flag error, which has no traceback to show)."""
    seen = set()
    for command, argv, _ in _cases(folders):
        if command not in seen:
            seen.add(command)
            with pytest.raises((UserError, OSError)):
                ENTRY[command]([*argv, "--debug"])
    assert seen == set(ENTRY)
    assert "error:" not in capsys.readouterr().err


@pytest.mark.parametrize("command", sorted(ENTRY))
def test_help_lists_debug_and_overwrite(command, capsys):
    argv = ["embryology", "--help"] if command == "trainer.probe" else ["--help"]
    with pytest.raises(SystemExit) as exit_info:
        ENTRY[command](argv)
    assert exit_info.value.code == 0
    shown = capsys.readouterr().out
    assert "--debug" in shown
    writes_a_run = command not in ("pipeline.report", "pipeline.download")
    assert ("--overwrite" in shown) == writes_a_run, command


@pytest.mark.parametrize(
    "command, argv",
    [
        ("pipeline.clean", ["--source", "text", "--input", "/nonexistent/in.jsonl", "--output"]),
        ("trainer.pretrain", ["--shards", "/nonexistent/shards", "--output"]),
    ],
)
def test_a_shell_sees_one_line_and_status_2(command, argv, tmp_path):
    cmd = [sys.executable, "-m", command, *argv, str(tmp_path / "out")]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    debug = subprocess.run([*cmd, "--debug"], capture_output=True, text=True, cwd=REPO)
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr


# --- output folders ---------------------------------------------------------------------------


def _refusal(capsys, command: str, argv: list[str], folder, *differs: str) -> None:
    line = _one_error_line(capsys, command, argv)
    assert str(folder) in line and "--overwrite" in line, line
    assert all(d in line for d in differs), (line, differs)


def test_clean_reruns_refuses_and_overwrites(folders, tmp_path, capsys):
    out = tmp_path / "clean"
    argv = [*CLEAN, "--input", folders["jsonl"], "--output", str(out)]
    first = clean.run([*argv, "--keep_dropped"])
    assert first["ledger"]["dropped"] and (out / "dropped").is_dir()
    shards_before = (out / "docs-00000.arrow").read_bytes()
    (out / "notes.txt").write_text("mine")
    again = clean.run([*argv, "--keep_dropped"])  # the same run again: allowed
    assert again["ledger"] == first["ledger"]
    assert (out / "docs-00000.arrow").read_bytes() == shards_before
    _refusal(capsys, "pipeline.clean", [*argv, "--seed", "3"], out, "seed 0 -> 3")
    other_input = _write_jsonl(tmp_path / "other.jsonl", docs=5, seed=1)
    _refusal(capsys, "pipeline.clean", [*argv[:-3], other_input, "--output", str(out)], out,
             "input [")  # fmt: skip
    assert (out / "docs-00000.arrow").read_bytes() == shards_before  # refused: untouched
    (out / "_spill").mkdir()  # left by an interrupted run
    clean.run([*argv, "--seed", "3", "--overwrite"])
    assert (out / "notes.txt").read_text() == "mine"  # the user's file stays
    assert not (out / "dropped").exists() and not (out / "_spill").exists()  # old run's files
    stats = json.loads((out / "stats.json").read_text())
    assert stats["run"]["settings"]["seed"] == 3
    capsys.readouterr()


def test_vocab_and_shards_refuse_another_run(folders, tmp_path, capsys):
    tok = tmp_path / "tok"
    shutil.copytree(folders["tok"], tok)
    (tok / "notes.txt").write_text("mine")
    argv = ["--input", folders["docs"], "--output", str(tok), "--min_count", "1"]
    _refusal(capsys, "pipeline.vocab", [*argv, "--vocab_size", "120"], tok, "vocab_size 150 -> 120")
    vocab.run([*argv, "--vocab_size", "120", "--overwrite"])
    assert (
        json.loads((tok / "stats.json").read_text())["run"]["settings"]["config"]["vocab_size"]
        == 120
        and (tok / "notes.txt").exists()
    )
    out = tmp_path / "shards"
    argv = ["--input", folders["docs"], "--tokenizer", folders["tok"], "--output", str(out)]
    shards.run([*argv, "--max_seq_len", "32"])
    shards.run([*argv, "--max_seq_len", "32"])  # the same run again: allowed
    _refusal(capsys, "pipeline.shards", [*argv, "--max_seq_len", "64"], out, "max_seq_len 32 -> 64")
    _refusal(capsys, "pipeline.shards", argv[:-2] + ["--output", str(tok)], tok,
             "a run of vocab, not of shards")  # fmt: skip
    capsys.readouterr()


def test_corpus_passes_overwrite_and_debug_to_every_job(tmp_path):
    args = corpus._parser().parse_args(["--lang", "books", "--output", "o", "--overwrite",
                                        "--debug", "--data_dir", "d"])  # fmt: skip
    plan = corpus.build_plan(args, ["--runner=DirectRunner"])
    assert [job for job, _ in plan] == ["pipeline.clean", "pipeline.vocab", "pipeline.shards"]
    for _, argv in plan:
        assert {"--overwrite", "--debug"} <= set(argv) and argv[-1] == "--runner=DirectRunner"
    plain = corpus.build_plan(corpus._parser().parse_args(["--output", "o", "--data_dir", "d"]), [])
    assert not any({"--overwrite", "--debug"} & set(argv) for _, argv in plain)


def test_corpus_stops_on_a_job_refusing_its_folder(tmp_path):
    """A stage folder holding another run: the job's one error line, status 2, nothing more."""
    (tmp_path / "data" / "books").mkdir(parents=True)
    (tmp_path / "data" / "books" / "a.txt").write_text("A short book. " * 50)
    books = tmp_path / "out" / "clean" / "books"
    books.mkdir(parents=True)
    record = {"job": "clean", "fingerprint": "0" * 16, "settings": {"seed": 9}}
    (books / "stats.json").write_text(json.dumps({"run": record}))
    cmd = [sys.executable, "-m", "pipeline.corpus", "--lang", "books", "--output",
           str(tmp_path / "out"), "--data_dir", str(tmp_path / "data"), "--no_report"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {books} holds another run of clean")


def test_pretrain_reruns_refuses_and_overwrites(folders, tmp_path, capsys, one_torch_thread):
    run_dir = tmp_path / "run"
    argv = ["--shards", folders["examples"], "--output", str(run_dir), "--max_steps", "2",
            "--batch_size", "4", "--warmup_steps", "1", "--log_every", "1", "--device", "cpu"]  # fmt: skip
    first = pretrain.run([*argv, "--keep_checkpoints"])
    again = pretrain.run([*argv, "--keep_checkpoints"])  # the same settings: starts over
    assert again["train"]["loss"] == first["train"]["loss"]
    (run_dir / "notes.txt").write_text("mine")
    capsys.readouterr()  # the runs' progress lines
    _refusal(capsys, "trainer.pretrain", [*argv, "--keep_checkpoints", "--lr", "0.01"], run_dir,
             "(lr 0.0001 -> 0.01)")  # fmt: skip
    assert (run_dir / "checkpoint-2.pt").exists()  # refused: untouched
    pretrain.run([*argv, "--lr", "0.01", "--overwrite", "--max_steps", "1"])
    assert sorted(os.listdir(run_dir)) == ["checkpoint.pt", "log.jsonl", "notes.txt"]
    capsys.readouterr()


def _foreign(folder: Path, record_file: str, job: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    record = {"job": job, "fingerprint": "f" * 16, "settings": {"model": "another"}}
    (folder / record_file).write_text(json.dumps({"run": record}))
    (folder / "notes.txt").write_text("mine")


@pytest.mark.parametrize(
    "command, argv, record_file, job",
    [
        ("trainer.finetune", ["--task", "sst2"], "metrics.json", "finetune"),
        ("trainer.evaluate", ["--tasks", "sst2"], "report.json", "evaluate"),
        ("trainer.probe", ["contextual"], "contextual.json", "probe contextual"),
    ],
)
def test_trainer_reports_refuse_another_run(command, argv, record_file, job, folders, tmp_path,
                                            capsys):  # fmt: skip
    out = tmp_path / "out"
    _foreign(out, record_file, job)
    full = [*argv, "--model", folders["empty"], "--output", str(out)]
    _refusal(capsys, command, full, out, f"holds another run of {job}")
    assert (out / record_file).exists()
    # --overwrite: the old report goes first, then the empty model folder is the error.
    assert "neither config.json" in _one_error_line(capsys, command, [*full, "--overwrite"])
    assert os.listdir(out) == ["notes.txt"]


def test_export_refuses_another_export(folders, tmp_path, capsys):
    out = tmp_path / "hf"
    _foreign(out, "export_run.json", "export")
    (out / "config.json").write_text("{}")
    argv = ["--run", folders["empty"], "--output", str(out)]
    _refusal(capsys, "trainer.export", argv, out, "run")
    assert "no checkpoint" in _one_error_line(capsys, "trainer.export", [*argv, "--overwrite"])
    assert (out / "config.json").exists()  # nothing is replaced before an export succeeds
