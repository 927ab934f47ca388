"""Wikitext -> plain-text paragraphs.

A regex pre-pass removes what is most of a page's markup and costs the most to parse: comments,
``<ref>``s, content-only extension tags (math, gallery, ...), templates and ``{| |}`` tables.
mwparserfromhell then handles the rare pages where braces do not balance (a template holding a
lone ``{``), and links, external links, formatting and HTML tags are rewritten with innermost-
first regexes. Headings are not emitted: they end a paragraph and decide which sections to drop
(``wiki_sections``). Language-conversion markup ``-{...}-`` is resolved to one script variant
(``langconv``) and image links are recognised in any language (``wiki_media``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from transforms.read.langconv import resolve_conversions
from transforms.read.wiki_media import (
    DEFAULT_DROP_NAMESPACES,
    MEDIA_LINE,
    drop_unclosed_media,
    looks_like_media,
    namespace_key,
)
from transforms.read.wiki_sections import drop_stop_sections

# Interwiki prefixes: ``[[wikt:word]]`` shows ``word``; interlanguage links show nothing.
_INTERWIKI = frozenset(
    {"wikt", "wiktionary", "s", "wikisource", "q", "wikiquote", "b", "wikibooks", "n",
     "wikinews", "v", "wikiversity", "voy", "commons", "meta", "species", "d", "wikidata", "w"}
)  # fmt: skip
_LANG_PREFIX = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]+)*\Z")

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_REF = re.compile(r"<ref\b[^>]*?/>|<ref\b[^>]*?>.*?</ref\s*>", re.S | re.I)
_DROP_TAGS = (
    "math|chem|ce|gallery|timeline|imagemap|score|syntaxhighlight|source|graph|references|"
    "templatedata|hiero|mapframe|maplink|includeonly|inputbox|categorytree|templatestyles"
)
_DROP_TAG = re.compile(rf"<({_DROP_TAGS})\b[^>]*?(?:/>|>.*?</\1\s*>)", re.S | re.I)
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")  # innermost template: applied until none is left
_TEMPLATE_ARG_SEP = re.compile(r"\|(?![^\[\]]*\]\])")  # a "|" that is not inside [[...]]
# Templates that wrap running text: keep one positional argument instead of dropping them.
_KEEP_FIRST_ARG = frozenset({"読み仮名", "読み仮名_ruby不使用", "読み仮名 ruby不使用", "nihongo",
                             "nowrap", "nobr", "small", "big"})  # fmt: skip
_KEEP_LAST_ARG = frozenset({"lang", "transl", "transliteration", "script"})
_EXT_LINK = re.compile(r"\[(?:https?:|ftp:|//)[^\s\]\[]*(?:\s+([^\]\[]*))?\]")
# Innermost link (single-bracket groups such as "[sic]" allowed): applied until none is left.
_WIKILINK = re.compile(r"\[\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\]")
_QUOTES = re.compile(r"'''''|'''|''")  # 4 quotes: an apostrophe, then bold
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
_BR = re.compile(r"<br\s*/?>", re.I)
_MAGIC = re.compile(r"__[^\W\d_]+(?:_[^\W\d_]+)*__")
_EMPTY_PARENS = re.compile(r"\([^\S\n]*[,;:]?[^\S\n]*\)|（[^\S\n]*[、，]?[^\S\n]*）")
_SPACE = re.compile(r"\s+")
# " ." left where a ref or template stood; only , and . (French spaces ; : ! ? on purpose)
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[,.](?:\s|\Z))")
_NOWIKI = re.compile(r"<nowiki\s*>(.*?)</nowiki\s*>|<nowiki\s*/>", re.S | re.I)
_NOWIKI_ESCAPES = str.maketrans({c: f"&#{ord(c)};" for c in "{}[]|<>'=&_"})
_RESIDUE = re.compile(r"\{\{|\}\}|\[\[|\]\]|\{\||\|\}|<ref\b[^>]*>?|</ref>", re.I)
_HAS_WORD = re.compile(r"\w")
# A line of nothing but links between "|" or "·" separators: a hand-made navbox, not prose.
_LINK_LIST = re.compile(
    r"\n[*#:;]*[ \t]*\[\[[^\[\]\n]*\]\](?:[ \t]*[|·•∙][ \t]*(?:\[\[[^\[\]\n]*\]\])?)+[ \t]*(?=\n)"
)


class WikitextError(ValueError):
    """A page whose wikitext the parser gives up on."""


def wikitext_to_paragraphs(
    text: str,
    *,
    drop_namespaces: Iterable[str] = DEFAULT_DROP_NAMESPACES,
    zh_variant: str | None = None,
) -> list[str]:
    """Plain-text paragraphs of one page's wikitext; headings are boundaries, not text.

    ``drop_namespaces``: lower-case link prefixes (File, Category, localized) to remove.
    ``zh_variant``: the script variant ``-{zh-hans:A; zh-hant:B}-`` shows (``zh-hans``,
    ``zh-tw``, ...); None: the first one listed.
    Raises WikitextError where the parser gives up.
    """
    drop = drop_namespaces if isinstance(drop_namespaces, frozenset) else frozenset(drop_namespaces)
    text = _strip_blocks(text, zh_variant)
    text = _drop_non_prose_lines(drop_stop_sections(text))
    return _paragraphs(_inline(text, drop).split("\n"))


def _strip_blocks(text: str, zh_variant: str | None) -> str:
    """Remove comments, refs, content-only tags, templates and tables; resolve ``-{...}-``
    first, so that templates holding it still match the innermost-template regex."""
    if "<" in text:
        text = _COMMENT.sub("", text)
        # nowiki content is literal text: escape its markup; _inline unescapes it at the end.
        text = _NOWIKI.sub(lambda m: (m.group(1) or "").translate(_NOWIKI_ESCAPES), text)
        text = _REF.sub("", text)
        text = _DROP_TAG.sub("", text)
    if "-{" in text:
        text = resolve_conversions(text, zh_variant)
    while "{{" in text:
        text, n = _TEMPLATE.subn(_render_template, text)
        if n == 0:
            text = _strip_templates_with_parser(text)
            break
    if "{|" in text:
        text = _strip_tables(text)
    return text


def _render_template(match: re.Match) -> str:
    """Most templates are dropped; a few wrap prose (``{{lang|de|Erdkunde}}``) and keep it."""
    body = match.group()[2:-2]
    name = body.partition("|")[0].strip().lower().replace("_", " ")
    if name.startswith("lang-"):  # {{lang-el|ἀναρχία}}: the foreign-language text
        name = "lang"
    first = name in _KEEP_FIRST_ARG or name.replace(" ", "_") in _KEEP_FIRST_ARG
    if not first and name not in _KEEP_LAST_ARG:
        return ""
    args = [a for a in _TEMPLATE_ARG_SEP.split(body)[1:] if "=" not in a.partition("[[")[0]]
    if not args:
        return ""
    return args[0] if first else args[-1]


def _strip_templates_with_parser(text: str) -> str:
    """Braces that do not balance (``{{math|{x}}}``): let mwparserfromhell find the templates."""
    import mwparserfromhell
    from mwparserfromhell.nodes import Argument, Template
    from mwparserfromhell.parser import ParserError

    try:
        code = mwparserfromhell.parse(text, skip_style_tags=True)
    except (ParserError, RecursionError) as e:
        raise WikitextError(f"mwparserfromhell: {e}") from e
    kept = "".join(str(n) for n in code.nodes if not isinstance(n, (Template, Argument)))
    return kept.replace("{{", "").replace("}}", "")


def _strip_tables(text: str) -> str:
    """Drop ``{| ... |}`` tables, nested ones included, line by line."""
    out: list[str] = []
    depth = 0
    for line in text.split("\n"):
        stripped = line.lstrip(" \t:")
        if stripped.startswith("{|"):
            depth += 1
            continue
        if depth:
            if stripped.startswith("|}"):
                depth -= 1
                if not depth:
                    out.append("")  # a table ends the paragraph before it
            continue
        out.append(line)
    return "\n".join(out)


def _drop_non_prose_lines(text: str) -> str:
    """Remove bare gallery lines ("File:x.jpg|caption") and lines that only list links."""
    text = "\n" + text + "\n"  # the line regexes anchor on "\n" (see wiki_sections._HEADING)
    text = MEDIA_LINE.sub("", text)
    if "]]" in text:
        text = _LINK_LIST.sub("\n", text)
    return text[1:-1]


def _link_text(match: re.Match, drop: frozenset[str]) -> str:
    inner = match.group(1)
    if "|" not in inner and ":" not in inner:
        return inner  # the common [[Page]]
    target, bar, label = inner.partition("|")
    target = target.strip()
    colon_link = target.startswith(":")  # [[:Category:X]] links to the page, shows text
    target = target.lstrip(":")
    prefix, colon, rest = target.partition(":")
    if colon:
        prefix = namespace_key(prefix)
        if prefix in drop:
            return "" if not colon_link else (label or rest).strip()
        if prefix in _INTERWIKI:
            return (label or rest).strip()
        if not colon_link and looks_like_media(rest, label.split("|") if bar else []):
            return ""  # an image whose namespace name is in no table: known by its shape
        if not bar and not colon_link and _LANG_PREFIX.match(prefix):
            return ""  # interlanguage link
    if bar:
        return label.strip() or target.split(" (")[0]  # pipe trick: [[Foo (bar)|]] -> Foo
    return target


def _inline(text: str, drop: frozenset[str]) -> str:
    """Rewrite links, external links, formatting, tags and entities into plain text."""
    if "[" in text:
        text = _EXT_LINK.sub(lambda m: m.group(1) or "", text)
        n = 1
        while n and "[[" in text:
            text, n = _WIKILINK.subn(lambda m: _link_text(m, drop), text)
        if "[[" in text:
            text = drop_unclosed_media(text, drop)
    if "''" in text:
        text = _QUOTES.sub("", text)
    if "<" in text:
        text = _BR.sub(" ", text)
        text = _TAG.sub("", text)
    if "__" in text:
        text = _MAGIC.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    # Residue of removed markup: "()" left by a dropped template, stray brackets.
    if "(" in text or "（" in text:
        text = _EMPTY_PARENS.sub("", text)
    if _RESIDUE.search(text):
        text = _RESIDUE.sub("", text)
    return text


def _paragraphs(lines: list[str]) -> list[str]:
    """Join runs of prose lines; list items, indented lines and definitions stand alone."""
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            _emit(" ".join(current), paragraphs)
            current.clear()

    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("----"):
            flush()
            continue
        first = stripped[0]
        if first in "*#:;":
            flush()
            _emit(stripped.lstrip("*#:; \t"), paragraphs)
        elif first in "|!" or stripped.startswith("{|"):
            flush()  # table rows whose table start was lost: not prose
        else:
            current.append(stripped)
    flush()
    return paragraphs


def _emit(paragraph: str, out: list[str]) -> None:
    paragraph = " ".join(paragraph.split())
    if " ," in paragraph or " ." in paragraph:
        paragraph = _SPACE_BEFORE_PUNCT.sub("", paragraph)
    if paragraph and _HAS_WORD.search(paragraph):
        out.append(paragraph)
