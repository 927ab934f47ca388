"""The jobs on the runners users deploy to: the portable runner (the path Flink and Spark job
servers take, with an external SDK worker pool) and a Dataflow graph built by a dry run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import clean, shards, vocab
from schemas.document import DOCUMENT_SCHEMA
from schemas.example import EXAMPLE_SCHEMA
from schemas.shards import open_shard_set
from tests.corpus_fixtures import sample_text_docs, write_doc_shard_set
from transforms.vocab.tokenizer_dir import tokenizer_from_vocab

DATAFLOW_DRY_RUN = [
    "--runner=DataflowRunner",
    "--dry_run=True",
    "--project=bertcorpus-test",
    "--region=us-central1",
    "--temp_location=gs://bertcorpus-test/tmp",
    "--no_auth",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def worker_pool():
    """An external SDK worker pool, as a Flink/Spark deployment runs beside its job server."""
    port = _free_port()
    env = dict(os.environ)
    # The pool starts workers with the `python` on PATH: it must be this interpreter's.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
         f"--service_port={port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    yield [
        "--runner=PortableRunner",
        "--job_endpoint=embed",
        "--environment_type=EXTERNAL",
        f"--environment_config=localhost:{port}",
    ]
    proc.terminate()
    proc.wait(timeout=10)


def test_clean_on_portable_runner(worker_pool, shared_data, tmp_path):
    out = tmp_path / "clean"
    stats = clean.run(
        ["--source", "text", "--text_format", "blank_line", "--lang", "en",
         "--input", str(shared_data / "bert" / "sample_text.txt"), "--output", str(out),
         *worker_pool]
    )  # fmt: skip
    assert stats["ledger"]["balanced"] and stats["ledger"]["input"] == 3
    manifest, tables = open_shard_set(str(out), schema=DOCUMENT_SCHEMA)
    assert manifest["num_rows"] == stats["ledger"]["emitted"] > 0
    assert json.loads((out / "stats.json").read_text())["counters"] == stats["counters"]


def test_shards_on_portable_runner_match_direct_runner(worker_pool, shared_data, tmp_path):
    docs = write_doc_shard_set(str(tmp_path / "docs"), sample_text_docs(shared_data))
    tok = tokenizer_from_vocab(
        str(shared_data / "vocab" / "bert-base-uncased-vocab_from_all-MiniLM-L6-v2.txt"),
        str(tmp_path / "tok"),
        lowercase=True,
    )
    common = ["--input", docs, "--tokenizer", tok, "--max_seq_len", "64", "--seed", "7"]
    shards.run([*common, "--output", str(tmp_path / "portable"), *worker_pool])
    shards.run([*common, "--output", str(tmp_path / "direct")])
    portable, _ = open_shard_set(str(tmp_path / "portable"), schema=EXAMPLE_SCHEMA)
    direct, _ = open_shard_set(str(tmp_path / "direct"), schema=EXAMPLE_SCHEMA)
    assert portable["num_rows"] > 0
    assert [s["sha256"] for s in portable["shards"]] == [s["sha256"] for s in direct["shards"]]


def test_every_job_builds_a_dataflow_graph(shared_data, tmp_path):
    assert clean.run(
        ["--source", "wiki", "--input", "gs://bertcorpus-test/dumps/enwiki-*.xml.bz2",
         "--output", "gs://bertcorpus-test/clean", *DATAFLOW_DRY_RUN]
    ) == {"dry_run": True}  # fmt: skip
    docs = write_doc_shard_set(str(tmp_path / "docs"), sample_text_docs(shared_data))
    assert vocab.run(
        ["--input", docs, "--output", "gs://bertcorpus-test/tok", "--vocab_size", "500",
         *DATAFLOW_DRY_RUN]
    ) == {"dry_run": True}  # fmt: skip
    tok = tokenizer_from_vocab(
        str(shared_data / "vocab" / "bert-base-cased-vocab.txt"), str(tmp_path / "tok"), False
    )
    assert shards.run(
        ["--input", docs, "--tokenizer", tok, "--output", "gs://bertcorpus-test/shards",
         *DATAFLOW_DRY_RUN]
    ) == {"dry_run": True}  # fmt: skip
    assert not any(Path(tmp_path).glob("**/stats.json"))  # a dry run writes nothing


def test_local_runs_pin_the_fn_api_runner():
    """No --runner: the FnApiRunner, with the job's options provisioned to its workers (Beam's
    DirectRunner would first try to download Prism); any --runner is left to Beam."""
    from apache_beam.runners.portability.fn_api_runner.fn_runner import FnApiRunner

    from pipeline.job import beam_options, local_runner

    runner = local_runner(beam_options(["--direct_num_workers=2"]))
    assert isinstance(runner, FnApiRunner)
    provisioned = runner._provision_info.provision_info.pipeline_options
    assert provisioned["beam:option:direct_num_workers:v1"] == "2"
    for flag in ("--runner=DirectRunner", "--runner=PrismRunner", *DATAFLOW_DRY_RUN[:1]):
        assert local_runner(beam_options([flag])) is None
