"""The corpus recipes of ``pipeline.corpus``: which inputs each ``--lang`` cleans, vocabularises
and packs (globs under a data folder laid out like ../shared/data). A leaf module: the corpus
command and the download catalog (pipeline/catalog.py) both read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Input:
    name: str  # output sub-folder under clean/; also its entry in pipeline/catalog.py
    source: str  # wiki | books | protein | text
    pattern: str  # glob relative to data_dir
    flags: tuple[str, ...] = ()


# "*.xml*.bz2": the dumps (also "...xml-p1p2-shortened.bz2"), never a multistream index
# ("...-multistream-index.txt.bz2") lying beside one.
_WIKI = {
    "en": "wiki/enwiki-*.xml*.bz2",
    "ja": "wiki/jawiki-*.xml*.bz2",
    "uk": "wiki/ukwiki-*.xml*.bz2",
    "bg": "wiki/bgwiki-*.xml*.bz2",
}
_UDHR = Input("udhr", "text", "multilingual/udhr2/*.txt", ("--text_format=file", "--lang=auto"))
_TATOEBA = Input(
    "tatoeba",
    "text",
    "multilingual/tatoeba_*.tsv*",
    ("--text_format=tsv", "--lang=auto"),
)
_BOOKS = Input("books", "books", "books/*.txt", ("--lang=auto",))
_BERT_SAMPLE = Input(
    "sample", "text", "bert/sample_text.txt", ("--text_format=blank_line", "--lang=en")
)


def _wiki(lang: str) -> Input:
    return Input(f"wiki_{lang}", "wiki", _WIKI[lang], (f"--lang={lang}",))


RECIPES: dict[str, tuple[Input, ...]] = {
    # One Wikipedia each first, so that the named recipes below (en) replace theirs.
    **{lang: (_wiki(lang),) for lang in _WIKI},
    "multi": tuple(_wiki(lang) for lang in _WIKI) + (_UDHR, _TATOEBA),
    "en": (_wiki("en"), _BOOKS, _BERT_SAMPLE),
    "books": (_BOOKS,),
    "protein": (Input("protein", "protein", "protein/*.fa*"),),
}
