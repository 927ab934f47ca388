"""One parsed ``<page>`` of a MediaWiki dump -> the fields an article needs, or the exact
element that is missing.

What the export schemas (MediaWiki's docs/export-0.N.xsd) say, and what follows from it:
- ``<ns>`` exists from export-0.6 on, where it is required. Older dumps (0.3 history exports
  such as pywikibot's Pear page) name the namespace only in the title ("Talk:Pear"), so the
  prefix is looked up in the siteinfo's ``<namespace>`` names (0.3 and later), then in
  MediaWiki's canonical English names. From 0.6 on a page without ``<ns>`` is broken
  (``missing_ns``): guessing from the title there would hide a damaged file.
- A history export holds every revision; the article is the newest one. Dumps write them
  oldest first, but the schema does not promise an order, so the latest timestamp wins and
  position breaks ties (the last of equals).
- An empty ``<text/>`` is valid: it is how a blanked page is exported (aawiki's "Main Page"
  is ``<text bytes="0" .../>``), so that page is read and later dropped as empty. A revision
  without any ``<text>`` element breaks the schema: ``missing_text``, a dead letter.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

MISSING_TITLE = "missing_title"
MISSING_ID = "missing_id"
MISSING_NS = "missing_ns"
MISSING_REVISION = "missing_revision"
MISSING_TEXT = "missing_text"
BAD_ID = "bad_id"
BAD_NS = "bad_ns"

NS_ELEMENT_SINCE = (0, 6)  # the first export schema with <ns>

# MediaWiki's canonical namespace names, valid on every wiki whatever its language.
CANONICAL_NAMESPACES: Mapping[str, int] = {
    "media": -2, "special": -1, "talk": 1, "user": 2, "user talk": 3,
    "project": 4, "project talk": 5, "file": 6, "file talk": 7, "image": 6, "image talk": 7,
    "mediawiki": 8, "mediawiki talk": 9, "template": 10, "template talk": 11,
    "help": 12, "help talk": 13, "category": 14, "category talk": 15,
    "wikipedia": 4, "wikipedia talk": 5, "portal": 100, "portal talk": 101,
    "book": 108, "book talk": 109, "draft": 118, "draft talk": 119,
    "timedtext": 710, "timedtext talk": 711, "module": 828, "module talk": 829,
}  # fmt: skip
_TALK_SUFFIX = " talk"


class PageError(ValueError):
    """A page that breaks the export schema: ``reason`` names the missing element."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class WikiPage:
    title: str
    ns: int
    page_id: int
    text: str  # the newest revision's wikitext ("" for an empty <text/>)
    revision_id: str | None
    timestamp: str | None
    redirect: bool  # the page's <redirect> flag (export-0.4+); the text is checked elsewhere
    revisions: int  # how many the page holds (1 in pages-articles, more in history dumps)


def namespace_of_title(title: str, site_namespaces: Mapping[str, int]) -> int:
    """The namespace key a title's prefix names ("Talk:Pear" -> 1), 0 for an article.

    ``site_namespaces`` maps the dump's lower-cased namespace names to their keys. A prefix
    that is no namespace ("Star Trek: Voyager") leaves the title in namespace 0; "X talk"
    is the talk namespace of a known X.
    """
    prefix, colon, _ = title.partition(":")
    if not colon:
        return 0
    name = " ".join(prefix.replace("_", " ").split()).lower()
    key = site_namespaces.get(name, CANONICAL_NAMESPACES.get(name))
    if key is None and name.endswith(_TALK_SUFFIX):
        subject = name[: -len(_TALK_SUFFIX)]
        subject_key = site_namespaces.get(subject, CANONICAL_NAMESPACES.get(subject))
        key = subject_key + 1 if subject_key is not None and subject_key >= 0 else None
    return key if key is not None else 0


def newest_revision(revisions: list[ET.Element]) -> ET.Element:
    """The latest revision by timestamp (ISO 8601 in UTC, so strings compare as times);
    among equal or missing timestamps the last one written."""
    if len(revisions) == 1:
        return revisions[0]  # pages-articles: no timestamps to read
    return max(enumerate(revisions), key=lambda r: (r[1].findtext("timestamp") or "", r[0]))[1]


def _page_name(title: str | None, page_id: str | None) -> str:
    if title and page_id:
        return f"{title!r} (id {page_id})"
    return repr(title) if title else f"id {page_id}" if page_id else "without title or id"


def _namespace(page: ET.Element, title: str, namespaces: Mapping[str, int],
               version: tuple[int, int] | None) -> int | str:  # fmt: skip
    """The page's namespace key, or the reason it has none."""
    ns = page.findtext("ns")
    if ns is None:
        legacy = version is not None and version < NS_ELEMENT_SINCE
        return namespace_of_title(title, namespaces) if legacy else MISSING_NS
    try:
        return int(ns)
    except ValueError:
        return BAD_NS


def read_page(page: ET.Element, namespaces: Mapping[str, int],
              version: tuple[int, int] | None) -> WikiPage:  # fmt: skip
    """A parsed ``<page>`` -> WikiPage. Raises PageError naming the first missing element
    (title, id, ns, revision, text); its detail names the page and every missing element.

    ``namespaces``: the siteinfo's lower-cased names -> keys; ``version``: the export schema
    (``<mediawiki version="0.3">``), None when the header does not say.
    """
    title, page_id = page.findtext("title"), page.findtext("id")
    revisions = page.findall("revision")
    revision = newest_revision(revisions) if revisions else None
    text = revision.find("text") if revision is not None else None
    ns = _namespace(page, title or "", namespaces, version)
    missing = [
        (reason, element)
        for reason, element, absent in (
            (MISSING_TITLE, "<title>", not title),
            (MISSING_ID, "<id>", not page_id),
            (MISSING_NS, "<ns>", ns == MISSING_NS),
            (MISSING_REVISION, "<revision>", revision is None),
            (MISSING_TEXT, "<text> in its newest revision", revision is not None and text is None),
        )
        if absent
    ]
    if missing:
        since = " (required from export-0.6 on)" if missing[0][0] == MISSING_NS else ""
        lacks = ", ".join(element for _, element in missing)
        raise PageError(missing[0][0], f"page {_page_name(title, page_id)} has no {lacks}{since}")
    if ns == BAD_NS:
        name = _page_name(title, page_id)
        raise PageError(BAD_NS, f"page {name}: <ns> {page.findtext('ns')!r} is not an integer")
    assert title and page_id and revision is not None and text is not None and isinstance(ns, int)
    if not page_id.strip().isdigit():
        raise PageError(BAD_ID, f"page {title!r}: <id> {page_id!r} is not a positive integer")
    return WikiPage(
        title=title,
        ns=ns,
        page_id=int(page_id),
        text=text.text or "",
        revision_id=revision.findtext("id"),
        timestamp=revision.findtext("timestamp"),
        redirect=page.find("redirect") is not None,
        revisions=len(revisions),
    )
