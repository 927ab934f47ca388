"""``pipeline.clean --keep_dropped``: the exclusion writer, its sampling and its bookkeeping.

Real clean jobs on a small JSONL fixture with one drop of each kind, read back with pyarrow.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from pipeline.clean import run
from schemas.shards import open_shard_set
from transforms.clean.dedup import duplicate_drops, exact_matches, near_matches
from transforms.read.rawdoc import RawDoc
from transforms.shared.accounting import DROPPED_PREFIX, CounterDict, DropRecorder
from transforms.shared.exclusions import (
    DROPPED_DIR,
    DROPPED_DOCUMENT_SCHEMA,
    WRITTEN_PREFIX,
    KeepDropped,
    exclusion_stats,
)

TWO_WORKERS = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
STEPS = ("normalize", "quality", "langid", "dedup", "sentences")

LIGHTHOUSE = (
    "The old lighthouse stood on a rocky point at the edge of the harbour, and for more than a "
    "century its keepers climbed the narrow stairs every evening to light the lamp. Sailors "
    "returning from long voyages looked for its steady beam before anything else, because it "
    "told them that the dangerous reefs lay to the north and that safe water waited just beyond "
    "the breakwater. Today the lamp runs by itself, yet visitors still walk out along the path "
    "to watch the sunset from its gallery."
)
BREAD = (
    "Bread has been baked in almost every culture that grows grain, and the basic method has "
    "changed surprisingly little over thousands of years. Flour is mixed with water and a "
    "little salt, yeast or a sour starter makes the dough rise, and heat turns the soft mass "
    "into a crust with a tender crumb inside. Bakers in small villages often rose before dawn so "
    "that families could buy warm loaves on their way to work, and many towns still keep that "
    "habit alive in their markets."
)
BIRDS = (
    "Migrating birds travel remarkable distances each spring and autumn, guided by the position "
    "of the sun, the pattern of the stars and even the magnetic field of the earth. Some small "
    "songbirds cross entire deserts and seas without stopping, burning the fat they stored "
    "during weeks of careful feeding. Scientists attach tiny trackers to learn where they rest "
    "along the way, and the results have shown that protecting a few key wetlands can help "
    "whole populations survive the journey."
)
VILLAGE = (
    "Le petit village se trouve au bord d'une rivière tranquille, entouré de champs de blé et "
    "de forêts profondes. Chaque samedi, les habitants se retrouvent sur la place du marché pour "
    "acheter des légumes frais, du fromage et du pain encore chaud. Les enfants jouent près de "
    "la fontaine pendant que leurs parents discutent des nouvelles de la semaine, et le soir, "
    "tout le monde rentre chez soi en écoutant les cloches de l'église qui sonnent au loin."
)
# Line n of the fixture is doc_id text:fixture:n.
RECORDS = (
    LIGHTHOUSE,  # 1 kept
    BREAD,  # 2 kept
    BIRDS,  # 3 kept
    "Far too short to keep.",  # 4 quality: too_short
    VILLAGE,  # 5 langid: wrong_lang (fr)
    LIGHTHOUSE.upper().replace(",", ";"),  # 6 dedup: exact (and near) duplicate of 1
    BREAD + " Everyone agrees.",  # 7 dedup: near duplicate of 2
    "\u200b\u200b\u200b",  # 8 normalize: empty_after_normalize (invisible characters only)
)
# doc_id -> (step, drop_reason, other_drop_reasons, duplicate_of, lang)
EXPECTED = {
    "text:fixture:4": ("quality", "too_short", [], None, "und"),
    "text:fixture:5": ("langid", "wrong_lang", [], None, "fr"),
    "text:fixture:6": ("dedup", "duplicate", ["near_duplicate"], "text:fixture:1", "en"),
    "text:fixture:7": ("dedup", "near_duplicate", [], "text:fixture:2", "en"),
    "text:fixture:8": ("normalize", "empty_after_normalize", [], None, "und"),
}


class Job:
    """A finished clean run: stats, kept document shards and the dropped rows per step."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.stats = json.loads((out / "stats.json").read_text())
        self.counters = self.stats["counters"]
        self.manifest = json.loads((out / "manifest.json").read_text())
        self.dropped: dict[str, list[dict]] = {}
        self.dropped_sha256: dict[str, list[str]] = {}
        for step in STEPS:
            folder = out / DROPPED_DIR / step
            if folder.is_dir():
                manifest, tables = open_shard_set(str(folder), schema=DROPPED_DOCUMENT_SCHEMA)
                self.dropped[step] = [row for t in tables for row in t.to_pylist()]
                self.dropped_sha256[step] = [s["sha256"] for s in manifest["shards"]]

    def dropped_rows(self) -> list[dict]:
        return [row for rows in self.dropped.values() for row in rows]

    def kept_bytes(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(self.out.glob("docs-*.arrow"))}


@pytest.fixture(scope="module")
def fixture_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("input") / "fixture.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in RECORDS), encoding="utf-8")
    return path


def _clean(tmp_path_factory, fixture_file: Path, name: str, *flags: str) -> Job:
    out = tmp_path_factory.mktemp(name) / "out"
    args = ["--source", "text", "--text_format", "jsonl", "--input", str(fixture_file)]
    run([*args, "--output", str(out), "--lang", "en", "--num_shards", "2", *flags])
    return Job(out)


@pytest.fixture(scope="module")
def off(tmp_path_factory, fixture_file) -> Job:
    return _clean(tmp_path_factory, fixture_file, "off")


@pytest.fixture(scope="module")
def on(tmp_path_factory, fixture_file) -> Job:
    return _clean(tmp_path_factory, fixture_file, "on", "--keep_dropped")


@pytest.fixture(scope="module")
def sampled(tmp_path_factory, fixture_file) -> list[Job]:
    flags = ("--keep_dropped", "0.5", "--seed", "0")
    return [
        _clean(tmp_path_factory, fixture_file, "sample1", *flags),
        _clean(tmp_path_factory, fixture_file, "sample2", *flags),
        _clean(tmp_path_factory, fixture_file, "sample_workers", *flags, *TWO_WORKERS),
    ]


def test_every_dropped_document_is_written_with_its_reason(on):
    rows = on.dropped_rows()
    got = {
        r["doc_id"]: (
            r["drop_step"],
            r["drop_reason"],
            r["other_drop_reasons"],
            r["duplicate_of"],
            r["lang"],
        )
        for r in rows
    }
    assert got == EXPECTED and len(rows) == len(EXPECTED)
    for step, step_rows in on.dropped.items():
        assert all(r["drop_step"] == step for r in step_rows)
    assert on.dropped["sentences"] == []  # an empty step still writes its manifest
    by_id = {r["doc_id"]: r for r in rows}
    # Written as the dropping rule saw it: text kept, normalised from quality on.
    assert by_id["text:fixture:5"]["paragraphs"] == [[VILLAGE]]
    assert by_id["text:fixture:4"]["num_chars"] == len("Far too short to keep.")
    assert json.loads(by_id["text:fixture:7"]["metadata"]) == {"line": 7}


def test_written_counts_equal_the_drop_counters(on):
    reasons = [r["drop_reason"] for r in on.dropped_rows()]
    drops, written = (
        {k.removeprefix(prefix): v for k, v in on.counters.items() if k.startswith(prefix)}
        for prefix in (DROPPED_PREFIX, WRITTEN_PREFIX)
    )
    assert drops == {reason: reasons.count(reason) for reason in set(reasons)} == written
    assert on.stats["dropped_written"] == len(reasons) == 5
    assert on.stats["dropped_dir"] == str(on.out / DROPPED_DIR)
    assert on.stats["dropped_by_reason"] == {
        r: {"dropped": n, "written": n} for r, n in drops.items()
    }


def test_the_flag_changes_no_ledger_and_no_kept_byte(off, on):
    assert not (off.out / DROPPED_DIR).exists()
    assert "dropped_dir" not in off.stats
    assert not any(k.startswith(WRITTEN_PREFIX) for k in off.counters)
    assert off.stats["ledger"] == on.stats["ledger"] and on.stats["ledger"]["balanced"]
    assert on.stats["ledger"]["emitted"] == 3
    assert {
        k: v for k, v in on.counters.items() if not k.startswith(WRITTEN_PREFIX)
    } == off.counters
    assert off.kept_bytes() == on.kept_bytes() and len(off.kept_bytes()) > 0
    assert [s["sha256"] for s in off.manifest["shards"]] == [
        s["sha256"] for s in on.manifest["shards"]
    ]


def test_a_sample_is_the_same_on_every_run_and_worker_count(sampled):
    keep = KeepDropped(output_dir="unused", fraction=0.5, seed=0)
    expected = {doc_id for doc_id in EXPECTED if keep.keeps(doc_id)}
    assert 0 < len(expected) < len(EXPECTED)  # a real sample: neither none nor all
    for job in sampled:
        assert {r["doc_id"] for r in job.dropped_rows()} == expected
        assert job.stats["dropped_written"] == len(expected)
        assert job.stats["ledger"] == sampled[0].stats["ledger"]
    # Byte-identical dropped shards on 1 and 2 workers.
    assert sampled[0].dropped_sha256 == sampled[1].dropped_sha256 == sampled[2].dropped_sha256


def test_flag_values():
    from pipeline.clean import add_clean_args, config_from_args
    from pipeline.job import parse_job_args

    def keep(*flags: str) -> KeepDropped | None:
        base = ["--source", "text", "--input", "in.txt", "--output", "out", "--seed", "7"]
        args, _ = parse_job_args([*base, *flags], prog="t", doc="", add_args=add_clean_args)
        return config_from_args(args).keep_dropped

    assert keep() is None
    assert keep("--keep_dropped") == KeepDropped(output_dir="out/dropped", seed=7)
    assert keep("--keep_dropped", "0.1", "--lang", "en").fraction == 0.1
    for bad in ("0", "1.5", "x"):
        with pytest.raises(SystemExit):
            keep("--keep_dropped", bad)


# --- pure parts ------------------------------------------------------------------------------


def test_sample_fraction_within_binomial_bounds():
    n, fraction = 20_000, 0.1
    keep = KeepDropped(output_dir="x", fraction=fraction, seed=3)
    kept = sum(keep.keeps(f"doc{i}") for i in range(n))
    sd = (n * fraction * (1 - fraction)) ** 0.5
    assert abs(kept - n * fraction) < 4 * sd
    other_seed = KeepDropped(output_dir="x", fraction=fraction, seed=4)
    assert [keep.keeps(f"doc{i}") for i in range(500)] != [
        other_seed.keeps(f"doc{i}") for i in range(500)
    ]
    with pytest.raises(ValueError, match="fraction"):
        KeepDropped(output_dir="x", fraction=0.0)


def test_drop_recorder_notes_only_drops_of_the_current_record():
    counts = CounterDict()
    recorder = DropRecorder(counts)
    recorder("lang_hint_overridden")
    recorder("dropped_wrong_lang")
    assert recorder.take() == ("wrong_lang",) and recorder.take() == ()
    assert counts == {"lang_hint_overridden": 1, "dropped_wrong_lang": 1}


def test_duplicate_matches_name_the_kept_document():
    assert exact_matches(["c", "a", "b", "a"]) == [("b", "a"), ("c", "a")]
    ones, twos = np.ones(8, np.uint32), np.full(8, 2, np.uint32)
    mixed = np.array([1, 1, 1, 1, 1, 1, 1, 2], np.uint32)
    members = [("b", twos.tobytes()), ("a", ones.tobytes()), ("c", mixed.tobytes())]
    assert near_matches(members, 0.8) == [("c", "a")]
    doc = RawDoc(doc_id="x", source="text", paragraphs=("p",))
    twin = RawDoc(doc_id="x", source="text", paragraphs=("q",))
    marks = [("near", "m"), ("exact", "k"), ("near", "b")]
    assert duplicate_drops("x", [twin, doc], marks) == [
        (twin, ("duplicate",), "x"),
        (doc, ("duplicate", "near_duplicate"), "k"),
    ]
    assert duplicate_drops("x", [doc], [("near", "m"), ("near", "b")]) == [
        (doc, ("near_duplicate",), "b")
    ]
    assert duplicate_drops("x", [doc], []) == []


def test_exclusion_stats_lists_reader_drops_as_not_written():
    counters = {"dropped_redirect": 4, "dropped_too_short": 2, "keep_dropped_too_short": 1}
    keep = KeepDropped(output_dir="out/dropped", fraction=0.5)
    assert exclusion_stats(counters, keep) == {
        "dropped_dir": "out/dropped",
        "keep_dropped": 0.5,
        "dropped_written": 1,
        "dropped_by_reason": {
            "redirect": {"dropped": 4, "written": 0},
            "too_short": {"dropped": 2, "written": 1},
        },
    }
    assert exclusion_stats(counters, None) == {}


def test_schema_is_the_document_schema_plus_the_drop_columns():
    from schemas.document import DOCUMENT_SCHEMA

    assert DROPPED_DOCUMENT_SCHEMA.names[: len(DOCUMENT_SCHEMA)] == DOCUMENT_SCHEMA.names
    assert DROPPED_DOCUMENT_SCHEMA.names[len(DOCUMENT_SCHEMA) :] == [
        "drop_reason",
        "other_drop_reasons",
        "drop_step",
        "duplicate_of",
    ]
    assert isinstance(DROPPED_DOCUMENT_SCHEMA.field("other_drop_reasons").type, pa.ListType)
