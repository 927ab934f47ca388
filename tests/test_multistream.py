"""Wiki multistream dumps: index, range planning, range reading, the ReadSource hook, and a
clean job that gives the same shards from byte ranges as from the whole file."""

from __future__ import annotations

import bz2
import dataclasses
import json
import re
import shutil
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.clean import run
from schemas.shards import read_manifest
from transforms.read.config import ReaderConfig
from transforms.read.files import INPUT_FILES
from transforms.read.multistream import (
    FAILED_RANGES,
    expand_multistream,
    index_path_for,
    plan_ranges,
    read_multistream_index,
    read_range,
)
from transforms.read.rawdoc import RawDoc
from transforms.read.sources import ReadSource, read_file
from transforms.shared.accounting import STATS_FILE, CounterDict, Rejected

EN_WIKI = "wiki/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
NAME = "enwiki-20990101-pages-articles-multistream"
TWO_WORKERS = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
_PAGE_ID = re.compile(rb"<page>\s*<title>([^<]*)</title>\s*<ns>[^<]*</ns>\s*<id>(\d+)</id>")


@dataclasses.dataclass
class Multistream:
    dump: Path
    index: Path
    offsets: list[int]  # of the page streams
    page_ids: list[list[str]]  # per page stream
    index_text: str


def build_multistream(xml: bytes, folder: Path, pages_per_stream: int) -> Multistream:
    """Cut ``xml`` at line starts into header / pages / footer (so the decompressed bytes are
    the original's), compress the header, each group of pages and the footer as separate
    bz2 streams, and write the index beside the dump (real page ids and titles)."""
    starts = [xml.rfind(b"\n", 0, m.start()) + 1 for m in re.finditer(rb"<page>", xml)]
    footer = xml.rfind(b"\n", 0, xml.rindex(b"</mediawiki>")) + 1
    bounds = [*starts, footer]
    pages = [xml[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    groups = [pages[i : i + pages_per_stream] for i in range(0, len(pages), pages_per_stream)]
    folder.mkdir(parents=True, exist_ok=True)
    dump = folder / f"{NAME}.xml.bz2"
    offsets, ids, lines = [], [], []
    with dump.open("wb") as f:
        f.write(bz2.compress(xml[: starts[0]]))
        for group in groups:
            offsets.append(f.tell())
            metas = [_PAGE_ID.search(page).groups() for page in group]
            ids.append([pid.decode() for _, pid in metas])
            lines += [f"{offsets[-1]}:{pid.decode()}:{t.decode()}\n" for t, pid in metas]
            f.write(bz2.compress(b"".join(group)))
        f.write(bz2.compress(xml[footer:]))
    index = folder / f"{NAME}-index.txt.bz2"
    return Multistream(dump, index, offsets, ids, "".join(lines))


def write_index(ms: Multistream) -> None:
    ms.index.write_bytes(bz2.compress(ms.index_text.encode()))


@pytest.fixture(scope="module")
def xml(shared_data) -> bytes:
    return bz2.decompress((shared_data / EN_WIKI).read_bytes())


@pytest.fixture(scope="module")
def whole(shared_data):
    """read_file on the original dump: (items with source_file blanked, counters)."""
    count = CounterDict()
    items = list(read_file("wiki", str(shared_data / EN_WIKI), ReaderConfig(), count))
    return [dataclasses.replace(i, source_file="") for i in items], dict(count)


def _read_ranges(path: Path, streams_per_range: int):
    count, cfg = CounterDict(), ReaderConfig()
    ranges = expand_multistream(str(path), streams_per_range, count)
    items = [item for rng in ranges for item in read_range(rng, cfg, count)]
    return ranges, items, dict(count)


def _docs(items) -> list[RawDoc]:
    return [i for i in items if isinstance(i, RawDoc)]


# --- pure functions ------------------------------------------------------------------------


def test_plan_ranges():
    assert plan_ranges([10, 20, 30, 40, 50], 60, 2) == [(10, 30), (30, 50), (50, 60)]
    assert plan_ranges([10, 20, 30], 60, 1) == [(10, 20), (20, 30), (30, 60)]
    assert plan_ranges([10, 20, 30], 60, 100) == [(10, 60)]
    assert plan_ranges([0], 5, 1) == [(0, 5)]
    assert plan_ranges([], 60, 3) == []
    for bad in ([20, 10], [10, 10], [10, 60]):
        with pytest.raises(ValueError):
            plan_ranges(bad, 60, 1)
    with pytest.raises(ValueError):
        plan_ranges([10], 60, 0)


def test_index_path_and_index(tmp_path):
    assert index_path_for("gs://b/x/enwiki-1-pages-articles-multistream.xml.bz2") == (
        "gs://b/x/enwiki-1-pages-articles-multistream-index.txt.bz2"
    )
    assert index_path_for("/d/enwiki-1-pages-articles.xml.bz2") is None
    index = tmp_path / "i-multistream-index.txt.bz2"
    index.write_bytes(bz2.compress(b"700:12:A: b\n568:10:AccessibleComputing\n568:11:X\n\n"))
    assert read_multistream_index(str(index)) == [568, 700]
    index.write_bytes(bz2.compress(b"568:10:A\nno offset here\n"))
    with pytest.raises(ValueError):
        read_multistream_index(str(index))


def test_not_a_multistream_dump_is_read_whole(tmp_path, xml):
    count = CounterDict()
    assert expand_multistream(str(tmp_path / "x.xml.bz2"), 1, count) == []
    ms = build_multistream(xml, tmp_path, 50)  # no index written yet
    assert expand_multistream(str(ms.dump), 1, count) == []
    ms.index.write_bytes(b"not bz2")
    assert expand_multistream(str(ms.dump), 1, count) == []
    assert dict(count) == {}


# --- range reading == whole-file reading ---------------------------------------------------


@pytest.fixture(scope="module")
def ms7(xml, tmp_path_factory) -> Multistream:
    ms = build_multistream(xml, tmp_path_factory.mktemp("ms7"), 7)
    write_index(ms)
    return ms


@pytest.mark.parametrize("streams_per_range", [1, 3, 1000])
def test_ranges_read_like_the_whole_dump(ms7, whole, streams_per_range):
    ranges, items, counters = _read_ranges(ms7.dump, streams_per_range)
    n_streams = len(ms7.offsets)
    assert len(ranges) == -(-n_streams // streams_per_range)
    assert ranges[0].start == ms7.offsets[0] and ranges[-1].end == ms7.dump.stat().st_size
    assert [r.last for r in ranges] == [False] * (len(ranges) - 1) + [True]
    assert ranges[0].site.dbname == "enwiki" and ranges[0].site.lang == "en"
    assert {i.source_file for i in items} == {str(ms7.dump)}
    expected_items, expected_counters = whole
    assert [dataclasses.replace(i, source_file="") for i in items] == expected_items
    assert counters == expected_counters
    assert counters[INPUT_FILES] == 1 and counters["input"] == 206
    assert counters["dropped_redirect"] > 0 and counters["read_docs"] > 100


def test_multistream_file_also_reads_whole(ms7, whole):
    count = CounterDict()
    items = list(read_file("wiki", str(ms7.dump), ReaderConfig(), count))
    assert [dataclasses.replace(i, source_file="") for i in items] == whole[0]
    assert dict(count) == whole[1]


# --- a corrupt stream costs its range only -------------------------------------------------


@pytest.fixture(scope="module")
def corrupt(ms7, whole, tmp_path_factory) -> tuple[Path, int]:
    """ms7 copied with bytes flipped inside the first odd page stream (the second of its
    range at 2 streams per range) that holds an article; returns (dump, stream index)."""
    folder = tmp_path_factory.mktemp("corrupt")
    dump = folder / ms7.dump.name
    shutil.copy(ms7.index, folder / ms7.index.name)
    data = bytearray(ms7.dump.read_bytes())
    doc_ids = {d.doc_id for d in _docs(whole[0])}
    k = next(
        k
        for k in range(1, len(ms7.offsets) - 1, 2)
        if any(f"wiki:enwiki:{pid}" in doc_ids for pid in ms7.page_ids[k])
    )
    middle = (ms7.offsets[k] + ms7.offsets[k + 1]) // 2
    for i in range(middle, middle + 16):
        data[i] ^= 0xFF
    dump.write_bytes(bytes(data))
    return dump, k


def test_corrupt_stream_is_one_dead_letter(ms7, whole, corrupt):
    dump, k = corrupt
    ranges, items, counters = _read_ranges(dump, 2)
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert len(rejected) == 1
    bad = ranges[k // 2]  # streams k-1 and k: k-1's pages are read, k's are lost
    assert rejected[0].source_file == str(dump)
    assert rejected[0].record_id == f"bytes={bad.start}-{bad.end}"
    assert rejected[0].reason == "corrupt_stream"
    assert f"bytes={bad.start}-{bad.end}" in rejected[0].detail
    assert counters[FAILED_RANGES] == 1 and counters[INPUT_FILES] == 1
    lost = set(ms7.page_ids[k])
    expected = [d for d in _docs(whole[0]) if d.metadata["page_id"] not in map(int, lost)]
    assert len(expected) < len(_docs(whole[0]))
    assert [dataclasses.replace(d, source_file="") for d in _docs(items)] == expected
    assert counters["input"] == 206 - len(lost)


def test_read_source_spreads_ranges(ms7, corrupt, whole):
    dump, k = corrupt
    cfg = ReaderConfig(streams_per_range=2)
    options = test_pipeline.PipelineOptions(TWO_WORKERS)
    with beam.Pipeline(options=options) as p:
        docs, rejected = p | ReadSource("wiki", f"{ms7.dump},{dump}", cfg)
        ids = docs | beam.Map(lambda d: (d.source_file, d.doc_id))
        reasons = rejected | beam.Map(lambda r: _reason_and_kind(json.loads(r)))
        assert_that(reasons, equal_to([("corrupt_stream", "bytes=")]), label="dead_letters")
        n_good = len(_docs(whole[0]))
        counts = ids | beam.combiners.Count.PerKey()
        assert_that(
            counts,
            equal_to([(str(ms7.dump), n_good), (str(dump), n_good - _lost_docs(ms7, whole, k))]),
            label="per_file",
        )


def _reason_and_kind(rejected: dict) -> tuple[str, str]:
    return rejected["reason"], rejected["record_id"][: len("bytes=")]


def _lost_docs(ms7: Multistream, whole, k: int) -> int:
    lost = {int(i) for i in ms7.page_ids[k]}
    return sum(d.metadata["page_id"] in lost for d in _docs(whole[0]))


# --- the clean job: same shards from ranges as from the whole file -------------------------


@pytest.fixture(scope="module")
def clean_runs(xml, tmp_path_factory):
    """One page per stream (206 streams -> 3 ranges at the default 100 per range). The
    plain run reads the same path before its index exists, so source_file is equal."""
    ms = build_multistream(xml, tmp_path_factory.mktemp("ms1"), 1)
    base = ["--source", "wiki", "--input", str(ms.dump), "--lang", "en"]

    def clean(name: str, extra: list[str]) -> Path:
        out = tmp_path_factory.mktemp(name) / "out"
        run([*base, *extra, "--output", str(out)])
        return out

    plain = clean("plain", [])
    write_index(ms)
    return ms, plain, clean("ranges1", []), clean("ranges2", TWO_WORKERS)


def test_clean_job_same_shards_from_ranges(clean_runs):
    ms, plain, *ranged = clean_runs
    assert len(plan_ranges(ms.offsets, ms.dump.stat().st_size, 100)) == 3

    def shas(out: Path) -> list[str]:
        return [s["sha256"] for s in read_manifest(str(out))["shards"]]

    expected = json.loads((plain / STATS_FILE).read_text())
    assert expected["ledger"]["balanced"] and expected["ledger"]["emitted"] > 100
    for out in ranged:
        assert shas(out) == shas(plain)
        stats = json.loads((out / STATS_FILE).read_text())
        assert stats["counters"] == expected["counters"]
        assert stats["counters"][INPUT_FILES] == 1
