"""Wiki dumps at the edges of the export schema, on the real files of ../shared/data/more/wiki
(SOURCES.md §9): an export-0.3 history dump without <ns>, an export-0.10 history dump, the
deliberately broken zhwiki pages, the export-0.11 aawiki dump with no articles, and the he/fa
dbpedia minidumps whose siteinfo says English."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from pipeline.clean import run
from schemas.document import DOCUMENT_SCHEMA, Doc
from schemas.shards import open_shard_set
from transforms.clean.langid import LangIdConfig, choose_lang, identify_language, load_identifier
from transforms.clean.scripts import script_counts
from transforms.read.config import ReaderConfig
from transforms.read.rawdoc import RawDoc
from transforms.read.sources import read_file
from transforms.read.wiki_page import namespace_of_title
from transforms.shared.accounting import REJECTED_DIR, STATS_FILE, CounterDict, Rejected

WIKI = "more/wiki"
PEAR = f"{WIKI}/history/enwiki-Pear-4revisions-export03.xml"
PAIR = f"{WIKI}/history/enwiki-Pair-2pages-2revisions-export010.xml"
AAWIKI = f"{WIKI}/aawiki-20260101-pages-meta-current.xml.bz2"
HE, FA = f"{WIKI}/he-dbpedia-minidump.xml.bz2", f"{WIKI}/fa-dbpedia-minidump.xml.bz2"
BROKEN = f"{WIKI}/malformed/zhwiki-broken-{{}}.xml"


def _read(path) -> tuple[list[RawDoc], list[Rejected], dict]:
    count = CounterDict()
    items = list(read_file("wiki", str(path), ReaderConfig(), count))
    docs = [i for i in items if isinstance(i, RawDoc)]
    return docs, [i for i in items if isinstance(i, Rejected)], dict(count)


def _balanced(counters: dict) -> bool:
    out = counters.get("read_docs", 0) + counters.get("failed", 0)
    return counters["input"] == out + sum(
        v for k, v in counters.items() if k.startswith("dropped_")
    )


# --- history dumps: the newest revision, once ---------------------------------------------


def test_export03_page_without_ns_is_read_once_from_its_latest_revision(shared_data):
    docs, rejected, counters = _read(shared_data / PEAR)
    assert counters == {"input_files": 1, "input": 1, "read_docs": 1} and rejected == []
    (pear,) = docs
    assert (pear.title, pear.lang, pear.metadata["page_id"]) == ("Pear", "en", 24278)
    assert pear.metadata["revision_id"] == "188924"  # the 4th of 4
    text = "\n".join(pear.paragraphs)
    assert "Fruit tree propagation" in text  # only the last revision fixed "propogation"
    assert "propogation" not in text and text.count("Pears are trees") == 1


def _pear_variant(shared_data, tmp_path, title: bytes, reverse: bool = False):
    xml = (shared_data / PEAR).read_bytes().replace(b"<title>Pear</title>", title)
    if reverse:  # the schema promises no order: the newest timestamp must still win
        head, rest = xml.split(b"<revision>", 1)
        body, tail = rest.rsplit(b"</revision>", 1)
        revisions = body.split(b"</revision>")
        parts = [r.split(b"<revision>", 1)[-1] for r in revisions]
        xml = head + b"".join(b"<revision>" + p + b"</revision>" for p in parts[::-1]) + tail
    path = tmp_path / "pear.xml"
    path.write_bytes(xml)
    return _read(path)


def test_newest_revision_wins_whatever_the_order(shared_data, tmp_path):
    (pear,), _, _ = _pear_variant(shared_data, tmp_path, b"<title>Pear</title>", reverse=True)
    assert pear.metadata["revision_id"] == "188924"


@pytest.mark.parametrize(
    ("title", "dropped"),
    [(b"Talk:Pear", True), (b"Wikipedia talk:Pear", True), (b"Image:Pear.jpg", True),
     (b"Portal talk:Pear", True), (b"Star Trek: Pear", False), (b"Pear:Fruit", False)],
)  # fmt: skip
def test_export03_namespace_comes_from_the_title_prefix(shared_data, tmp_path, title, dropped):
    docs, _, counters = _pear_variant(shared_data, tmp_path, b"<title>%s</title>" % title)
    assert (counters.get("dropped_namespace") == 1) is dropped and len(docs) == (not dropped)


def test_namespace_of_title_prefers_the_dumps_own_names():
    site = {"diskussion": 1, "benutzer": 2, "datei": 6, "datei diskussion": 7}
    assert namespace_of_title("Diskussion:Birne", site) == 1
    assert namespace_of_title("Datei_Diskussion:Birne.jpg", site) == 7  # underscores are spaces
    assert namespace_of_title("Benutzer talk:Birne", site) == 3  # "X talk" of a known X
    assert namespace_of_title("user talk:Birne", site) == 3  # canonical names always hold
    assert namespace_of_title("Birne", site) == namespace_of_title("Birne: Sorten", site) == 0


def test_export010_history_gives_the_newest_article_revision(shared_data):
    docs, rejected, counters = _read(shared_data / PAIR)
    assert rejected == [] and counters["dropped_namespace"] == 1 and counters["read_docs"] == 1
    (article,) = docs
    assert article.title == "Çullu, Agdam" and article.metadata["page_id"] == 19252820
    assert article.metadata["revision_id"] == "237383099"
    assert article.metadata["timestamp"] == "2008-09-09T22:41:28Z"


# --- broken pages: a precise dead letter, the intact pages still counted -------------------


@pytest.mark.parametrize(
    ("n", "reason", "detail"),
    [(1, "missing_title", "page id 13 has no <title>"),
     (2, "missing_ns", "page '数学' (id 13) has no <ns> (required from export-0.6 on)"),
     (3, "missing_text", "page '数学' (id 13) has no <text> in its newest revision"),
     (4, None, None)],
)  # fmt: skip
def test_broken_zhwiki_pages(shared_data, n, reason, detail):
    docs, rejected, counters = _read(shared_data / BROKEN.format(n))
    assert docs == [] and counters["input"] == 3 and counters["dropped_namespace"] == 2
    assert _balanced(counters)
    if reason is None:  # an empty self-closing <text/> is a valid, blanked page
        assert counters["dropped_empty"] == 1 and rejected == []
        return
    (letter,) = rejected
    assert counters["failed"] == 1
    assert (letter.record_id, letter.reason, letter.detail) == ("wiki:zhwiki:13", reason, detail)
    assert letter.source_file.endswith(f"zhwiki-broken-{n}.xml") and "<page>" in letter.excerpt


def test_aawiki_export011_has_no_article_and_every_page_counted(shared_data):
    docs, rejected, counters = _read(shared_data / AAWIKI)
    assert docs == [] and rejected == []
    assert counters == {
        "input_files": 1, "input": 507, "dropped_namespace": 487, "dropped_redirect": 19,
        "dropped_empty": 1,  # the blanked Main Page, <text bytes="0" .../>
    }  # fmt: skip


# --- language: the text wins over a wrong dump language ------------------------------------


@pytest.fixture(scope="module")
def identifier():
    return load_identifier()


@pytest.mark.parametrize(("path", "lang"), [(HE, "he"), (FA, "fa")])
def test_rtl_minidumps_with_english_siteinfo_are_labelled_by_their_text(
    shared_data, identifier, path, lang
):
    (doc,), _, _ = _read(shared_data / path)
    assert doc.lang == "en"  # what the generic siteinfo says
    count = CounterDict()
    assert identify_language(doc, LangIdConfig(), identifier, count).lang == lang
    assert count == {"lang_hint_overridden": 1, f"lang_hint_overridden_en_to_{lang}": 1}


def test_chinese_pages_under_an_english_hint(shared_data, identifier):
    """Every real zhwiki article (Latin glosses in 11-26% of its letters) is labelled zh
    under a wrong "en" hint, and none is overridden under its own dump's "zh"."""
    docs, _, _ = _read(shared_data / WIKI / "zhwiki-test-pages.xml")
    count = CounterDict()
    assert {identify_language(d, LangIdConfig(), identifier, count).lang for d in docs} == {"zh"}
    assert count == {}
    relabelled = [dataclasses.replace(d, lang="en") for d in docs]
    langs = [identify_language(d, LangIdConfig(), identifier, count).lang for d in relabelled]
    assert langs == ["zh"] * len(docs) == ["zh"] * 23
    assert count == {"lang_hint_overridden": 23, "lang_hint_overridden_en_to_zh": 23}


def test_script_evidence_policy():
    known = frozenset({"en", "ja", "zh", "he", "ru", "uk", "fr"})
    cfg = LangIdConfig()
    hebrew = script_counts("ברלין היא בירת גרמניה והעיר הגדולה ביותר בה " * 3 + "Berlin")
    assert choose_lang("en", "he", 0.95, 150, known, cfg, hebrew) == ("he", True)
    assert choose_lang("en", "he", 0.6, 150, known, cfg, hebrew) == ("en", False)  # unsure
    assert choose_lang("en", "ru", 0.999, 150, known, cfg, hebrew) == ("en", False)  # misfit
    short = script_counts("ברלין בירת גרמניה")
    assert choose_lang("en", "he", 0.99, 20, known, cfg, short) == ("en", False)  # too few
    # Latin glosses in a Chinese page do not make it English ...
    glossed = script_counts(
        "计算机科学（computer science）是系统性研究信息与计算的理论基础以及它们在计算机系统中"
        "如何与应用的实用技术的学科。"
    )  # 15 Latin letters of 60 (real zhwiki pages: 11-26%)
    assert choose_lang("en", "zh", 0.97, 300, known, cfg, glossed) == ("zh", True)
    # ... and kana keep a kanji-heavy Japanese page Japanese, however sure the model is.
    kanji = script_counts("東京都渋谷区出身の女性漫画家。武蔵野美術大学卒業。" * 4)
    assert choose_lang("ja", "zh", 0.999, 300, known, cfg, kanji) == ("ja", False)
    # Same script: only the strict probability rule (bg/ru/uk stay with their dump).
    cyrillic = script_counts("Київ — столиця України, найбільше місто країни." * 5)
    assert choose_lang("uk", "ru", 0.98, 300, known, cfg, cyrillic) == ("uk", False)
    assert choose_lang("uk", "ru", 0.995, 300, known, cfg, cyrillic) == ("ru", True)


# --- one real clean job ---------------------------------------------------------------------


def test_clean_job_on_the_edge_cases(shared_data, tmp_path):
    files = [PEAR, PAIR, HE, FA, AAWIKI, *(BROKEN.format(n) for n in (1, 2, 3, 4))]
    out = tmp_path / "out"
    inputs = ",".join(str(shared_data / f) for f in files)
    run(["--source", "wiki", "--input", inputs, "--output", str(out),
         "--min_chars", "none", "--min_words", "none", "--num_shards", "1"])  # fmt: skip
    stats = json.loads((out / STATS_FILE).read_text())
    counters, ledger = stats["counters"], stats["ledger"]
    assert ledger["balanced"] and ledger["input"] == 1 + 2 + 1 + 1 + 507 + 4 * 3
    assert counters["failed"] == 3 and counters["read_docs"] == 4
    assert counters["lang_hint_overridden"] == 2
    assert (
        counters["lang_hint_overridden_en_to_he"] == counters["lang_hint_overridden_en_to_fa"] == 1
    )
    _, tables = open_shard_set(str(out), schema=DOCUMENT_SCHEMA)
    docs = [Doc.from_row(row) for table in tables for row in table.to_pylist()]
    assert sorted((d.title, d.lang) for d in docs) == [
        ("Pear", "en"), ("Çullu, Agdam", "en"), ("ברלין", "he"), ("برلین", "fa")
    ]  # fmt: skip
    assert ledger["emitted"] == 4
    letters = [
        json.loads(line)
        for path in sorted((out / REJECTED_DIR).glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    assert sorted((r["reason"], r["record_id"]) for r in letters) == [
        ("missing_ns", "wiki:zhwiki:13"),
        ("missing_text", "wiki:zhwiki:13"),
        ("missing_title", "wiki:zhwiki:13"),
    ]
    assert all(re.search(r"zhwiki-broken-[123]\.xml$", r["source_file"]) for r in letters)
