"""Per-document cleaning steps: normalize, quality, langid, sentences (pure + one Beam each)."""

from __future__ import annotations

import json
import re

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.document import Doc
from transforms.clean.langid import (
    IdentifyLanguage,
    LangIdConfig,
    choose_lang,
    identify_language,
    load_identifier,
    parse_langs,
    to_langid_code,
)
from transforms.clean.normalize import (
    Normalize,
    NormalizeConfig,
    fix_mojibake,
    normalize_doc,
    normalize_protein,
    normalize_text,
)
from transforms.clean.quality import (
    QualityConfig,
    QualityFilter,
    filter_quality,
    quality_failure,
    quality_preset,
)
from transforms.clean.repetition import ngram_stats
from transforms.clean.sentences import (
    SentenceConfig,
    SplitSentences,
    split_paragraph,
    split_sentences,
)
from transforms.read.rawdoc import RawDoc
from transforms.shared.accounting import REJECTED_TAG, CounterDict

PROSE = (
    "The river rises in the northern hills and flows south through a broad valley. "
    "Farmers along its banks grow wheat, barley and apples, and sell them in the market "
    "towns downstream. In spring the water runs high and fast, and the old stone bridges "
    "have been rebuilt several times after floods carried parts of them away. Fishermen "
    "still catch trout in the upper reaches, where the current is clear and cold."
)


def _doc(*paragraphs: str, doc_id: str = "d1", source: str = "text", lang=None) -> RawDoc:
    return RawDoc(doc_id=doc_id, source=source, paragraphs=tuple(paragraphs), lang=lang)


# --- normalize -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("a  b\t c", "a b c"),
        (" x \u00a0y\u3000z ", "x y z"),
        ("line one\r\nline two\rthree", "line one\nline two\nthree"),
        ("zero\u200bwidth\u00adsoft\ufeffbom\x07bell", "zerowidthsoftbombell"),
        (
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        ),
        ("\u0915\u094d\u200d\u0937", "\u0915\u094d\u200d\u0937"),  # ZWJ kept (Devanagari)
        ("e\u0301t\u00e9", "\u00e9t\u00e9"),  # NFC
        (
            "caf\u00c3\u00a9 \u00e2\u20ac\u0153quoted\u00e2\u20ac\u009d",
            "caf\u00e9 \u201cquoted\u201d",
        ),
        (
            "\u201cCurly\u201d \ufb01ne \uff26ull &amp;",
            "\u201cCurly\u201d \ufb01ne \uff26ull &amp;",
        ),
        ("a \n\n b", "a\nb"),
        (" \t\u200b ", ""),
    ],
)
def test_normalize_text(raw, want):
    assert normalize_text(raw) == want


def test_fix_mojibake_skips_clean_text():
    text = "naïve façade, “quoted” — Привет, 日本語"
    assert fix_mojibake(text) is text
    assert fix_mojibake("Ð¿Ñ€Ð¸Ð²ÐµÑ‚") == "привет"


def test_normalize_doc_drops_empty_paragraphs_and_docs():
    count = CounterDict()
    doc = normalize_doc(_doc(" One\u200b ", "\u200b\t", "Two"), NormalizeConfig(), count)
    assert doc.paragraphs == ("One", "Two") and count == {}
    assert normalize_doc(_doc(" ", "\u200b"), NormalizeConfig(), count) is None
    assert count == {"dropped_empty_after_normalize": 1}


def test_normalize_protein():
    assert normalize_protein(" mkv\nLLA* ") == "MKVLLA"
    count = CounterDict()
    doc = normalize_doc(_doc("MKV\n", "lla*", source="protein"), NormalizeConfig(), count)
    assert doc.paragraphs == ("MKVLLA",) and count == {}


# --- quality ---------------------------------------------------------------------------------


def _reason(doc: RawDoc, cfg: QualityConfig | None = None) -> str | None:
    return quality_failure(doc, cfg or QualityConfig())


def test_quality_passes_prose_and_counts_first_failure_only():
    assert _reason(_doc(PROSE)) is None
    count = CounterDict()
    assert filter_quality(_doc(PROSE), QualityConfig(), count) == _doc(PROSE)
    # Too short AND lorem ipsum: only the first rule in order is counted.
    assert filter_quality(_doc("lorem ipsum"), QualityConfig(), count) is None
    assert count == {"dropped_too_short": 1}


@pytest.mark.parametrize(
    ("text", "cfg", "reason"),
    [
        ("x" * 50, QualityConfig(), "too_short"),
        (PROSE, QualityConfig(max_chars=100), "too_long"),
        (PROSE + " Lorem ipsum dolor sit amet.", QualityConfig(), "lorem_ipsum"),
        (
            PROSE + "\nPlease enable JavaScript in your browser.",
            QualityConfig(),
            "javascript_notice",
        ),
        (PROSE + " if (x) { y(); }", QualityConfig(), "curly_brace"),
        (PROSE + " if (x) { y(); }", quality_preset("wiki"), None),
        ("word " * 48 + "end", QualityConfig(min_chars=None), "too_few_words"),
        (PROSE, QualityConfig(max_words=10), "too_many_words"),
        (PROSE + " #a #b #c #d #e #f #g #h #i", QualityConfig(), "symbol_ratio"),
        (" ".join(["a b c d"] * 30), QualityConfig(), "mean_word_length"),
        (" ".join(["incomprehensibilities"] * 60), QualityConfig(), "mean_word_length"),
        (PROSE + " " + " ".join(str(i) for i in range(60)), QualityConfig(), "alpha_words"),
        ("\n".join([PROSE[:80] + " and then..."] * 2 + [PROSE]), QualityConfig(), "ellipsis_lines"),
    ],
)
def test_quality_rules(text, cfg, reason):
    assert _reason(_doc(text), cfg) == reason


def test_alpha_words_ignore_punctuation_tokens():
    # Dashes between clauses are not words; only letterless words with digits count.
    text = " ".join(f"alpha{i} — beta{i} gamma{i}." for i in range(40))
    assert _reason(_doc(text)) is None
    assert _reason(_doc(text.replace("—", "1990"))) == "alpha_words"


def test_repetition_rules():
    line = "The same sentence repeated on many lines of this page for no good reason."
    lines = "\n".join([PROSE] + [line] * 3)
    assert _reason(_doc(lines)) == "dup_lines"
    paras = [PROSE] + [line] * 3
    no_line_rules = QualityConfig(max_dup_line_fraction=None, max_dup_line_char_fraction=None)
    assert _reason(_doc(*paras), no_line_rules) == "dup_paragraphs"
    long_dup = "\n".join([PROSE, PROSE])
    assert _reason(_doc(long_dup), QualityConfig(max_dup_line_fraction=None)) == "dup_line_chars"


def test_ngram_stats_exact():
    words = "a b a b a b c".split()
    stats = dict(ngram_stats(words, [2], [3]))
    # top 2-gram "a b" occurs 3 times: 2 chars * 3 / 7 chars.
    assert stats["top_2"] == pytest.approx(6 / 7)
    # 3-grams: aba, bab, aba(repeat at 2), bab(repeat at 3), abc -> words 2..5 covered.
    assert stats["dup_3"] == pytest.approx(4 / 7)
    assert dict(ngram_stats("x y z".split(), [2], [3])) == {"top_2": 0.0, "dup_3": 0.0}
    repeated = (PROSE + " ") * 2
    assert _reason(_doc(repeated), QualityConfig(max_top_ngram_char_fraction=None)) == "dup_5gram"


def test_unspaced_scripts_count_characters_as_words():
    ja = "今日は良い天気です。明日も晴れるでしょう。" * 3  # 60 characters, no spaces
    assert _reason(_doc(ja), QualityConfig(min_chars=None)) is None
    assert _reason(_doc(ja[:40]), QualityConfig(min_chars=None)) == "too_few_words"


def test_protein_quality_checks_length_and_alphabet_only():
    cfg = quality_preset("protein")
    assert _reason(_doc("M" * 40 + "{}", source="protein"), cfg) == "invalid_residues"
    assert _reason(_doc("MKV", source="protein"), cfg) == "too_short"
    assert _reason(_doc("MKVA" * 20, source="protein"), cfg) is None
    assert (
        _reason(_doc("MKVA" * 20, source="protein"), QualityConfig(min_chars=None, max_chars=50))
        == "too_long"
    )


def test_presets():
    assert quality_preset("text", "tsv").min_words is None
    assert quality_preset("text", "file").min_words == 50
    assert not quality_preset("wiki").c4_curly_brace
    assert quality_preset("books").max_words is None


# --- langid ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "want"),
    [("rus", "ru"), ("cmn", "zh"), ("cmn_Hans", "zh"), ("en-US", "en"), ("kab", "kab"),
     ("\\N", None), ("", None), (None, None), ("pes_1", "fa")],
)  # fmt: skip
def test_to_langid_code(code, want):
    assert to_langid_code(code) == want


def test_parse_langs():
    assert parse_langs("auto") is None and parse_langs(None) is None
    assert parse_langs("rus,en, ja") == ("en", "ja", "ru")


def test_choose_lang_policy():
    known = frozenset({"en", "fr", "ru"})
    cfg = LangIdConfig()
    assert choose_lang("en", "fr", 0.999, 500, known, cfg) == ("fr", True)
    assert choose_lang("en", "fr", 0.98, 500, known, cfg) == ("en", False)
    assert choose_lang("en", "fr", 0.999, 50, known, cfg) == ("en", False)  # too short
    assert choose_lang("kab", "fr", 0.999, 500, known, cfg) == ("kab", False)  # unknown hint
    assert choose_lang(None, "ru", 0.9, 10, known, cfg) == ("ru", False)
    assert choose_lang(None, "ru", 0.3, 10, known, cfg) == ("und", False)


def test_identify_language():
    ident = load_identifier()
    count = CounterDict()
    fr = "Bonjour à tous, nous allons parler aujourd'hui de la cuisine française et du pain."
    doc = identify_language(_doc(fr), LangIdConfig(), ident, count)
    assert doc.lang == "fr"
    # The hint wins on a short text even against the model.
    assert identify_language(_doc(fr, lang="fra"), LangIdConfig(), ident, count).lang == "fr"
    assert identify_language(_doc("Ok.", lang="rus"), LangIdConfig(), ident, count).lang == "ru"
    assert identify_language(_doc(fr * 4, lang="en"), LangIdConfig(), ident, count).lang == "fr"
    overridden = {"lang_hint_overridden": 1, "lang_hint_overridden_en_to_fr": 1}
    assert count == overridden
    assert identify_language(_doc(fr), LangIdConfig(langs=("en",)), ident, count) is None
    assert count == {**overridden, "dropped_wrong_lang": 1}
    protein = identify_language(
        _doc("MKV", source="protein"), LangIdConfig(langs=("en",)), ident, count
    )
    assert protein.lang == "protein"


# --- sentences -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "want"),
    [
        ("Dr. Smith arrived at 5 p.m. on Monday. He left! Why?", "en",
         ["Dr. Smith arrived at 5 p.m. on Monday.", "He left!", "Why?"]),
        ("今日は晴れです。明日は\n雨でしょう！本当？", "ja", ["今日は晴れです。", "明日は雨でしょう！", "本当？"]),
        ("今天天气很好。明天会下雨吗？", "und", ["今天天气很好。", "明天会下雨吗？"]),
        ("यह एक वाक्य है। यह दूसरा है।", "hi", ["यह एक वाक्य है।", "यह दूसरा है।"]),
        ("هل هذا صحيح؟ نعم.", "ar", ["هل هذا صحيح؟", "نعم."]),
        ("ประเทศไทย มีประชากร 70 ล้านคน", "th", ["ประเทศไทย", "มีประชากร 70 ล้านคน"]),
        ("The line is\nwrapped here. And here.", "en", ["The line is wrapped here.", "And here."]),
    ],
)  # fmt: skip
def test_split_paragraph(text, lang, want):
    assert split_paragraph(text, lang) == want


def test_split_sentences_builds_doc():
    count = CounterDict()
    raw = RawDoc("d1", "text", ("One. Two.", "Three."), title="T", lang="en", metadata={"k": 1})
    doc = split_sentences(raw, SentenceConfig(), count)
    assert doc == Doc("d1", "text", "en", (("One.", "Two."), ("Three.",)), "T", None, {"k": 1})
    assert split_sentences(_doc(" ", lang="en"), SentenceConfig(), count) is None
    assert count == {"dropped_no_sentences": 1}
    protein = split_sentences(_doc("MKV", source="protein"), SentenceConfig(), count)
    assert protein.paragraphs == (("MKV",),) and protein.lang == "und"


# --- Beam shells -----------------------------------------------------------------------------


class _Boom:
    """Looks enough like a RawDoc to reach the step, then breaks it."""

    doc_id = "boom"
    source = "text"
    source_file = "f.txt"
    paragraphs = (None,)
    title = None


def test_steps_in_beam_with_dead_letters():
    good = _doc(PROSE, doc_id="good", lang="en")
    with BeamTestPipeline() as p:
        docs = p | beam.Create([good, _doc("\u200b", doc_id="empty"), _Boom()])
        normalized, rejected = docs | Normalize()
        kept, _ = normalized | QualityFilter(QualityConfig())
        with_lang, _ = kept | IdentifyLanguage(LangIdConfig(langs=("en",)))
        out, _ = with_lang | SplitSentences()
        assert_that(out | beam.Map(lambda d: (d.doc_id, d.lang, len(d.paragraphs[0]))),
                    equal_to([("good", "en", 4)]), label="docs")  # fmt: skip
        reasons = rejected | beam.Map(
            lambda s: (json.loads(s)["record_id"], json.loads(s)["reason"])
        )
        assert_that(reasons, equal_to([("boom", "normalize_error")]), label="rejected")
    assert REJECTED_TAG == "rejected"


def test_syllabic_scripts_skip_mean_word_length():
    korean = " ".join(["모든 인간 자유 권리 존엄"] * 20)  # mean word length 2
    cfg = QualityConfig(max_top_ngram_char_fraction=None, max_dup_ngram_char_fraction=None)
    assert _reason(_doc(korean), cfg) is None
    assert _reason(_doc(korean.replace("모든", "ab")), cfg) is None  # still mostly Hangul
    assert _reason(_doc(" ".join(["ab cd ef gh ij"] * 20)), cfg) == "mean_word_length"
    amharic = "\u1230\u12cd\u1361\u120d\u1305\u1361" * 40  # words joined by Ethiopic wordspace
    assert _reason(_doc(amharic), cfg) is None


def _token_kind(text: str) -> tuple[bool, bool, bool]:
    """What the alphabetic-word rule asks of a token: (a letter, a digit or "_", whitespace)."""
    return (
        bool(re.search(r"[^\W\d_]", text)),
        bool(re.search(r"[\d_]", text)),
        any(c.isspace() for c in text),
    )


def test_lower_casing_keeps_every_characters_class():
    """quality classifies digit-only and punctuation-only tokens on the lower-cased words: that
    is only right while str.lower() keeps what each character tells about its token (U+0130
    "İ" becomes "i" + a combining dot: still a letter, so it may)."""
    changed = []
    for cp in range(0x110000):
        c = chr(cp)
        if 0xD800 <= cp < 0xE000 or c.lower() == c:
            continue
        if _token_kind(c.lower()) != _token_kind(c):
            changed.append(f"U+{cp:04X}")
    assert changed == []
