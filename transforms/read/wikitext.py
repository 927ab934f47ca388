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
# The body is read up to the first "</ref>" as runs of non-"<" characters (an unrolled loop):
# the same match as a lazy ".*?</ref>", which tries the closing tag at every character.
_REF = re.compile(r"<ref\b[^>]*?(?:/>|>[^<]*(?:<(?!/ref\s*>)[^<]*)*</ref\s*>)", re.I)
_DROP_TAGS = (
    "math|chem|ce|gallery|timeline|imagemap|score|syntaxhighlight|source|graph|references|"
    "templatedata|hiero|mapframe|maplink|includeonly|inputbox|categorytree|templatestyles"
)
_DROP_TAG = re.compile(rf"<({_DROP_TAGS})\b[^>]*?(?:/>|>.*?</\1\s*>)", re.S | re.I)
_TEMPLATE = re.compile(r"\{\{([^{}]*)\}\}")  # innermost template: applied until none is left
_TEMPLATE_ARG_SEP = re.compile(r"\|(?![^\[\]]*\]\])")  # a "|" that is not inside [[...]]
# Templates that wrap running text: keep one positional argument instead of dropping them.
_KEEP_FIRST_ARG = frozenset({"読み仮名", "読み仮名_ruby不使用", "読み仮名 ruby不使用", "nihongo",
                             "nowrap", "nobr", "small", "big"})  # fmt: skip
_KEEP_LAST_ARG = frozenset({"lang", "transl", "transliteration", "script"})
# A template body that may start with one of those names ("_" or " " between words, any case;
# "lang-el" starts with "lang"): the others are dropped without looking at them in Python.
_KEPT_NAMES = "|".join(
    "[ _]".join(map(re.escape, re.split("[ _]", name)))
    for name in sorted(_KEEP_FIRST_ARG | _KEEP_LAST_ARG)
)
_KEPT_NAME = re.compile(rf"\s*(?:{_KEPT_NAMES})", re.I)
_EXT_LINK = re.compile(r"\[(?:https?:|ftp:|//)[^\s\]\[]*(?:\s+([^\]\[]*))?\]")
# Innermost link (single-bracket groups such as "[sic]" allowed): applied until none is left.
# Written as an unrolled loop (runs of plain characters between groups): the same matches as
# ((?:[^\[\]]|\[[^\[\]]*\])*), without an alternation tried at every character.
_WIKILINK = re.compile(r"\[\[([^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*)\]\]")
_QUOTES = re.compile(r"'''''|'''|''")  # 4 quotes: an apostrophe, then bold
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
_BR = re.compile(r"<br\s*/?>", re.I)
_MAGIC = re.compile(r"__[^\W\d_]+(?:_[^\W\d_]+)*__")
_EMPTY_PARENS = re.compile(r"\([^\S\n]*[,;:]?[^\S\n]*\)|（[^\S\n]*[、，]?[^\S\n]*）")
# Its first branch alone, for text without "（": a pattern that starts with one literal
# character is scanned for with a fast loop, two alternatives are tried at every character.
_EMPTY_ASCII_PARENS = re.compile(r"\([^\S\n]*[,;:]?[^\S\n]*\)")
_SPACE = re.compile(r"\s+")
# " ." left where a ref or template stood; only , and . (French spaces ; : ! ? on purpose)
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[,.](?:\s|\Z))")
# A line that opens or closes a table, after any indent (" ", tab, ":"). Anchored on "\n",
# not ^ with re.M: the regex engine then jumps between newlines (see wiki_sections._HEADING).
_TABLE_EDGE = re.compile(r"\n[ \t:]*(\{\||\|\})")
_NOWIKI = re.compile(r"<nowiki\s*>(.*?)</nowiki\s*>|<nowiki\s*/>", re.S | re.I)
_NOWIKI_ESCAPES = str.maketrans({c: f"&#{ord(c)};" for c in "{}[]|<>'=&_"})
_RESIDUE = re.compile(r"\{\{|\}\}|\[\[|\]\]|\{\||\|\}|<ref\b[^>]*>?|</ref>", re.I)
# Every _RESIDUE match holds one of "{}[]<": looking for those single characters (memchr) is
# a tenth of the cost of the regex's scan, and most pages have none of them left.
_HAS_WORD = re.compile(r"\w")
# A list item left with only a parenthesised note: the template it annotated was dropped.
_BARE_PARENS = re.compile(r"\([^()]*\)[.,;]?")
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
    text = resolve_conversions(text, zh_variant)
    # A one-character test first: Python's ``in`` is memchr-fast for one character but scans
    # 3-10x slower for two (and a page mostly has no "{" left once its templates are gone).
    while "{" in text and "{{" in text:
        parts = _TEMPLATE.split(text)  # text, body, text, body, ..., text
        if len(parts) == 1:
            text = _strip_templates_with_parser(text)
            break
        bodies = parts[1::2]
        parts[1::2] = [_render_template(b) if _KEPT_NAME.match(b) else "" for b in bodies]
        _drop_emptied_formatting(parts)
        text = "".join(parts)
    if "{" in text and "{|" in text:
        text = _strip_tables(text)
    return text


def _drop_emptied_formatting(parts: list[str]) -> None:
    """``''{{GGY}}'' (UK)``: a dropped template inside italics or bold leaves four quote marks,
    which the quote regex reads as an apostrophe and bold ("' (UK)"). Remove the emptied pair.
    ``parts``: text, rendered template, text, ... (changed in place)."""
    for i in range(1, len(parts) - 1, 2):
        before, after = parts[i - 1], parts[i + 1]
        if parts[i] or not before.endswith("''") or not after.startswith("''"):
            continue
        run = len(before) - len(before.rstrip("'"))
        if run in (2, 3, 5) and len(after) - len(after.lstrip("'")) == run:
            parts[i - 1], parts[i + 1] = before[:-run], after[run:]


def _render_template(body: str) -> str:
    """Most templates are dropped; a few wrap prose (``{{lang|de|Erdkunde}}``) and keep it."""
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
    """Drop ``{| ... |}`` tables, nested ones included: each becomes one empty line (it ends
    the paragraph before it), and one never closed runs to the end of the text.

    Only the lines that open or close a table are visited (a regex jumps between them); the
    text between tables is copied in slices.
    """
    out: list[str] = []
    depth, kept_from, table_start = 0, 0, 0
    for m in _TABLE_EDGE.finditer("\n" + text):  # positions in text: one less
        if m.group(1) == "{|":
            if not depth:
                table_start = m.start()  # the line's first character
            depth += 1
        elif depth:
            depth -= 1
            if not depth:
                out.append(text[kept_from:table_start])
                line_end = text.find("\n", m.end() - 1)
                kept_from = len(text) if line_end < 0 else line_end
    if depth:  # unclosed: the kept text ends with the line before the table
        out.append(text[kept_from : table_start - 1] if table_start else "")
    else:
        out.append(text[kept_from:])
    return "".join(out)


def _drop_non_prose_lines(text: str) -> str:
    """Remove bare gallery lines ("File:x.jpg|caption") and lines that only list links."""
    text = "\n" + text + "\n"  # the line regexes anchor on "\n" (see wiki_sections._HEADING)
    text = MEDIA_LINE.sub("", text)
    if "]]" in text:
        text = _LINK_LIST.sub("\n", text)
    return text[1:-1]


def _link_text(inner: str, drop: frozenset[str]) -> str:
    """The shown text of ``[[inner]]`` for a link with a "|" or a ":" ([[Page]] shows Page)."""
    target, bar, label = inner.partition("|")
    if bar and ":" not in target:  # the common [[Page|label]], as the end of this function
        return label.strip() or target.strip().split(" (")[0]
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


def _replace_links(text: str, drop: frozenset[str]) -> tuple[str, int]:
    """One pass of innermost links -> their text, as ``_WIKILINK.subn`` with a function would
    do it; split() hands over the inner texts without a match object and a call per link, and
    the common [[Page]] (two links in three) is kept inline."""
    parts = _WIKILINK.split(text)
    if len(parts) == 1:
        return text, 0
    parts[1::2] = [
        inner if "|" not in inner and ":" not in inner else _link_text(inner, drop)
        for inner in parts[1::2]
    ]
    return "".join(parts), len(parts) // 2


def _inline(text: str, drop: frozenset[str]) -> str:
    """Rewrite links, external links, formatting, tags and entities into plain text."""
    if "[" in text:
        text = _EXT_LINK.sub(lambda m: m.group(1) or "", text)
        while "[" in text and "[[" in text:  # see _strip_blocks for the one-character test
            text, n = _replace_links(text, drop)
            if not n:
                break
        if "[" in text and "[[" in text:
            text = drop_unclosed_media(text, drop)
    if "''" in text:
        text = _QUOTES.sub("", text)
    if "<" in text:
        text = _BR.sub(" ", text)
        text = _TAG.sub("", text)
    if "_" in text and "__" in text:
        text = _MAGIC.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    # Residue of removed markup: "()" left by a dropped template, stray brackets.
    if "（" in text:
        text = _EMPTY_PARENS.sub("", text)
    elif "(" in text:
        text = _EMPTY_ASCII_PARENS.sub("", text)
    if any(mark in text for mark in "{}[]<") and _RESIDUE.search(text):
        text = _RESIDUE.sub("", text)
    return text


def _paragraphs(lines: list[str]) -> list[str]:
    """Join runs of prose lines; list items, indented lines and definitions stand alone."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        stripped = line.strip()
        # Prose first, the common case; "-" and "{" start prose unless "----" or "{|" follow.
        if stripped and (
            stripped[0] not in "*#:;|!-{"
            or (stripped[0] in "-{" and not stripped.startswith(("----", "{|")))
        ):
            current.append(stripped)
            continue
        if current:  # a blank line, a rule, a list item or a stray table row ends a paragraph
            _emit(" ".join(current), paragraphs)
            current = []
        if stripped and stripped[0] in "*#:;":
            item = stripped.lstrip("*#:; \t")
            if not _BARE_PARENS.fullmatch(item):  # "(UK)" after a dropped {{flag|...}}
                _emit(item, paragraphs)
    if current:
        _emit(" ".join(current), paragraphs)
    return paragraphs


def _emit(paragraph: str, out: list[str]) -> None:
    # Every whitespace character but " " is unprintable, and a paragraph starts and ends with
    # a non-space: in a printable one, collapsing runs of spaces is all split+join would do.
    if not paragraph.isprintable():
        paragraph = " ".join(paragraph.split())
    while "  " in paragraph:
        paragraph = paragraph.replace("  ", " ")
    if " ," in paragraph or " ." in paragraph:
        paragraph = _SPACE_BEFORE_PUNCT.sub("", paragraph)
    if paragraph and _HAS_WORD.search(paragraph):
        out.append(paragraph)
