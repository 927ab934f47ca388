"""Build the per-language sentence-boundary lists under transforms/clean/data/sentence_boundaries.

    python -m transforms.clean.learn_boundaries [--data ../shared/data] [--langs en,fr,ru]

Each ``<lang>.json`` holds what ``sentence_boundaries`` needs (lower-case, no final period):
- ``abbreviations``: pySBD's list for the language (MIT; read from the installed dev dependency
  ``pysbd``, so nothing is downloaded), our additions below, and the abbreviations learned from
  our own corpus Punkt-style: a short type that ends in a period at least ``MIN_ABBREV`` times,
  is followed by a lower-case word after at least a third of them and is seen without the
  period no more often than with it;
- ``prenominal`` and ``before_number``: pySBD's lists plus ours (titles, "vol", "no");
- ``final``: ours, abbreviations that usually end a sentence ("etc", Russian "гг", "т.д");
- ``common_words``: the ``COMMON_WORDS`` most frequent words our corpus writes in lower case
  (>= 90% of their occurrences not at a sentence start): after an abbreviation, such a word
  capitalised starts a sentence.
The corpus is the cleaned text the pipeline reads from the data folder: the Wikipedia dumps
(one language each), Gutenberg books (by their Language header), UDHR and Tatoeba. UD
treebanks are never read: the benchmark scores on them.
"""

from __future__ import annotations

import argparse
import bz2
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

from transforms.clean.langid import to_langid_code
from transforms.read.books import book_paragraphs, strip_gutenberg
from transforms.read.config import ReaderConfig
from transforms.read.rawdoc import RawDoc
from transforms.read.textlines import FileRejected
from transforms.read.wiki_xml import read_wiki_dump
from transforms.shared.accounting import CounterDict

OUT_DIR = Path(__file__).parent / "data" / "sentence_boundaries"
MIN_ABBREV = 3
COMMON_WORDS = 2500
_TOKEN = re.compile(r"\S+")
_EDGE = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb()[]{},;:!?\u2026`\u201e"
_ABBREV_SHAPE = re.compile(r"[^\W\d_]{1,7}|(?:[^\W\d_]{1,3}\.)+[^\W\d_]{1,3}")

# Ours, on top of pySBD's: what the pySBD lists lack that UD and Wikipedia text use.
EXTRA = {
    "en": {
        "abbreviations": "approx est etc inc ltd vs viz cf ca jan feb mar apr jun jul aug sep sept"
        " oct nov dec mon tue wed thu fri sat sun dept univ assoc intl natl min max misc lit bc",
        "prenominal": "mr mrs ms dr prof st jr sr gen col lt sgt capt rev hon gov sen rep pres"
        " messrs mme mlle vol fig figs eq eqs ch chap sec",
        "before_number": "no nos vol vols p pp art fig figs ch chap sec op para ed eds",
        "final": "etc",
    },
    "fr": {
        "abbreviations": "etc env cf ex av apr hab ca éd min max tél",
        "prenominal": "m mm mme mmes mlle mlles dr pr me st ste vol chap fig",
        "before_number": "n no vol p pp t art chap fig",
        "final": "etc",
    },
    "ru": {
        "abbreviations": "т.е т.д т.п т.к т.н др пр см ср напр сокр англ нем фр лат греч итал"
        " исп род ум рус укр обл р-н рр млн млрд тыс руб коп гг вв н.э до н.э букв пад",
        "prenominal": "им ул пл просп пер г гор д дер пос с ст акад проф доц св тов т",
        "before_number": "с стр т ч рис табл гл п пп №",
        "final": "гг вв др т.д т.п н.э",
    },
    "de": {"prenominal": "hr fr dr prof st nr bd", "before_number": "nr bd s abs art"},
    "uk": {
        "abbreviations": "т.зв т.ч і т.д т.п тис млн млрд грн ін див напр англ рос",
        "prenominal": "ім вул пл просп м с смт акад проф св",
        "before_number": "с стор т рис табл",
        "final": "рр ін т.д т.п н.е",
    },
    "bg": {"prenominal": "гр ул проф акад д-р св", "before_number": "с стр т"},
}
_UDHR = {"eng": "en", "fra": "fr", "rus": "ru", "deu": "de", "spa": "es", "ukr": "uk"}


def _pysbd_lists(lang: str) -> dict[str, set[str]]:
    try:
        from pysbd.languages import LANGUAGE_CODES
    except ImportError:  # a build without the dev extra: our lists and the corpus only
        return {}
    if lang not in LANGUAGE_CODES:
        return {}
    abbrev = LANGUAGE_CODES[lang].Abbreviation
    return {
        "abbreviations": {a.lower().rstrip(".") for a in abbrev.ABBREVIATIONS},
        "prenominal": {a.lower().rstrip(".") for a in abbrev.PREPOSITIVE_ABBREVIATIONS},
        "before_number": {a.lower().rstrip(".") for a in abbrev.NUMBER_ABBREVIATIONS},
    }


def corpus_paragraphs(data: Path, lang: str) -> Iterator[str]:
    """Every paragraph in ``lang`` that the data folder holds (wiki, books, UDHR, Tatoeba)."""
    for dump in sorted((data / "wiki").glob(f"{lang}wiki-*.bz2")):
        with bz2.open(dump) as stream:
            docs = read_wiki_dump(
                cast(BinaryIO, stream),
                source_file=str(dump),
                cfg=ReaderConfig(),
                count=CounterDict(),
            )
            try:
                yield from (p for doc in docs if isinstance(doc, RawDoc) for p in doc.paragraphs)
            except FileRejected:  # a test file (UTF-16, markup fixture) is not a corpus
                continue
    for book in sorted((data / "books").glob("*.txt")):
        text = book.read_text(encoding="utf-8", errors="replace")
        header, body = strip_gutenberg(text, CounterDict())
        match = re.search(r"Language: (\w+)", header)
        if match and _book_lang(match.group(1)) == lang:
            yield from book_paragraphs(body)
    for udhr, code in _UDHR.items():
        path = data / "multilingual" / "udhr2" / f"{udhr}.txt"
        if code == lang and path.exists():
            yield from path.read_text(encoding="utf-8", errors="replace").splitlines()
    tatoeba = data / "multilingual" / "tatoeba_nonascii_CC0_sample.tsv"
    if tatoeba.exists():
        for line in tatoeba.read_text(encoding="utf-8").splitlines():
            _id, code, text = (line.split("\t") + ["", ""])[:3]
            if to_langid_code(code) == lang:
                yield text


def _book_lang(name: str) -> str | None:
    return {"English": "en", "French": "fr", "German": "de", "Dutch": "nl"}.get(name)


def learn(paragraphs: Iterator[str]) -> tuple[set[str], list[str]]:
    """(abbreviations, common words) from running text, Punkt-style."""
    with_period: Counter[str] = Counter()
    then_lower: Counter[str] = Counter()
    plain: Counter[str] = Counter()
    lower_mid: Counter[str] = Counter()
    upper_mid: Counter[str] = Counter()
    for paragraph in paragraphs:
        tokens = _TOKEN.findall(paragraph)
        for i, raw in enumerate(tokens):
            word = raw.strip(_EDGE)
            if not word:
                continue
            bare = word.rstrip(".").lower()
            if word.endswith(".") and _ABBREV_SHAPE.fullmatch(bare):
                with_period[bare] += 1
                nxt = tokens[i + 1].lstrip(_EDGE) if i + 1 < len(tokens) else ""
                then_lower[bare] += nxt[:1].islower()
            elif word.isalpha():
                plain[bare] += 1
            sentence_start = i == 0 or tokens[i - 1].rstrip(_EDGE)[-1:] in (".", "!", "?", "")
            if word.isalpha() and not sentence_start:
                (lower_mid if word[0].islower() else upper_mid)[word.lower()] += 1
    abbreviations = {
        t
        for t, n in with_period.items()
        if n >= MIN_ABBREV and then_lower[t] * 3 >= n and plain[t] <= n
    }
    common = [
        w for w, n in lower_mid.most_common() if n >= 3 and n >= 9 * upper_mid[w] and len(w) > 1
    ]
    return abbreviations, common[:COMMON_WORDS]


def build(data: Path, lang: str) -> dict:
    lists = _pysbd_lists(lang)
    learned, common = learn(corpus_paragraphs(data, lang))
    extra = EXTRA.get(lang, {})
    out: dict = {"lang": lang, "learned_abbreviations": sorted(learned)}
    for key in ("abbreviations", "prenominal", "before_number", "final"):
        words = lists.get(key, set())
        if key == "abbreviations":  # pySBD's "me", "ill", "wash" (states) are words first
            words = (words - set(common)) | learned
        out[key] = sorted(words | set(extra.get(key, "").split()))
    out["common_words"] = sorted(common)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data", type=Path)
    parser.add_argument("--langs", default="en,fr,ru,de,es,it,nl,uk,bg,pl")
    parser.add_argument("--output", default=OUT_DIR, type=Path)
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    for lang in args.langs.split(","):
        payload = build(args.data, lang)
        path = args.output / f"{lang}.json"
        path.write_text(json.dumps(payload, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
        sizes = {k: len(v) for k, v in payload.items() if isinstance(v, list)}
        print(f"{path}: {sizes}")


if __name__ == "__main__":
    main()
