"""Task-adaptive pretraining input: ``trainer.task_text`` writes exactly the unlabeled texts
fine-tuning trains on (none touching the test split), and ``pipeline.corpus --extra_text``
cleans and packs them with the recipe."""

from __future__ import annotations

import argparse
import subprocess
import sys

from pipeline.corpus import build_plan
from trainer.task_text import main as task_text
from trainer.tasks.sentiment import DEFAULT_TEST, overlap_key, read_glue_tsv


def test_sst2_texts_are_the_training_texts_without_test_overlap(shared_data, tmp_path):
    out = tmp_path / "sst2.txt"
    summary = task_text(["--task", "sst2", "--output", str(out), "--data_dir", str(shared_data)])
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == summary["texts"] == 10662 - 1085  # RT snippets minus the SST-2 overlap
    assert summary["overlap_removed"] == 1085 and all(line.strip() for line in lines)
    test_keys = [overlap_key(t) for t, _ in read_glue_tsv(str(shared_data / DEFAULT_TEST), {})]
    joined_test = "\x00".join(test_keys)
    for line in lines[::40]:  # brute force on a sample: no test sentence inside, no way round
        key = overlap_key(line)
        assert key not in joined_test and not any(k in key for k in test_keys)
    assert not any(line in {"0", "1"} for line in lines)  # no labels


def test_existing_output_is_refused_in_one_line(shared_data, tmp_path):
    out = tmp_path / "sst2.txt"
    out.write_text("mine\n")
    cmd = [sys.executable, "-m", "trainer.task_text", "--task", "sst2", "--output", str(out),
           "--data_dir", str(shared_data)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 2 and out.read_text() == "mine\n"
    assert done.stderr.strip().splitlines() == [f"error: {out} exists (--overwrite replaces it)"]
    assert subprocess.run([*cmd, "--overwrite"], capture_output=True).returncode == 0
    assert len(out.read_text().splitlines()) == 10662 - 1085


def _plan(extra_lang: str) -> list[tuple[str, list[str]]]:
    args = argparse.Namespace(output="o", lang="en", data_dir="d", vocab_size=100,
                              vocab_model="wordpiece", max_seq_len=64, pair="none", seed=1,
                              extra_text="/x/sst2.txt", extra_lang=extra_lang)  # fmt: skip
    return build_plan(args, [])


def test_extra_text_is_cleaned_and_packed_with_the_recipe():
    plan = _plan("en")
    cleans = [argv for job, argv in plan if job == "pipeline.clean"]
    extra = cleans[-1]
    assert extra[extra.index("--input") + 1] == "/x/sst2.txt"  # as given, not under --data_dir
    assert {"--text_format=lines", "--lang_hint=en", "--lang=en"} <= set(extra)
    outputs = [argv[argv.index("--output") + 1] for argv in cleans]
    assert outputs[-1] == "o/clean/extra_text" and len(outputs) == 4
    for job in ("pipeline.vocab", "pipeline.shards"):
        argv = next(a for j, a in plan if j == job)
        assert argv[argv.index("--input") + 1].split(",") == outputs
    assert "--lang=auto" in next(a for j, a in _plan("auto") if j == "pipeline.clean" and
                                 "/x/sst2.txt" in a)  # fmt: skip


def test_missing_extra_text_is_a_one_line_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.corpus", "--lang", "en", "--output", str(tmp_path / "o"),
         "--extra_text", str(tmp_path / "nope.txt")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: --extra_text {tmp_path}/nope.txt: no such file"
    ]
