"""Uncompressed wiki .xml dumps read as equal byte ranges: range planning, the <page> search,
range reading (the same docs, dead letters and counters as a whole-file read, wherever the cuts
fall), truncated files, the files that are read whole, the flag, and a clean job that gives the
same shards from byte ranges as from the whole file."""

from __future__ import annotations

import bz2
import codecs
import dataclasses
import hashlib
import io
import json
from pathlib import Path

import pytest

from pipeline.clean import run
from schemas.shards import read_manifest
from transforms.read import xml_ranges
from transforms.read.config import ReaderConfig
from transforms.read.files import FAILED_FILES, INPUT_FILES
from transforms.read.rawdoc import RawDoc
from transforms.read.sources import _SplitDumpFn, read_file
from transforms.read.xml_ranges import (
    FAILED_RANGES,
    XmlRange,
    expand_plain_xml,
    next_page_start,
    plan_equal_ranges,
    read_xml_header,
    read_xml_range,
)
from transforms.shared.accounting import STATS_FILE, CounterDict, Rejected

EN_WIKI = "wiki/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
TWO_WORKERS = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
MIB = 1 << 20

PROSE = (
    "The quick brown fox jumps over the lazy dog near the quiet river bank, and then it "
    "runs back home across the green fields before the evening rain begins to fall. "
)


def _page(title: str, pid: int, closed: bool = True) -> bytes:
    page = (
        f"  <page>\n    <title>{title}</title>\n    <ns>0</ns>\n    <id>{pid}</id>\n"
        f"    <revision>\n      <id>{pid}00</id>\n"
        f'      <text xml:space="preserve">{PROSE * 2}</text>\n    </revision>\n'
    )
    return (page + "  </page>\n" if closed else page).encode()


# Two good pages, a page with no </page> before the next <page> (malformed_xml), a good page,
# stray text between two pages (malformed_xml), two good pages.
SMALL_DUMP = (
    b'<mediawiki xml:lang="en">\n  <siteinfo>\n    <dbname>testwiki</dbname>\n  </siteinfo>\n'
    + _page("Alpha", 1)
    + _page("Beta", 2, closed=False)
    + _page("Gamma", 3)
    + b"  stray bytes outside any page\n"
    + _page("Delta", 4)
    + _page("Epsilon", 5)
    + b"</mediawiki>\n"
)


@pytest.fixture(scope="module")
def xml(shared_data) -> bytes:
    return bz2.decompress((shared_data / EN_WIKI).read_bytes())


@pytest.fixture(scope="module")
def xml_file(xml, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plain") / "x.xml"
    path.write_bytes(xml)
    return path


def _whole(path: Path, cfg: ReaderConfig = ReaderConfig()) -> tuple[list, dict]:
    count = CounterDict()
    items = list(read_file("wiki", str(path), cfg, count))
    return items, dict(count)


def _by_ranges(
    path: Path, max_bytes: int, cfg: ReaderConfig = ReaderConfig()
) -> tuple[list[XmlRange], list, dict]:
    count = CounterDict()
    ranges = expand_plain_xml(str(path), max_bytes, count)
    items = [item for rng in ranges for item in read_xml_range(rng, cfg, count)]
    return ranges, items, dict(count)


def _read(ranges: list[XmlRange]) -> tuple[list, dict]:
    count, cfg = CounterDict(), ReaderConfig()
    return [item for rng in ranges for item in read_xml_range(rng, cfg, count)], dict(count)


def _docs(items) -> list[RawDoc]:
    return [i for i in items if isinstance(i, RawDoc)]


def _rejected(items) -> list[Rejected]:
    return [i for i in items if isinstance(i, Rejected)]


# --- pure functions ------------------------------------------------------------------------


def test_plan_equal_ranges():
    assert plan_equal_ranges(10, 4) == [(0, 3), (3, 6), (6, 10)]
    assert plan_equal_ranges(10, 5) == [(0, 5), (5, 10)]
    assert plan_equal_ranges(10, 10) == [(0, 10)]
    assert plan_equal_ranges(10, 100) == [(0, 10)]
    assert plan_equal_ranges(11, 5) == [(0, 3), (3, 7), (7, 11)]
    assert plan_equal_ranges(3, 1) == [(0, 1), (1, 2), (2, 3)]
    assert plan_equal_ranges(0, 4) == []
    for bad in (0, -1):
        with pytest.raises(ValueError):
            plan_equal_ranges(10, bad)
    for size in (1, 2, 7, 99, 100, 101, 1000, 4097):
        for max_bytes in (1, 2, 3, 10, 64, 100, 5000):
            ranges = plan_equal_ranges(size, max_bytes)
            assert len(ranges) == -(-size // max_bytes)  # the fewest ranges
            assert ranges[0][0] == 0 and ranges[-1][1] == size
            assert all(a < b <= a + max_bytes for a, b in ranges)
            assert all(x[1] == y[0] for x, y in zip(ranges[:-1], ranges[1:], strict=True))
            lengths = [b - a for a, b in ranges]
            assert max(lengths) - min(lengths) <= 1  # equal


def test_next_page_start():
    t1 = MIB - 3  # the tag spans the first 1 MiB read
    data = b"a" * t1 + b"<page>" + b"b" * 100 + b"<page>" + b"c" * 10
    t2 = t1 + 6 + 100
    f = io.BytesIO(data)
    assert next_page_start(f, 0) == t1
    assert next_page_start(f, 5) == t1
    assert next_page_start(f, t1) == t1  # exactly on the tag
    assert next_page_start(f, t1 + 1) == t2
    assert next_page_start(f, t2) == t2
    assert next_page_start(f, t2 + 1) is None
    assert next_page_start(f, len(data)) is None
    assert next_page_start(io.BytesIO(b""), 0) is None
    assert next_page_start(io.BytesIO(b"x" * (MIB - 2) + b"<pag"), 0) is None
    assert next_page_start(io.BytesIO(b"<pages> <page"), 0) is None
    for pos in (0, 7):  # reads are 1 MiB from pos: tags before, across and after the boundary
        for k in range(-7, 2):
            at = pos + MIB + k
            f = io.BytesIO(b"x" * at + b"<page>" + b"y")
            assert next_page_start(f, pos) == at, (pos, k)


def test_read_xml_header(tmp_path, xml_file):
    site, size = read_xml_header(str(xml_file))
    assert size == xml_file.stat().st_size
    assert site.dbname == "enwiki" and site.lang == "en"
    small = tmp_path / "s.xml"
    small.write_bytes(codecs.BOM_UTF8 + SMALL_DUMP)
    site, size = read_xml_header(str(small))
    assert site.dbname == "testwiki" and size == len(SMALL_DUMP) + 3
    # a file that fits one range is not scanned for its header (it need not be split)
    assert read_xml_header(str(small), split_above=size) is None
    assert read_xml_header(str(small), split_above=size - 1) == (site, size)


# --- range reading == whole-file reading ---------------------------------------------------


@pytest.mark.parametrize("max_bytes", [MIB, 100_000, 7_777, 1_000])
def test_ranges_read_like_the_whole_dump(xml_file, max_bytes):
    items, counters = _whole(xml_file)
    ranges, ranged, ranged_counters = _by_ranges(xml_file, max_bytes)
    size = xml_file.stat().st_size
    assert [(r.start, r.end) for r in ranges] == plan_equal_ranges(size, max_bytes)
    assert [r.last for r in ranges] == [False] * (len(ranges) - 1) + [True]
    assert {r.path for r in ranges} == {str(xml_file)}
    assert ranges[0].site.dbname == "enwiki" and ranges[0].site.lang == "en"
    assert ranges[1].record_id == f"bytes={ranges[1].start}-{ranges[1].end}"
    assert len(_docs(items)) == 106 and not _rejected(items)
    assert ranged == items  # RawDocs, source_file included
    assert ranged_counters == counters
    assert counters[INPUT_FILES] == 1 and counters["input"] == 206


def test_ranges_skip_a_bom(xml, tmp_path):
    path = tmp_path / "bom.xml"
    path.write_bytes(codecs.BOM_UTF8 + xml)
    items, counters = _whole(path)
    assert len(_docs(items)) == 106
    for max_bytes in (MIB, 7_777):
        ranges, ranged, ranged_counters = _by_ranges(path, max_bytes)
        assert len(ranges) > 1
        assert ranged == items
        assert ranged_counters == counters


def test_pages_over_the_limit_read_like_the_whole_dump(xml_file):
    cfg = ReaderConfig(max_record_bytes=20_000)
    items, counters = _whole(xml_file, cfg)
    assert counters["failed"] > 5 and 10 < len(_docs(items)) < 106
    assert {r.reason for r in _rejected(items)} == {"too_large"}
    for max_bytes in (100_000, 7_777):
        _, ranged, ranged_counters = _by_ranges(xml_file, max_bytes, cfg)
        assert ranged == items
        assert ranged_counters == counters


@pytest.fixture(scope="module")
def small_whole(tmp_path_factory):
    """The hand-made dump read whole: two malformed_xml dead letters, four docs."""
    path = tmp_path_factory.mktemp("small") / "t.xml"
    path.write_bytes(SMALL_DUMP)
    items, counters = _whole(path)
    assert [d.doc_id for d in _docs(items)] == [f"wiki:testwiki:{i}" for i in (1, 3, 4, 5)]
    bad = _rejected(items)
    assert [(r.reason, r.record_id) for r in bad] == [
        ("malformed_xml", "wiki:testwiki:2"),
        ("malformed_xml", ""),  # the stray bytes: no page id, no title
    ]
    assert counters == {INPUT_FILES: 1, "input": 6, "read_docs": 4, "failed": 2}
    return path, items, counters


@pytest.mark.parametrize("bom", [False, True])
def test_every_range_size_on_a_malformed_dump(small_whole, tmp_path, bom):
    """Cuts on every kind of byte: header, tags, inside pages, the stray text, the footer."""
    path, items, counters = small_whole
    if bom:
        path = tmp_path / "t.xml"  # the same name: the same doc ids and record ids
        path.write_bytes(codecs.BOM_UTF8 + SMALL_DUMP)
        items, counters = _whole(path)
        assert len(_docs(items)) == 4 and len(_rejected(items)) == 2
    size = path.stat().st_size
    for max_bytes in [*range(1, size, 37), 2, 3, 4, 5, 6, 7, size - 1]:
        ranges, ranged, ranged_counters = _by_ranges(path, max_bytes)
        assert len(ranges) == -(-size // max_bytes)
        assert ranged == items, max_bytes
        assert ranged_counters == counters, max_bytes


def test_unclosed_page_at_the_end_of_a_range(small_whole):
    """A cut between the unclosed page's ``<page>`` and the next ``<page>``: the first range
    ends inside the unclosed page, which is malformed_xml as in the whole read, not a
    truncated file."""
    path, items, counters = small_whole
    first, second = expand_plain_xml(str(path), len(SMALL_DUMP) - 1, CounterDict())
    beta = SMALL_DUMP.index(b"<page>\n    <title>Beta")
    gamma = SMALL_DUMP.index(b"<page>", beta + 1)
    for cut in (beta + 1, (beta + gamma) // 2, gamma):
        ranged, ranged_counters = _read(
            [dataclasses.replace(first, end=cut), dataclasses.replace(second, start=cut)]
        )
        assert [(r.reason, r.record_id) for r in _rejected(ranged)] == [
            ("malformed_xml", "wiki:testwiki:2"),
            ("malformed_xml", ""),
        ], cut
        assert ranged == items, cut
        assert ranged_counters == {k: v for k, v in counters.items() if k != INPUT_FILES}, cut


def test_every_two_way_cut(small_whole):
    """Two ranges cut at every byte: on each ``<page>``, inside it, just before it."""
    path, items, counters = small_whole
    full = expand_plain_xml(str(path), len(SMALL_DUMP) - 1, CounterDict())
    assert len(full) == 2
    first, second = full
    counters = {k: v for k, v in counters.items() if k != INPUT_FILES}
    for cut in range(1, len(SMALL_DUMP)):
        ranges = [dataclasses.replace(first, end=cut), dataclasses.replace(second, start=cut)]
        ranged, ranged_counters = _read(ranges)
        assert ranged == items, cut
        assert ranged_counters == counters, cut


# --- truncated files -----------------------------------------------------------------------


@pytest.fixture(scope="module", params=["last_20_bytes", "mid_page", "no_footer"])
def truncated(request, xml, tmp_path_factory) -> Path:
    if request.param == "last_20_bytes":
        data = xml[:-20]
    elif request.param == "mid_page":
        data = xml[: xml.index(b"<page>", len(xml) // 2) + 300]
    else:  # ends after the last </page>: no </mediawiki>
        data = xml[: xml.rindex(b"</mediawiki>")]
    path = tmp_path_factory.mktemp(f"cut_{request.param}") / "x.xml"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("max_bytes", [100_000, 7_777])
def test_truncated_file_is_one_range_dead_letter(truncated, max_bytes):
    data = truncated.read_bytes()
    items, counters = _whole(truncated)
    whole_bad = _rejected(items)
    assert [r.reason for r in whole_bad] == ["truncated_file"]
    assert counters[FAILED_FILES] == 1 and 50 < len(_docs(items)) <= 106
    ranges, ranged, ranged_counters = _by_ranges(truncated, max_bytes)
    assert len(ranges) > 2
    assert _docs(ranged) == _docs(items)
    bad = _rejected(ranged)
    assert len(bad) == 1
    assert bad[0].reason == "truncated_file" and bad[0].source_file == str(truncated)
    last_page = data.rindex(b"<page>")  # the range of the file's last page reads to the end
    holder = next(r for r in ranges if r.start <= last_page < r.end)
    assert bad[0].record_id == f"bytes={holder.start}-{holder.end}"
    assert bad[0].record_id in bad[0].detail
    assert ranged_counters[FAILED_RANGES] == 1 and FAILED_FILES not in ranged_counters
    assert ranged_counters[INPUT_FILES] == 1
    rest = {k: v for k, v in ranged_counters.items() if k != FAILED_RANGES}
    assert rest == {k: v for k, v in counters.items() if k != FAILED_FILES}


# --- files read whole ----------------------------------------------------------------------


def test_files_read_whole(tmp_path, shared_data, xml_file):
    count = CounterDict()
    small = tmp_path / "t.xml"
    small.write_bytes(SMALL_DUMP)
    assert expand_plain_xml(str(small), len(SMALL_DUMP), count) == []  # not over max_bytes
    assert expand_plain_xml(str(shared_data / EN_WIKI), 1, count) == []  # compressed
    bz = tmp_path / "t.xml.bz2"
    bz.write_bytes(bz2.compress(SMALL_DUMP))
    assert expand_plain_xml(str(bz), 1, count) == []
    other = tmp_path / "t.txt"
    other.write_bytes(SMALL_DUMP)
    assert expand_plain_xml(str(other), 1, count) == []  # not .xml
    assert expand_plain_xml("http://example.invalid/t.xml", 1, count) == []
    assert expand_plain_xml("https://example.invalid/t.xml", 1, count) == []
    assert expand_plain_xml(str(tmp_path / "missing.xml"), 1, count) == []
    html = tmp_path / "page.xml"
    html.write_bytes(b"<html><body>" + b"<p>no pages here</p>\n" * 200 + b"</body></html>\n")
    assert expand_plain_xml(str(html), 100, count) == []  # not MediaWiki
    utf16 = tmp_path / "u16.xml"
    utf16.write_bytes(SMALL_DUMP.decode().encode("utf-16"))
    assert expand_plain_xml(str(utf16), 100, count) == []  # transcoded when read whole
    assert len(_docs(_whole(utf16)[0])) == 4
    assert dict(count) == {}
    assert len(expand_plain_xml(str(small), 100, count)) == -(-len(SMALL_DUMP) // 100)
    assert dict(count) == {INPUT_FILES: 1}


def test_upper_case_suffix_is_split(tmp_path, xml):
    path = tmp_path / "X.XML"
    path.write_bytes(xml)
    items, counters = _whole(path)
    ranges, ranged, ranged_counters = _by_ranges(path, MIB)
    assert len(ranges) == 6
    assert ranged == items and ranged_counters == counters
    assert len(_docs(items)) == 106


def test_split_dump_fn(xml_file, tmp_path):
    small = tmp_path / "t.xml"
    small.write_bytes(SMALL_DUMP)

    def split(path: Path, **cfg) -> list:
        fn = _SplitDumpFn(ReaderConfig(**cfg))
        fn.setup()
        return list(fn.process(str(path)))

    default = split(xml_file)  # 4 MiB ranges by default
    assert [(r.start, r.end) for r in default] == plan_equal_ranges(
        xml_file.stat().st_size, 4 * MIB
    )
    assert len(split(xml_file, xml_range_bytes=MIB)) == 6
    assert split(xml_file, xml_range_bytes=0) == [str(xml_file)]
    assert split(small) == [str(small)]


def test_xml_range_mb_flag():
    from pipeline.clean import add_clean_args, config_from_args
    from pipeline.job import parse_job_args

    def cfg(*flags: str) -> ReaderConfig:
        base = ["--source", "wiki", "--input", "x.xml", "--output", "out"]
        args, _ = parse_job_args([*base, *flags], prog="t", doc="", add_args=add_clean_args)
        return config_from_args(args).reader

    assert cfg().xml_range_bytes == 4 * MIB == ReaderConfig().xml_range_bytes
    assert cfg("--xml_range_mb", "1.5").xml_range_bytes == 3 * MIB // 2
    assert cfg("--xml_range_mb", "0").xml_range_bytes == 0
    with pytest.raises(ValueError, match="xml_range_bytes"):
        cfg("--xml_range_mb", "-1")


# --- the clean job: same shards from ranges as from the whole file -------------------------


@pytest.fixture(scope="module")
def clean_runs(xml_file, tmp_path_factory):
    """All runs read the same path, so source_file is equal. The one-process ranged run also
    records the ranges its reader was given (two-worker processes do not see the patch)."""
    base = ["--source", "wiki", "--input", str(xml_file), "--lang", "en"]
    read_ranges: list[str] = []
    original = xml_ranges.read_xml_range

    def recording(rng, cfg, count):
        read_ranges.append(rng.record_id)
        return original(rng, cfg, count)

    def clean(name: str, extra: list[str]) -> Path:
        out = tmp_path_factory.mktemp(name) / "out"
        run([*base, *extra, "--output", str(out)])
        return out

    whole = clean("whole", ["--xml_range_mb", "0"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(xml_ranges, "read_xml_range", recording)
        ranges1 = clean("ranges1", ["--xml_range_mb", "1"])
    ranges2 = clean("ranges2", ["--xml_range_mb", "1", *TWO_WORKERS])
    return whole, sorted(read_ranges), [ranges1, ranges2]


def test_clean_job_same_shards_from_ranges(clean_runs, xml_file):
    whole, read_ranges, ranged = clean_runs
    planned = plan_equal_ranges(xml_file.stat().st_size, MIB)
    assert len(planned) == 6
    assert read_ranges == sorted(f"bytes={a}-{b}" for a, b in planned)

    def shas(out: Path) -> list[str]:
        return [s["sha256"] for s in read_manifest(str(out))["shards"]]

    def file_shas(out: Path) -> dict[str, str]:
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.glob("docs-*.arrow")
        }

    expected = json.loads((whole / STATS_FILE).read_text())
    assert expected["ledger"]["balanced"] and expected["ledger"]["emitted"] > 100
    assert len(file_shas(whole)) == 16
    for out in ranged:
        assert shas(out) == shas(whole)
        assert file_shas(out) == file_shas(whole)
        stats = json.loads((out / STATS_FILE).read_text())
        assert stats["counters"]["input"] == expected["counters"]["input"] == 206
        assert stats["counters"]["emitted"] == expected["counters"]["emitted"]
        assert stats["counters"] == expected["counters"]
        assert stats["counters"][INPUT_FILES] == 1


def test_docs_name_the_file_read(tmp_path, xml_file):
    """A copy under another .xml name reads the same docs but names its own source_file."""
    copy = tmp_path / "y.xml"
    copy.write_bytes(xml_file.read_bytes())
    _, items, _ = _by_ranges(copy, MIB)
    assert {d.source_file for d in _docs(items)} == {str(copy)}
    assert [dataclasses.replace(d, source_file="") for d in _docs(items)] == [
        dataclasses.replace(d, source_file="") for d in _docs(_whole(xml_file)[0])
    ]
