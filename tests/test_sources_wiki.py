"""Wikipedia reading: wikitext -> paragraphs, the dump splitter, real dumps, bad input, HTTP."""

from __future__ import annotations

import bz2
import functools
import http.server
import json
import re
import shutil
import threading

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.read import wiki_split
from transforms.read.config import ReaderConfig
from transforms.read.files import FILE_RECORD_ID
from transforms.read.rawdoc import RawDoc
from transforms.read.sources import ReadSource, read_file
from transforms.read.wiki_split import split_pages
from transforms.read.wiki_xml import parse_siteinfo
from transforms.read.wikitext import wikitext_to_paragraphs
from transforms.shared.accounting import CounterDict, Rejected, counters_from_result

EN_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
DUMPS = {
    "en": EN_DUMP,
    "table": "enwiki-table-markup.xml.bz2",
    "bg": "bgwiki-latest-pages-articles-shortened.xml.bz2",
    "ja": "jawiki-20230501-pages-articles-first238pages.xml.bz2",
    "uk": "ukwiki-20230501-pages-articles-first300pages.xml.bz2",
}
MARKUP = re.compile(r"\{\{|\}\}|\[\[|\]\]|<ref|\|\}|\{\||__[A-Z]+__|&[a-z]+;|<!--")
CYRILLIC = re.compile(r"[\u0400-\u04FF]")
KANA_KANJI = re.compile(r"[\u3040-\u30FF\u4E00-\u9FFF]")


def _split(items):
    docs = [i for i in items if isinstance(i, RawDoc)]
    return docs, [i for i in items if isinstance(i, Rejected)]


def _read(path, cfg=None):
    count = CounterDict()
    docs, rejected = _split(list(read_file("wiki", str(path), cfg or ReaderConfig(), count)))
    return docs, rejected, dict(count)


def _record_ledger_balances(counters: dict) -> bool:
    out = counters.get("read_docs", 0) + counters.get("failed", 0)
    out += sum(v for k, v in counters.items() if k.startswith("dropped_"))
    return counters.get("input", 0) == out


# --- wikitext -> paragraphs (pure) ---------------------------------------------------------


@pytest.mark.parametrize(
    "wikitext, expected",
    [
        ("'''Foo''' is a [[bar|baz]] and [[qux]]es.<ref name=a>{{cite|x}}</ref> Next<ref name=b/>.",
         ["Foo is a baz and quxes. Next."]),
        ("{{Infobox|a={{nested|b}}|c=[[d|e]]}}Text {{lang|de|Erdkunde}} here.",
         ["Text Erdkunde here."]),
        ("A\n{| class=wikitable\n|-\n| cell || {{x}}\n{|\n| inner\n|}\n|}\nB", ["A", "B"]),
        ("[[File:X.jpg|thumb|A [[caption]] here]] Kept. [[Category:Foo]] [[fr:Foo]] "
         "[[:Category:Shown|shown]] [[wikt:word]]", ["Kept. shown word"]),
        ("A <!-- hidden --> B __NOTOC__ &nbsp;C &amp; D [http://x.org label] [http://y.org] "
         "<span style=x>E</span><br/>F", ["A B C & D label E F"]),
        ("<nowiki>{{not a template}}</nowiki> text.", ["not a template text."]),
        ("* item one\n* item [[two]]\n# num\n: indent\n; term",
         ["item one", "item two", "num", "indent", "term"]),
        ("line one\nline two\n\nnew para", ["line one line two", "new para"]),
        ("x ({{IPA|/a/}}) y", ["x y"]),
        ("'''''bold-italic''''' and L''''s", ["bold-italic and L's"]),
        ("[[Foo (band)|]] and [[Datei:Bild.png|mini]]", ["Foo and"]),
        ("A [[File:x.jpg|thumb|cap [[a|b]] [above] end]] B [[x [y] z]]", ["A B x [y] z"]),
        ("[[Файл:X.png|міні|Підпис]] Текст [[Категорія:Y]]", ["Текст"]),
        ("{{読み仮名_ruby不使用|'''地理学'''|ちりがく}}は学問。", ["地理学は学問。"]),
        ("{{math|{x}}} kept {{plain}} text", ["kept text"]),  # unbalanced: parser fallback
        ("", []),
        ("{{only template}}\n[[Category:X]]", []),
    ],
)  # fmt: skip
def test_wikitext_to_paragraphs(wikitext, expected):
    got = wikitext_to_paragraphs(wikitext)
    assert [p.replace("}", "").strip() for p in got] == expected
    assert all(not MARKUP.search(p) for p in got)


def test_headings_are_boundaries_and_stop_sections_drop_with_their_subsections():
    text = (
        "Intro.\n== History ==\nHist text.\n=== Sub ===\nSub text.\n== References ==\n"
        "Ref text.\n=== Refsub ===\nrefsub.\n== Later ==\nLater text.\n==External links==\n* x"
    )
    assert wikitext_to_paragraphs(text) == ["Intro.", "Hist text.", "Sub text.", "Later text."]


@pytest.mark.parametrize(
    "heading",
    ["脚注", "関連項目", "外部リンク", "Примітки", "Посилання", "Див. також", "Литература",
     "Бележки", "Източници", "Вижте също", "Външни препратки", "Einzelnachweise", "Weblinks",
     "Siehe auch", "Références", "Voir aussi", "Liens externes", "Referencias",
     "Véase también", "Enlaces externos", "Примечания", "Ссылки", "См. также", "See also",
     "Further reading", "Notes", "Bibliography", "Sources", "[[References]]", "References:"],
)  # fmt: skip
def test_stop_sections_in_many_languages(heading):
    text = f"Body text.\n== {heading} ==\nDropped line.\n* [[dropped item]]\n== Next ==\nKept."
    assert wikitext_to_paragraphs(text) == ["Body text.", "Kept."]


def test_siteinfo_namespaces_extend_dropped_link_prefixes():
    header = (
        b'<mediawiki xml:lang="xx"><siteinfo><dbname>xxwiki</dbname><namespaces>'
        b'<namespace key="6" case="first-letter">Fyl</namespace>'
        b'<namespace key="14" case="first-letter">Kat</namespace>'
        b'<namespace key="4" case="first-letter">Project</namespace>'
        b"</namespaces></siteinfo>"
    )
    site = parse_siteinfo(header)
    assert (site.dbname, site.lang) == ("xxwiki", "xx")
    assert {"fyl", "kat", "file", "category"} <= site.drop_namespaces
    assert "project" not in site.drop_namespaces
    text = "[[Fyl:a.png|thumb|cap]] Word [[Kat:B]] [[Project:Help|help]]"
    assert wikitext_to_paragraphs(text, drop_namespaces=site.drop_namespaces) == ["Word help"]


# --- the dump splitter ------------------------------------------------------------------------

_PAGE = b"<page><title>T%d</title><ns>0</ns><id>%d</id><revision><id>1</id><text>x</text></revision></page>\n"


def _events(data: bytes, chunk: int, limit=None):
    import io

    old = wiki_split._CHUNK
    wiki_split._CHUNK = chunk
    try:
        return list(split_pages(io.BytesIO(data), limit))
    finally:
        wiki_split._CHUNK = old


@settings(max_examples=40, deadline=None)
@given(chunk=st.integers(min_value=1, max_value=300), n=st.integers(min_value=0, max_value=5))
def test_split_pages_is_independent_of_chunk_size(chunk, n):
    body = b"".join(_PAGE % (i, i) for i in range(n))
    data = b"<mediawiki>\n  <siteinfo/>\n  " + body + b"</mediawiki>\n"
    events = _events(data, chunk)
    assert events == _events(data, 1 << 20)
    assert [k for k, _ in events] == ["header"] + ["page"] * n
    assert all(v.startswith(b"<page>") and v.endswith(b"</page>") for k, v in events[1:])


def test_split_pages_reports_unclosed_stray_too_large_and_truncation():
    big = b"<page><title>Big</title><ns>0</ns><id>9</id><text>" + b"w" * 500 + b"</text></page>"
    data = (
        b"<mediawiki>"
        + (_PAGE % (1, 1))
        + b"<page><title>Open</title>"  # never closed before the next <page>
        + (_PAGE % (2, 2))
        + b"junk between pages"
        + big
        + (_PAGE % (3, 3))
        + b"<page><title>Cut</title>"
    )
    kinds = [k for k, _ in _events(data, 64, limit=300)]
    assert kinds == [
        "header", "page", "unclosed", "page", "stray", "too_large", "page", "truncated", "no_end"
    ]  # fmt: skip


# --- real dumps -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dumps(shared_data):
    return {key: _read(shared_data / "wiki" / name) for key, name in DUMPS.items()}


def test_english_fragment_counters_exact(dumps):
    docs, rejected, counters = dumps["en"]
    assert counters == {"input_files": 1, "input": 206, "dropped_redirect": 100, "read_docs": 106}
    assert rejected == []
    assert len({d.doc_id for d in docs}) == 106
    anarchism = next(d for d in docs if d.title == "Anarchism")
    assert anarchism.doc_id == "wiki:enwiki:12" and anarchism.lang == "en"
    assert anarchism.metadata["page_id"] == 12 and anarchism.metadata["revision_id"]
    assert anarchism.paragraphs[0].startswith("Anarchism is a political philosophy")
    assert len(anarchism.paragraphs) > 50


@pytest.mark.parametrize("key", list(DUMPS))
def test_no_markup_survives_and_ledger_balances(dumps, key):
    docs, rejected, counters = dumps[key]
    assert docs and rejected == []
    assert _record_ledger_balances(counters)
    for doc in docs:
        assert doc.source == "wiki" and doc.title and doc.paragraphs
        for paragraph in doc.paragraphs:
            assert not MARKUP.search(paragraph), (doc.title, paragraph[:200])
            assert paragraph == paragraph.strip() and "\n" not in paragraph


@pytest.mark.parametrize(
    ("key", "script"), [("bg", CYRILLIC), ("uk", CYRILLIC), ("ja", KANA_KANJI)]
)
def test_scripts_of_other_languages(dumps, key, script):
    docs, _, _ = dumps[key]
    text = " ".join(p for d in docs for p in d.paragraphs)
    letters = [c for c in text if c.isalpha()]
    assert sum(bool(script.match(c)) for c in letters) > 0.7 * len(letters)
    assert all(d.lang == key for d in docs)


def test_utf16_bulgarian_dump_reads_with_title(dumps):
    docs, _, counters = dumps["bg"]
    assert counters["input"] == 3 and counters["read_docs"] == 1
    assert docs[0].title == "Григориански календар"
    assert docs[0].doc_id == "wiki:bgwiki:558"


def test_table_markup_file_without_siteinfo(dumps):
    docs, _, counters = dumps["table"]
    assert counters["read_docs"] == 5
    assert docs[0].doc_id.startswith("wiki:enwiki-table-markup:")
    for paragraph in (p for d in docs for p in d.paragraphs):
        assert not re.search(r"^[|!]|\|-|class=|style=|colspan|rowspan", paragraph), paragraph


# --- bad input ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def en_xml(shared_data) -> bytes:
    return bz2.decompress((shared_data / "wiki" / EN_DUMP).read_bytes())


def _file_reject(rejected):
    assert len(rejected) == 1 and rejected[0].record_id == FILE_RECORD_ID
    return rejected[0]


def test_truncated_bz2_keeps_pages_before_the_cut(tmp_path, en_xml):
    path = tmp_path / "cut.xml.bz2"
    path.write_bytes(bz2.compress(en_xml)[:800_000])
    docs, rejected, counters = _read(path)
    assert 0 < len(docs) < 106 and counters["failed_files"] == 1
    reject = _file_reject(rejected)
    assert reject.reason == "truncated_stream" and f"{len(docs)} documents" in reject.detail
    assert _record_ledger_balances(counters)


def test_stream_ending_inside_a_page_and_missing_end_tag(tmp_path, en_xml):
    cut = en_xml.index(b"<page>", 3_000_000) + 200
    (tmp_path / "mid.xml").write_bytes(en_xml[:cut])
    docs, rejected, counters = _read(tmp_path / "mid.xml")
    assert docs and _file_reject(rejected).reason == "truncated_file"
    assert _record_ledger_balances(counters)
    boundary = en_xml.rindex(b"</page>") + len(b"</page>")
    (tmp_path / "noend.xml").write_bytes(en_xml[:boundary])
    docs, rejected, _ = _read(tmp_path / "noend.xml")
    assert len(docs) == 106 and _file_reject(rejected).reason == "truncated_file"


def test_malformed_page_costs_only_that_page(tmp_path, en_xml):
    start = en_xml.index(b"<title>Anarchism</title>")
    text = en_xml.index(b"<text", start)
    bad = en_xml[:text] + b"<text>a <b> tag</wrong>" + en_xml[en_xml.index(b"</text>", text) + 7 :]
    (tmp_path / "bad.xml").write_bytes(bad)
    docs, rejected, counters = _read(tmp_path / "bad.xml")
    assert len(docs) == 105 and "Anarchism" not in {d.title for d in docs}
    assert [(r.reason, r.record_id) for r in rejected] == [("malformed_xml", "wiki:enwiki:12")]
    assert counters["failed"] == 1 and "failed_files" not in counters
    assert _record_ledger_balances(counters)
    assert json.loads(rejected[0].to_json())["source_file"].endswith("bad.xml")


def test_undecodable_bytes_fail_one_page(tmp_path, en_xml):
    pos = en_xml.index(b"<text", en_xml.index(b"<title>Autism</title>")) + 200
    (tmp_path / "bytes.xml").write_bytes(en_xml[:pos] + b"\xff\xfe\xc3(" + en_xml[pos:])
    docs, rejected, counters = _read(tmp_path / "bytes.xml")
    assert len(docs) == 105
    assert [r.reason for r in rejected] == ["undecodable"] and "Autism" in rejected[0].detail
    assert _record_ledger_balances(counters)


def test_fifty_megabyte_page_is_dead_lettered(tmp_path, en_xml):
    header = en_xml[: en_xml.index(b"<page>")]
    page = b"<page><title>%s</title><ns>0</ns><id>%d</id><revision><id>1</id><text>%s</text></revision></page>\n"
    path = tmp_path / "big.xml"
    with open(path, "wb") as f:
        f.write(header + page % (b"Before", 1, b"Kept [[text]]."))
        f.write(page % (b"Huge", 2, b"word " * 10_000_000))  # 50 MB
        f.write(page % (b"After", 3, b"Also kept.") + b"</mediawiki>\n")
    docs, rejected, counters = _read(path)
    assert [d.paragraphs for d in docs] == [("Kept text.",), ("Also kept.",)]
    assert [(r.reason, r.record_id) for r in rejected] == [("too_large", "wiki:enwiki:2")]
    assert counters == {"input_files": 1, "input": 3, "read_docs": 2, "failed": 1}


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.xml", b"", "empty_file"),
        ("empty.xml.bz2", bz2.compress(b""), "empty_file"),
        ("junk.xml", bytes(range(256)) * 40, "binary_file"),
        ("junk.xml.bz2", b"BZh9" + bytes(range(256)) * 4, "corrupt_stream"),
        ("text.xml", b"just some text, not XML\n" * 10, "not_xml"),
        ("other.xml", b"<?xml version='1.0'?><rss><item/></rss>", "not_mediawiki_xml"),
        ("nopages.xml", b"<mediawiki><siteinfo/></mediawiki>", "no_pages"),
    ],
)
def test_bad_files_become_one_file_level_dead_letter(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    docs, rejected, counters = _read(tmp_path / name)
    assert docs == [] and _file_reject(rejected).reason == reason
    assert counters == {"input_files": 1, "failed_files": 1}
    assert name in rejected[0].source_file


# --- HTTP and Beam --------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture(scope="module")
def http_wiki(shared_data):
    handler = functools.partial(_QuietHandler, directory=str(shared_data / "wiki"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_read_bz2_dump_over_http(http_wiki, dumps):
    docs, rejected, counters = _read(f"{http_wiki}/{EN_DUMP}")
    assert counters == dumps["en"][2] and rejected == []
    assert [d.paragraphs for d in docs] == [d.paragraphs for d in dumps["en"][0]]
    _, rejected, counters = _read(f"{http_wiki}/missing.xml.bz2")
    assert _file_reject(rejected).reason == "not_found"


def test_read_source_in_pipeline(tmp_path, shared_data, http_wiki):
    shutil.copy(shared_data / "wiki" / DUMPS["bg"], tmp_path / "bg.xml.bz2")
    (tmp_path / "junk.xml").write_bytes(b"\x00\x01" * 100)
    pattern = f"{http_wiki}/{EN_DUMP},{tmp_path}/*.xml*"
    with test_pipeline.TestPipeline() as p:
        docs, rejected = p | ReadSource("wiki", pattern, ReaderConfig(lang_hint="xx"))
        assert_that(
            docs
            | beam.Map(lambda d: (d.doc_id.split(":")[1], d.lang))
            | beam.combiners.Count.PerElement(),
            equal_to([(("enwiki", "xx"), 106), (("bgwiki", "xx"), 1)]),
            label="docs",
        )
        reasons = rejected | beam.Map(
            lambda j: (json.loads(j)["reason"], json.loads(j)["source_file"][-8:])
        )
        assert_that(reasons, equal_to([("binary_file", "junk.xml")]), label="rejected")
    counters = counters_from_result(p.result)
    assert counters["input_files"] == 3 and counters["failed_files"] == 1
    assert counters["input"] == 209 and counters["read_docs"] == 107
