"""Clean text in every language (#16): localized image links, ``-{...}-`` conversion markup,
headings and non-prose sections, on hand-written wikitext and on the real vi/zh/he/fa dumps of
../shared/data/more/wiki (SOURCES.md §9), and ``--zh_variant`` from the flag to the text."""

from __future__ import annotations

import bz2
import re
import subprocess
import sys
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that

from transforms.read.config import ReaderConfig
from transforms.read.langconv import ZH_VARIANTS
from transforms.read.rawdoc import RawDoc
from transforms.read.sources import ReadSource
from transforms.read.wiki_xml import read_wiki_dump
from transforms.read.wikitext import wikitext_to_paragraphs
from transforms.shared.accounting import CounterDict

WIKI = "more/wiki"
DUMPS = {
    "vi": f"{WIKI}/viwiki-20230501-pages-articles-first615pages.xml.bz2",
    "zh": f"{WIKI}/zhwiki-test-pages.xml",
    "he": f"{WIKI}/he-dbpedia-minidump.xml.bz2",
    "fa": f"{WIKI}/fa-dbpedia-minidump.xml.bz2",
}
# What survived as text before #16. "nhỏ" (small) is an ordinary Vietnamese word: flagged only
# as a link parameter, next to a "|".
_THUMB = r"(?:thumb|nhỏ|ממוזער|بندانگشتی|مصغر)"
RESIDUE = {
    "image_size": re.compile(r"\d+\s*px\b|px\|"),
    "image_option": re.compile(rf"{_THUMB}\s*\||\|\s*{_THUMB}"),
    "conversion": re.compile(r"-\{|\}-"),
    "heading": re.compile(r"==|\A=|=\Z"),
    "link_or_template": re.compile(r"\[\[|\]\]|\{\{|\}\}"),
}
HEBREW = re.compile(r"[\u0590-\u05FF]")
ARABIC_SCRIPT = re.compile(r"[\u0600-\u06FF\uFB50-\uFDFF\uFE70-\uFEFF]")
PERSIAN_ONLY = re.compile(r"[پچژگ]")  # letters Persian has and Arabic lacks
HAN = re.compile(r"[\u4E00-\u9FFF]")
LATIN_VI = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.I)


def _raw(path: Path) -> str:
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rb") as f:
        return f.read().decode("utf-8")


def _docs(path: Path, zh_variant: str | None = None) -> dict[str, RawDoc]:
    count = CounterDict()
    opener = bz2.open if path.suffix == ".bz2" else open
    cfg = ReaderConfig(zh_variant=zh_variant)
    with opener(path, "rb") as stream:
        items = list(read_wiki_dump(stream, source_file=str(path), cfg=cfg, count=count))
    assert not [i for i in items if not isinstance(i, RawDoc)]  # no dead letters
    return {d.title: d for d in items if isinstance(d, RawDoc)}


@pytest.fixture(scope="module")
def dumps(shared_data) -> dict[str, dict[str, RawDoc]]:
    return {lang: _docs(shared_data / rel) for lang, rel in DUMPS.items()}


# --- hand-written wikitext ----------------------------------------------------------------


@pytest.mark.parametrize(
    "wikitext, expected",
    [
        ("Trước.\n[[Tập tin:X.jpg|nhỏ|phải|247x247px|Hữu Nghị Quan]]\nSau.", ["Trước.", "Sau."]),
        ("Cổng [[Tập_tin:X.jpg|nhỏ|phải|247x247px|Hữu Nghị Quan]] cũ.", ["Cổng cũ."]),
        # a namespace in no table: known as an image by its size, or by options beside a caption
        ("A [[Xyzzy:Foo bar|250px|caption]] B.", ["A B."]),
        ("A [[Xyzzy:Foo bar|nhỏ|caption]] B.", ["A B."]),
        ("A [[Xyzzy:Foo bar|x120 px]] B.", ["A B."]),
        # a lone word is a label, and "nhỏ" (small) is a word
        ("Gọi [[nhỏ|bé nhỏ]] là nhỏ, [[Xyzzy:Foo|nhỏ]].", ["Gọi bé nhỏ là nhỏ, nhỏ."]),
        ("ברלין [[קובץ:B.jpg|שמאל|ממוזער|250px|[[חומת ברלין]]]] היא", ["ברלין היא"]),
        ("برلین [[پرونده:R.jpg|بندانگشتی|چپ|300px|[[رایشستاگ]]]] است", ["برلین است"]),
        ("برلين [[ملف:R.jpg|مصغر|يسار|رايشستاغ]] مدينة", ["برلين مدينة"]),
        ("A [[Image:X.png|thumb|upright=1.2|alt=x|[[Link]] caption]] B.", ["A B."]),
        ("Intro.\n<gallery>\nFile:A.jpg|one\nTập tin:B.png|hai\n</gallery>\nOutro.",
         ["Intro.", "Outro."]),
        ("Intro.\n<gallery mode=packed heights=200px>\nپرونده:A.jpg|یک\n</gallery>\nOutro.",
         ["Intro.", "Outro."]),
        # gallery lines whose tag was lost (a template argument): dropped by their shape
        ("Intro.\nTập tin:A.jpg|Chú thích\nHình:B.JPG\nOutro.", ["Intro. Outro."]),
        ("Mở đầu.\n== Tiêu đề == text after\nmore", ["Mở đầu.", "text after more"]),
        ("Mở đầu.\n=== Tiêu đề ===\nthân", ["Mở đầu.", "thân"]),
        ("天文學家-{于}-爾班", ["天文學家于爾班"]),
        ("請[[于爾班·勒維耶|-{于}-爾班·勒維耶]]負責", ["請于爾班·勒維耶負責"]),
        ("德国有16个-{zh-hans:联邦州; zh-hant:邦}-。", ["德国有16个联邦州。"]),
        ("A-{H|zh-cn:信息; zh-tw:資訊;}-B-{R|zh-cn:x}-", ["ABzh-cn:x"]),
    ],
)  # fmt: skip
def test_wikitext_in_every_language(wikitext, expected):
    assert wikitext_to_paragraphs(wikitext) == expected


@pytest.mark.parametrize(
    "variant, expected",
    [
        (None, "联邦州"),  # the first one listed: the author's own script
        ("zh-hans", "联邦州"),
        ("zh-cn", "联邦州"),  # not listed: the zh-hans it falls back to
        ("zh-hant", "邦"),
        ("zh-tw", "邦"),
        ("zh-hk", "邦"),
    ],
)
def test_conversion_shows_the_chosen_variant(variant, expected):
    text = "德国有16个-{zh-hans:联邦州; zh-hant:邦}-。"
    assert wikitext_to_paragraphs(text, zh_variant=variant) == [f"德国有16个{expected}。"]


def test_stop_sections_drop_works_lists_with_their_subsections():
    text = (
        "Intro.\n== Works ==\n* A\n=== Novels ===\n* B\n== Life ==\nHe lived.\n"
        "== Discography ==\n* C\n== Danh sách đĩa nhạc ==\n* D\n==דיסקוגרפיה==\n* E\n"
        "== کتاب‌شناسی ==\n* F\n== Selected bibliography ==\n* G\n== Legacy ==\nRemembered."
    )
    assert wikitext_to_paragraphs(text) == ["Intro.", "He lived.", "Remembered."]


# --- the real dumps -----------------------------------------------------------------------


def test_the_raw_dumps_hold_what_is_checked(shared_data):
    """The residue checks below would pass on a dump without image links or conversions."""
    vi, zh = _raw(shared_data / DUMPS["vi"]), _raw(shared_data / DUMPS["zh"])
    he, fa = _raw(shared_data / DUMPS["he"]), _raw(shared_data / DUMPS["fa"])
    assert vi.count("nhỏ|") > 500 and vi.count("px|") > 500 and vi.count("&lt;gallery") > 10
    assert zh.count("-{") > 10 and "zh-hant:" in zh
    assert he.count("ממוזער") > 10 and fa.count("بندانگشتی") > 3 and "&lt;gallery" in fa
    assert "==" in he and "==" in fa


@pytest.mark.parametrize("lang", DUMPS)
def test_no_markup_residue_in_real_dumps(dumps, lang):
    found = {
        (name, doc.title, p[max(0, m.start() - 30) : m.end() + 30])
        for doc in dumps[lang].values()
        for p in doc.paragraphs
        for name, pattern in RESIDUE.items()
        if (m := pattern.search(p))
    }
    assert not found


@pytest.mark.parametrize(
    "lang, min_docs, min_paragraphs, script",
    [("vi", 150, 3000, LATIN_VI), ("zh", 20, 500, HAN), ("he", 1, 100, HEBREW),
     ("fa", 1, 40, PERSIAN_ONLY)],
)  # fmt: skip
def test_real_dumps_give_text_in_their_script(dumps, lang, min_docs, min_paragraphs, script):
    docs = dumps[lang]
    paragraphs = [p for d in docs.values() for p in d.paragraphs]
    assert len(docs) >= min_docs and len(paragraphs) >= min_paragraphs
    text = "".join(paragraphs)
    letters = sum(c.isalpha() for c in text)
    if lang in ("he", "fa"):  # right-to-left text with Latin glosses
        rtl = HEBREW if lang == "he" else ARABIC_SCRIPT
        assert len(rtl.findall(text)) > 0.9 * letters
    assert script.search(text)


def test_no_pipe_survives_on_he_fa_zh_pages(dumps):
    """On he/fa/zh (no broken links in their sources) not one "|" of a link survives."""
    assert not [p for lang in ("he", "fa", "zh") for d in dumps[lang].values()
                for p in d.paragraphs if "|" in p]  # fmt: skip


def test_zh_variant_reaches_the_real_pages(shared_data, dumps):
    """数学: -{zh-cn:域;zh-tw:體}-; 生物学: -{zh-hans:[[生物信息学]]; zh-hant:[[生物資訊学]];}-."""
    default, hant = dumps["zh"], _docs(shared_data / DUMPS["zh"], zh_variant="zh-hant")
    assert default.keys() == hant.keys()

    def text(docs, title):
        return "\n".join(docs[title].paragraphs)

    assert "群、環、域等" in text(default, "数学") and "群、環、體等" in text(hant, "数学")
    assert "生物信息学" in text(default, "生物学") and "生物資訊学" in text(hant, "生物学")
    assert "天文學家于爾班" in "".join(p for d in default.values() for p in d.paragraphs)


def test_zh_variant_through_read_source_in_a_pipeline(shared_data):
    pattern = str(shared_data / DUMPS["zh"])

    def check(docs):
        (math,) = [d for d in docs if d.title == "数学"]
        assert "群、環、體等" in "".join(math.paragraphs)
        assert len(docs) == 23

    with test_pipeline.TestPipeline() as p:
        docs, _ = p | ReadSource("wiki", pattern, ReaderConfig(zh_variant="zh-tw"))
        assert_that(docs | beam.combiners.ToList(), lambda lists: check(lists[0]))


def test_zh_variant_flag_and_config():
    from pipeline.clean import add_clean_args, config_from_args
    from pipeline.job import parse_job_args

    def cfg(*flags: str) -> ReaderConfig:
        base = ["--source", "wiki", "--input", "zh.xml", "--output", "out"]
        args, _ = parse_job_args([*base, *flags], prog="t", doc="", add_args=add_clean_args)
        return config_from_args(args).reader

    assert cfg().zh_variant is None
    assert cfg("--zh_variant", "zh-hant").zh_variant == "zh-hant"
    with pytest.raises(SystemExit):
        cfg("--zh_variant", "zh-latn")
    with pytest.raises(ValueError, match="zh_variant"):
        ReaderConfig(zh_variant="hant")
    assert set(ZH_VARIANTS) >= {"zh-hans", "zh-hant", "zh-cn", "zh-tw"}
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.clean", "--help"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
    ).stdout  # fmt: skip
    assert "--zh_variant" in out and "zh-hant" in out


def test_flag_lists_leave_no_quote_or_bare_note():
    """English "Atlantic Ocean": ``* ''{{GGY}}'' (UK)`` printed "' (UK)" twelve times."""
    wikitext = (
        "The states with a coastline are:\n\n* ''{{flag|Azores}}'' (PRT)\n* {{BEL}}\n"
        "* ''{{GGY}}'' (UK)\n* ''[[Jersey]]'' (UK)\n* '''{{X}}''' stays\n"
        "* ''''Word''' is an apostrophe, then bold"
    )
    assert wikitext_to_paragraphs(wikitext) == [
        "The states with a coastline are:",
        "Jersey (UK)",
        "stays",
        "'Word is an apostrophe, then bold",
    ]
