"""Full ``pipeline.clean`` runs on the real sample corpora, read back through DOCUMENT_SCHEMA.

Each source runs once (module-scoped fixtures) and many properties are checked on each run.
"""

from __future__ import annotations

import bz2
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.clean import run
from schemas.document import DOCUMENT_SCHEMA, Doc
from schemas.shards import open_shard_set
from transforms.shared.accounting import REJECTED_DIR, STATS_FILE
from transforms.shared.alphabets import PROTEIN_ALPHABET

TWO_WORKERS = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
EN_WIKI = "wiki/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


class Job:
    """A finished clean run: its stats, manifest, documents and dead letters."""

    def __init__(self, out: Path, returned: dict) -> None:
        self.out = out
        self.returned = returned
        self.stats = json.loads((out / STATS_FILE).read_text())
        self.counters = self.stats["counters"]
        self.manifest, tables = open_shard_set(str(out), schema=DOCUMENT_SCHEMA)
        self.shard_ids = [table.column("doc_id").to_pylist() for table in tables]
        self.rows = [row for table in tables for row in table.to_pylist()]
        self.docs = [Doc.from_row(row) for row in self.rows]
        self.rejected = [
            json.loads(line)
            for path in sorted((out / REJECTED_DIR).glob("*.jsonl"))
            for line in path.read_text().splitlines()
            if line.strip()
        ]

    def drops(self, exclude: tuple[str, ...] = ()) -> int:
        return sum(
            v for k, v in self.counters.items() if k.startswith("dropped_") and k not in exclude
        )

    def sha256s(self) -> list[str]:
        return [s["sha256"] for s in self.manifest["shards"]]


def _run(tmp_path_factory, name: str, args: list[str]) -> Job:
    out = tmp_path_factory.mktemp(name) / "out"
    returned = run([*args, "--output", str(out)])
    return Job(out, returned)


def _assert_common(job: Job) -> None:
    ledger = job.stats["ledger"]
    assert ledger["balanced"], ledger
    assert ledger["emitted"] == len(job.rows) == job.manifest["num_rows"]
    assert job.returned["ledger"] == ledger
    assert job.manifest["counters"] == job.counters
    ids = [d.doc_id for d in job.docs]
    assert len(ids) == len(set(ids))
    for shard, shard_ids in zip(job.manifest["shards"], job.shard_ids, strict=True):
        assert shard["path"].startswith("docs-") and shard_ids == sorted(shard_ids)
    for doc, row in zip(job.docs, job.rows, strict=True):
        assert doc.paragraphs and all(
            p and all(s.strip() == s and s for s in p) for p in doc.paragraphs
        )
        assert row["num_chars"] == doc.num_chars


@pytest.fixture(scope="module")
def en_wiki(shared_data, tmp_path_factory) -> Job:
    return _run(
        tmp_path_factory,
        "en",
        ["--source", "wiki", "--input", str(shared_data / EN_WIKI), "--lang", "en"],
    )


@pytest.fixture(scope="module")
def other_wikis(shared_data, tmp_path_factory) -> Job:
    files = ",".join(
        str(shared_data / "wiki" / f)
        for f in sorted(os.listdir(shared_data / "wiki"))
        if not f.startswith("enwiki-latest")
    )
    return _run(tmp_path_factory, "wikis", ["--source", "wiki", "--input", files])


def test_english_wiki(en_wiki):
    job = en_wiki
    _assert_common(job)
    c = job.counters
    assert c["input"] == 206 and c["dropped_redirect"] == 100 and c["read_docs"] == 106
    assert c["emitted"] + job.drops(exclude=("dropped_redirect",)) + c.get("failed", 0) == 106
    assert c["emitted"] >= 100
    titles = {d.title for d in job.docs}
    assert {"Anarchism", "Autism", "Albedo"} <= titles
    assert {d.lang for d in job.docs} == {"en"} and {d.source for d in job.docs} == {"wiki"}
    for doc in job.docs:
        for sentence in doc.sentences:
            for markup in ("{{", "[[", "<ref", "|}", "}}", "]]"):
                assert markup not in sentence, (doc.title, sentence)
    autism = next(d for d in job.docs if d.title == "Autism")
    assert autism.sentences[0].startswith("Autism is a neurodevelopmental disorder")
    assert len(autism.sentences) > 100
    assert job.rejected == []


def test_other_wikis(other_wikis):
    job = other_wikis
    _assert_common(job)
    by_file: dict[str, list[Doc]] = {}
    for doc in job.docs:
        by_file.setdefault(os.path.basename(doc.source_file), []).append(doc)
    bg = by_file["bgwiki-latest-pages-articles-shortened.xml.bz2"]
    assert {d.lang for d in bg} == {"bg"}
    assert any("\u0400" <= ch <= "\u04ff" for d in bg for ch in d.sentences[0])
    uk = by_file["ukwiki-20230501-pages-articles-first300pages.xml.bz2"]
    assert len(uk) > 200 and sum(d.lang == "uk" for d in uk) >= 0.95 * len(uk)
    ja = by_file["jawiki-20230501-pages-articles-first238pages.xml.bz2"]
    assert len(ja) > 150 and sum(d.lang == "ja" for d in ja) >= 0.95 * len(ja)
    ja_sentences = [s for d in ja for s in d.sentences]
    # Split at 。: it ends sentences and (outside quotes and brackets) never sits inside one.
    assert sum(s.endswith("。") for s in ja_sentences) > 0.5 * len(ja_sentences)
    inside = [s for s in ja_sentences if "。" in s[:-1] and not any(q in s for q in "「『（(")]
    assert len(inside) <= 0.01 * len(ja_sentences), inside[:5]
    tables = by_file["enwiki-table-markup.xml.bz2"]
    assert all("|}" not in s and "{|" not in s for d in tables for s in d.sentences)


@pytest.fixture(scope="module")
def books(shared_data, tmp_path_factory) -> Job:
    return _run(
        tmp_path_factory,
        "books",
        ["--source", "books", "--input", str(shared_data / "books" / "*.txt")],
    )


def test_books(books):
    job = books
    _assert_common(job)
    assert len(job.docs) == 9 and job.counters["input"] == 9
    langs = {os.path.basename(d.source_file): d.lang for d in job.docs}
    assert langs.pop("fr_Voyage-au-Centre-de-la-Terre-.txt") == "fr"
    assert set(langs.values()) == {"en"}
    for doc in job.docs:
        text = "\n".join(doc.sentences)
        for licence in (
            "Project Gutenberg",
            "PROJECT GUTENBERG",
            "*** START",
            "*** END",
            "gutenberg.org/license",
        ):
            assert licence not in text, (doc.title, licence)
    alice = next(d for d in job.docs if d.source_file.endswith("11-0.txt"))
    assert any("Alice was beginning to get very tired" in s for s in alice.sentences)
    assert "\ufeff" not in "".join(alice.sentences) and "\r" not in "".join(alice.sentences)


@pytest.fixture(scope="module")
def protein(shared_data, tmp_path_factory) -> Job:
    return _run(
        tmp_path_factory,
        "protein",
        ["--source", "protein", "--input", str(shared_data / "protein" / "*.fa*")],
    )


@pytest.fixture(scope="module")
def protein_two_workers(shared_data, tmp_path_factory) -> Job:
    args = ["--source", "protein", "--input", str(shared_data / "protein" / "*.fa*"), *TWO_WORKERS]
    return _run(tmp_path_factory, "protein2", args)


def test_protein(protein):
    job = protein
    _assert_common(job)
    assert {d.lang for d in job.docs} == {"protein"}
    for doc in job.docs:
        assert doc.paragraphs == ((doc.paragraphs[0][0],),)
        assert PROTEIN_ALPHABET.issuperset(doc.paragraphs[0][0])
    c = job.counters
    assert c["input"] == 2100 + 500 + 5397 + 15
    # The 5,397 TEM-1 single mutants: identical ones are exact duplicates, the rest near ones.
    assert c["dropped_duplicate"] > 0 and c["dropped_near_duplicate"] > 5000
    esm = [d for d in job.docs if "P62593" in d.source_file]
    assert 0 < len(esm) < 100
    assert len([d for d in job.docs if "pyhmmer" in d.source_file]) > 2000


def test_deterministic_across_worker_counts(protein, protein_two_workers):
    assert protein.sha256s() == protein_two_workers.sha256s()
    assert protein.counters == protein_two_workers.counters


@pytest.fixture(scope="module")
def udhr(shared_data, tmp_path_factory) -> Job:
    args = ["--source", "text", "--text_format", "file", "--lang", "auto",
            "--input", str(shared_data / "multilingual" / "udhr2" / "*.txt")]  # fmt: skip
    return _run(tmp_path_factory, "udhr", args)


def test_udhr_languages_detected(udhr):
    job = udhr
    _assert_common(job)
    langs = {Path(d.source_file).stem: d.lang for d in job.docs}
    expected = {"eng": "en", "rus": "ru", "jpn": "ja", "arb": "ar", "hin": "hi", "cmn_hans": "zh",
                "cmn_hant": "zh", "tha": "th", "ell_monotonic": "el", "pes_1": "fa", "ukr": "uk"}  # fmt: skip
    assert {k: langs.get(k) for k in expected} == expected
    assert len(job.docs) == 22 and job.counters["input"] == 22  # kor and amh kept too
    jpn = next(d for d in job.docs if d.source_file.endswith("jpn.txt"))
    assert sum(s.endswith("。") for s in jpn.sentences) > 20
    tha = next(d for d in job.docs if d.source_file.endswith("tha.txt"))
    assert len(tha.sentences) > 50  # split at spaces: Thai has no sentence punctuation


@pytest.fixture(scope="module")
def tatoeba(shared_data, tmp_path_factory) -> Job:
    args = ["--source", "text", "--text_format", "tsv", "--lang", "auto",
            "--input", str(shared_data / "multilingual" / "tatoeba_nonascii_CC0_sample.tsv")]  # fmt: skip
    return _run(tmp_path_factory, "tatoeba", args)


def test_tatoeba(tatoeba):
    job = tatoeba
    _assert_common(job)
    c = job.counters
    assert c["input"] == 11553 and c["emitted"] > 11000
    assert c["dropped_duplicate"] > 0
    langs = {}
    for doc in job.docs:
        langs[doc.lang] = langs.get(doc.lang, 0) + 1
    # Hints win: ISO 639-3 "rus" becomes "ru"; Kabyle keeps "kab".
    assert langs["ru"] > 1900 and langs["kab"] > 1900 and langs["bn"] > 1900
    assert "rus" not in langs


RIVER = (
    "The river rises in the northern hills and flows south through a broad valley. Farmers "
    "along its banks grow wheat, barley and apples, and sell them in the market towns "
    "downstream. In spring the water runs high and fast, and the old stone bridges have been "
    "rebuilt several times after floods carried parts of them away. Fishermen still catch "
    "trout in the upper reaches, where the current is clear and cold."
)
MOUNTAIN = (
    "Climbers reach the summit by a long ridge from the west, a route first used by "
    "shepherds who drove their flocks to summer pastures above the tree line. The weather "
    "changes quickly at that height, so guides leave before dawn and turn back at noon. A "
    "small hut near the last spring offers shelter, blankets and a stove for anyone caught "
    "out by a storm."
)


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory) -> Job:
    src = tmp_path_factory.mktemp("bad_inputs")
    docs = [RIVER, RIVER, RIVER + " Told again by the miller.", MOUNTAIN]
    (src / "good.txt").write_text("\n\n".join(docs) + "\n")
    (src / "empty.txt").write_bytes(b"")
    (src / "junk.txt").write_bytes(bytes(range(256)) * 8)
    whole = bz2.compress("\n\n".join(f"{i} {MOUNTAIN}" for i in range(5000)).encode())
    (src / "cut.txt.bz2").write_bytes(whole[: len(whole) // 2])
    args = [
        "--source",
        "text",
        "--text_format",
        "blank_line",
        "--lang",
        "en",
        "--input",
        str(src / "*"),
    ]
    return _run(tmp_path_factory, "bad_out", args)


def test_bad_inputs_become_dead_letters_and_duplicates_go(bad_inputs):
    job = bad_inputs
    _assert_common(job)
    by_file = {os.path.basename(r["source_file"]): r["reason"] for r in job.rejected}
    assert by_file == {
        "empty.txt": "empty_file",
        "junk.txt": "binary_file",
        "cut.txt.bz2": "truncated_stream",
    }
    good = [d for d in job.docs if d.source_file.endswith("good.txt")]
    assert len(good) == 2
    c = job.counters
    assert c["dropped_duplicate"] == 1 and c["dropped_near_duplicate"] >= 1


def test_dataflow_dry_run_builds_without_touching_gcs():
    result = run([
        "--source", "wiki", "--input", "gs://bertcorpus-test/in/enwiki-*.xml.bz2",
        "--output", "gs://bertcorpus-test/out", "--runner=DataflowRunner", "--dry_run=True",
        "--project=bertcorpus-test", "--region=us-central1",
        "--temp_location=gs://bertcorpus-test/tmp", "--no_auth",
    ])  # fmt: skip
    assert result == {"dry_run": True}


def test_help_lists_our_flags():
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.clean", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in ("--source", "--input", "--output", "--lang", "--text_format", "--num_shards",
                 "--seed", "--min_chars", "--no_near_dedup"):  # fmt: skip
        assert flag in out


def test_config_from_flags():
    import argparse

    from pipeline.clean import add_clean_args, config_from_args

    parser = argparse.ArgumentParser()
    add_clean_args(parser)
    args = parser.parse_args(
        ["--source", "text", "--input", "x", "--output", "y", "--text_format", "file",
         "--min_chars", "none", "--min_words", "10", "--lang", "rus,en", "--no_near_dedup"]
    )  # fmt: skip
    cfg = config_from_args(args)
    assert cfg.quality.min_chars is None and cfg.quality.min_words == 10
    assert cfg.quality.max_words == 100_000  # preset value kept
    assert cfg.langid.langs == ("en", "ru")
    assert cfg.dedup.exact and not cfg.dedup.near
    assert json.loads(cfg.to_json())["reader"]["text_format"] == "file"
    assert config_from_args(parser.parse_args(["--source", "wiki", "--input", "x",
                                               "--output", "y", "--no_quality"])).quality is None  # fmt: skip
    with pytest.raises(SystemExit):
        config_from_args(parser.parse_args(["--source", "wiki"]))
