"""Wikitext -> plain-text paragraphs.

A regex pre-pass removes what is most of a page's markup and costs the most to parse: comments,
``<ref>``s, content-only extension tags (math, gallery, ...), templates and ``{| |}`` tables.
mwparserfromhell then handles the rare pages where braces do not balance (a template holding a
lone ``{``), and links, external links, formatting and HTML tags are rewritten with innermost-
first regexes. Headings are not emitted: they end a paragraph and decide which sections to drop
(References, See also, ... in several languages).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

# Link prefixes whose target is not prose: files and categories (English and localized names;
# a dump's <siteinfo> adds its own, see ``wiki_xml.parse_siteinfo``).
DEFAULT_DROP_NAMESPACES = frozenset(
    {
        "file", "image", "media", "category",
        "datei", "bild", "kategorie",  # de
        "fichier", "catégorie", "média",  # fr
        "archivo", "imagen", "categoría",  # es
        "файл", "изображение", "категория", "медиа",  # ru, bg
        "категорія", "зображення",  # uk
        "ファイル", "画像", "カテゴリ", "メディア",  # ja
    }
)  # fmt: skip

# Section titles (normalised: lower case, no trailing colon) whose sections are not prose.
STOP_SECTIONS = frozenset(
    {
        # en
        "references", "see also", "external links", "further reading", "notes",
        "bibliography", "sources", "footnotes", "citations", "notes and references",
        "references and notes", "works cited", "general references", "external link",
        # ja
        "脚注", "出典", "注釈", "参考文献", "関連項目", "外部リンク", "脚注・出典",
        # uk
        "примітки", "посилання", "див. також", "джерела", "література", "виноски",
        # bg
        "бележки", "източници", "вижте също", "външни препратки", "литература",
        # ru
        "примечания", "ссылки", "см. также", "источники",
        # de
        "einzelnachweise", "weblinks", "siehe auch", "literatur", "anmerkungen", "quellen",
        # fr
        "références", "voir aussi", "liens externes", "notes et références",
        "bibliographie", "articles connexes",
        # es
        "referencias", "véase también", "enlaces externos", "bibliografía", "notas",
    }
)  # fmt: skip

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
_HEADING = re.compile(r"^(={1,6})(.+?)\1[ \t]*$", re.M)
_EMPTY_PARENS = re.compile(r"\([^\S\n]*[,;:]?[^\S\n]*\)|（[^\S\n]*[、，]?[^\S\n]*）")
_SPACE = re.compile(r"\s+")
# " ." left where a ref or template stood; only , and . (French spaces ; : ! ? on purpose)
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[,.](?:\s|\Z))")
_NOWIKI = re.compile(r"<nowiki\s*>(.*?)</nowiki\s*>|<nowiki\s*/>", re.S | re.I)
_NOWIKI_ESCAPES = str.maketrans({c: f"&#{ord(c)};" for c in "{}[]|<>'=&_"})
_RESIDUE = re.compile(r"\{\{|\}\}|\[\[|\]\]|\{\||\|\}|<ref\b[^>]*>?|</ref>", re.I)
_HAS_WORD = re.compile(r"\w")


class WikitextError(ValueError):
    """A page whose wikitext the parser gives up on."""


def wikitext_to_paragraphs(
    text: str, *, drop_namespaces: Iterable[str] = DEFAULT_DROP_NAMESPACES
) -> list[str]:
    """Plain-text paragraphs of one page's wikitext; headings are boundaries, not text.

    ``drop_namespaces``: lower-case link prefixes (File, Category, localized) to remove.
    Raises WikitextError where the parser gives up.
    """
    drop = drop_namespaces if isinstance(drop_namespaces, frozenset) else frozenset(drop_namespaces)
    text = _strip_blocks(text)
    text = _inline(_drop_stop_sections(text), drop)
    return _paragraphs(text.split("\n"))


def _strip_blocks(text: str) -> str:
    """Remove comments, refs, content-only tags, templates and tables."""
    if "<" in text:
        text = _COMMENT.sub("", text)
        # nowiki content is literal text: escape its markup; _inline unescapes it at the end.
        text = _NOWIKI.sub(lambda m: (m.group(1) or "").translate(_NOWIKI_ESCAPES), text)
        text = _REF.sub("", text)
        text = _DROP_TAG.sub("", text)
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


def _normalise_title(title: str) -> str:
    title = _WIKILINK.sub(lambda m: m.group(1).split("|")[-1], title)
    title = _TAG.sub("", _QUOTES.sub("", title))
    return _SPACE.sub(" ", title).strip().rstrip(":").strip().lower()


def _drop_stop_sections(text: str) -> str:
    """Remove sections whose heading is in STOP_SECTIONS, up to the next heading at that level
    or above. Kept headings become blank lines (paragraph boundaries)."""
    if "=" not in text:
        return text
    out: list[str] = []
    pos = 0
    skip_level = 0  # 0: keeping; n: inside a dropped section of level n
    for m in _HEADING.finditer(text):
        level = len(m.group(1))
        if skip_level and level > skip_level:
            continue  # a subsection of a dropped section
        if not skip_level:
            out.append(text[pos : m.start()])
        skip_level = level if _normalise_title(m.group(2)) in STOP_SECTIONS else 0
        out.append("\n")
        pos = m.end()
    if not skip_level:
        out.append(text[pos:])
    return "".join(out)


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
        prefix = prefix.strip().lower()
        if prefix in drop:
            return "" if not colon_link else (label or rest).strip()
        if prefix in _INTERWIKI:
            return (label or rest).strip()
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
