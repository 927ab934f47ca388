"""`make corpus` as a new user meets it: on a machine with no data it downloads the recipe's
sources (here from a local mirror of the real sites, tests/mirror.py), cleans, trains the
vocabulary, packs, prints one summary table with no Beam log noise, and writes report.html."""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.corpus import build_plan, missing_inputs
from pipeline.recipes import RECIPES
from schemas.document import DOCUMENT_SCHEMA
from schemas.example import EXAMPLE_SCHEMA
from schemas.shards import open_shard_set
from tests.browser import chromium_or_skip, load, screenshot
from tests.mirror import build_mirror, serve

TWO_WORKERS = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]


@pytest.fixture(scope="module")
def corpus_run(shared_data, tmp_path_factory):
    """``pipeline.corpus --lang en`` into an empty data folder, through the download path."""
    tmp = tmp_path_factory.mktemp("corpus")
    server, base = serve(build_mirror(tmp / "site", shared_data, wiki_pages=30))
    out, data = tmp / "out", tmp / "raw"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pipeline.corpus", "--lang", "en", "--output", str(out),
             "--data_dir", str(data), "--download", "--mirror", base, "--books", "1952,1080",
             "--vocab_size", "2000", "--max_seq_len", "64", "--", *TWO_WORKERS],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, data, done


def test_summary_table_and_no_beam_warnings(corpus_run):
    out, _, done = corpus_run
    lines = done.stdout.splitlines()
    header = next(
        i for i, line in enumerate(lines) if line.split()[:3] == ["stage", "input", "kept"]
    )
    rows = [line.split()[0:2] for line in lines[header + 2 : header + 7]]
    assert rows == [["clean", "wiki_en"], ["clean", "books"], ["clean", "sample"],
                    ["vocab", "tokenizer"], ["shards", "shards"]]  # fmt: skip
    assert "tok/s" in lines[header + 6]  # the shards row: tokens and throughput
    assert re.search(
        rf"^output +shards shards +{re.escape(str(out / 'shards'))}$", done.stdout, re.M
    )
    noise = [line for line in (done.stdout + done.stderr).splitlines() if "WARNING" in line]
    assert noise == []


def test_sources_were_downloaded_into_the_data_folder(corpus_run):
    _, data, _ = corpus_run
    assert sorted(os.listdir(data / "books")) == ["pg1080.txt", "pg1952.txt"]
    assert glob.glob(str(data / "wiki" / "enwiki-20990101-p1p41242-*multistream.xml.bz2"))
    assert missing_inputs("en", str(data)) == []  # a second run reads the cache


def test_recipe_packs_every_source_it_names(corpus_run):
    out, _, _ = corpus_run
    _, tables = open_shard_set(str(out / "shards"), schema=EXAMPLE_SCHEMA)
    packed = {d for t in tables for d in t.column("doc_id").to_pylist()}
    for item in RECIPES["en"]:
        _, docs = open_shard_set(str(out / "clean" / item.name), schema=DOCUMENT_SCHEMA)
        ids = {d for t in docs for d in t.column("doc_id").to_pylist()}
        assert ids and ids & packed, f"{item.name}: no example from its documents"


def test_corpus_report_is_written(corpus_run):
    out, _, done = corpus_run
    assert f"report: {out / 'report.html'}" in done.stdout
    page = (out / "report.html").read_text()
    for png in ("groups.png", "drops.png", "example_lengths.png", "padding.png", "vocab.png"):
        assert f'src="{png}"' in page and (out / png).stat().st_size > 1000
    assert "http://" not in page and "https://" not in page  # nothing fetched from a CDN


def _plan(lang: str, data_dir: str) -> list[tuple[str, list[str]]]:
    args = argparse.Namespace(output="o", lang=lang, data_dir=data_dir, vocab_size=100,
                              vocab_model="wordpiece", max_seq_len=64, pair="nsp", seed=1)  # fmt: skip
    return build_plan(args, [])


@pytest.mark.parametrize("lang", sorted(RECIPES))
def test_every_recipe_cleans_and_packs_each_of_its_inputs(lang, shared_data):
    plan = _plan(lang, str(shared_data))
    cleaned = [argv[argv.index("--output") + 1] for job, argv in plan if job == "pipeline.clean"]
    assert [os.path.basename(c) for c in cleaned] == [i.name for i in RECIPES[lang]]
    for job in ("pipeline.vocab", "pipeline.shards"):
        argv = next(a for j, a in plan if j == job)
        assert argv[argv.index("--input") + 1].split(",") == cleaned
    assert missing_inputs(lang, str(shared_data)) == []  # each glob finds the sample data


def test_en_recipe_is_wikipedia_books_and_the_bert_sample():
    assert [i.name for i in RECIPES["en"]] == ["wiki_en", "books", "sample"]


def test_missing_data_is_a_one_line_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.corpus", "--lang", "books", "--output",
         str(tmp_path / "o"), "--data_dir", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: --data_dir {tmp_path} lacks books (books/*.txt); pass --download to fetch them there"
    ]


def test_stats_of_each_stage_balance(corpus_run):
    out, _, _ = corpus_run
    for path in glob.glob(str(out / "**" / "stats.json"), recursive=True):
        assert json.loads(open(path).read())["ledger"]["balanced"], path


# --- the report in a real browser (tests/browser.py: headless Debian chromium) ---


@pytest.fixture(scope="module")
def report_with_run(corpus_run):
    """The corpus report again, now with a 4-step training run's curves and evaluation."""
    from pipeline.report import write_report
    from trainer.pretrain import main as pretrain

    out, _, _ = corpus_run
    run_dir = out / "run"
    pretrain(["--shards", str(out / "shards"), "--output", str(run_dir), "--max_steps", "4",
              "--batch_size", "8", "--warmup_steps", "1", "--log_every", "1", "--threads", "1",
              "--eval_shards", str(out / "shards"), "--eval_batches", "2"])  # fmt: skip
    return write_report(str(out), str(run_dir))


def test_report_in_headless_chromium(report_with_run, tmp_path):
    binary = chromium_or_skip()
    page = Path(report_with_run)
    html = page.read_text()
    assert 'src="training.png"' in html and "Evaluation: eval.json" in html
    dom, console = load(binary, page, tmp_path / "profile")
    assert console == []
    expected = html.count("<img ")
    assert f'data-images="{expected}"' in dom and 'data-images-ok="true"' in dom
    shot = screenshot(binary, page, page.parent / "report-screenshot.png", tmp_path / "profile")
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 50_000  # a rendered page of figures, not a blank one


def test_browser_check_sees_a_broken_page(report_with_run, tmp_path):
    binary = chromium_or_skip()
    page = tmp_path / "broken.html"
    html = Path(report_with_run).read_text().replace('src="groups.png"', 'src="missing.png"')
    page.write_text(html.replace("</body>", "<script>no_such_function()</script></body>"))
    for png in Path(report_with_run).parent.glob("*.png"):
        shutil.copy(png, tmp_path / png.name)
    dom, console = load(binary, page, tmp_path / "profile")
    assert 'data-images-ok="false"' in dom
    assert any("no_such_function" in line for line in console)
