"""MediaWiki XML dump (pages-articles) -> RawDoc per namespace-0 article.

The byte stream is cut into ``<page>...</page>`` fragments as it arrives (``wiki_split``) and
each fragment is parsed on its own with ElementTree. Memory stays at one page (at most
``max_record_bytes``), and a syntax error costs only the page that holds it: expat cannot resume
after an error, so one streaming parse of the whole dump would lose every page after it.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from transforms.read.config import ReaderConfig
from transforms.read.rawdoc import RawDoc
from transforms.read.textlines import (
    READ_DOCS,
    TOO_LARGE,
    UNDECODABLE,
    FileRejected,
    file_stem,
    reject,
)
from transforms.read.wiki_page import PageError, WikiPage, read_page
from transforms.read.wiki_split import split_pages
from transforms.read.wikitext import DEFAULT_DROP_NAMESPACES, WikitextError, wikitext_to_paragraphs
from transforms.shared.accounting import DROPPED_EMPTY, INPUT, Count, Rejected, dropped

DROPPED_REDIRECT = dropped("redirect")
DROPPED_NAMESPACE = dropped("namespace")
MALFORMED_XML = "malformed_xml"
FAILED_RANGES = "failed_ranges"  # range-level dead letters; like failed_files, not in the ledger

_DROP_NS_KEYS = ("-2", "6", "14")  # Media, File, Category: links to them are not prose
_NAMESPACE = re.compile(rb'<namespace\s+key="(-?\d+)"[^>]*>([^<]*)</namespace>')
_DBNAME = re.compile(rb"<dbname>([^<]*)</dbname>")
_XML_LANG = re.compile(rb'<mediawiki\b[^>]*?\sxml:lang="([^"]+)"')
_VERSION = re.compile(rb'<mediawiki\b[^>]*?\sversion="(\d+)\.(\d+)"')
_XMLNS_VERSION = re.compile(rb'<mediawiki\b[^>]*?\sxmlns="[^"]*/export-(\d+)\.(\d+)/?"')
_DECLARED = re.compile(rb'^\s*<\?xml[^>]*?encoding=["\']([A-Za-z0-9._-]+)["\']')
_TITLE = re.compile(rb"<title>([^<]*)</title>")
_PAGE_ID = re.compile(rb"<id>(\d+)</id>")  # searched before the first <revision> only
_REDIRECT_TEXT = re.compile(
    r"\s*#\s*(?:redirect|weiterleitung|redirection|redirección|перенаправление|перенаправлення"
    r"|пренасочване|転送|リダイレクト)\b",
    re.I,
)


@dataclass(frozen=True)
class SiteInfo:
    """What a dump's header says about every page in it."""

    dbname: str | None
    lang: str | None
    drop_namespaces: frozenset[str]
    encoding: str = "utf-8"
    # lower-cased namespace name -> key; resolves title prefixes where pages lack <ns>
    namespaces: Mapping[str, int] = field(default_factory=dict, hash=False)
    export_version: tuple[int, int] | None = None  # <mediawiki version="0.3">: (0, 3)


def parse_siteinfo(header: bytes) -> SiteInfo:
    """The bytes before the first ``<page>``: dbname, language and File/Category names.

    Read with regexes so a dump without ``<siteinfo>`` (or with a damaged one) still reads.
    """
    if b"<mediawiki" not in header:
        raise FileRejected("not_mediawiki_xml", "no <mediawiki> element before the first page")
    declared = _DECLARED.match(header)
    encoding = declared.group(1).decode().lower() if declared else "utf-8"
    if encoding.startswith("utf-16") or encoding.startswith("utf16"):
        encoding = "utf-8"  # the reader transcodes UTF-16 streams before they get here
    namespaces = {
        " ".join(name.decode(encoding).split()).lower(): int(key)
        for key, name in _NAMESPACE.findall(header)
        if name.strip()
    }
    names = {name for name, key in namespaces.items() if str(key) in _DROP_NS_KEYS}
    db = _DBNAME.search(header)
    dbname = db.group(1).decode(encoding).strip() if db else None
    lang_m = _XML_LANG.search(header)
    lang = lang_m.group(1).decode() if lang_m else None
    if lang is None and dbname and dbname.endswith("wiki"):
        lang = dbname[: -len("wiki")].replace("_", "-")
    version_m = _VERSION.search(header) or _XMLNS_VERSION.search(header)
    version = (int(version_m.group(1)), int(version_m.group(2))) if version_m else None
    drop = DEFAULT_DROP_NAMESPACES | frozenset(names)
    return SiteInfo(dbname, lang, drop, encoding, namespaces, version)


def read_wiki_dump(
    stream: BinaryIO, *, source_file: str, cfg: ReaderConfig, count: Count
) -> Iterator[RawDoc | Rejected]:
    """One dump (decompressed, UTF-8 or declared-encoding bytes) -> RawDoc per article.

    Counters: input (one per page), read_docs, dropped_namespace, dropped_redirect,
    dropped_empty, failed (malformed_xml, missing_title/_id/_ns/_revision/_text, bad_id,
    bad_ns, undecodable, too_large).
    Raises FileRejected for a file that is not a MediaWiki dump or ends inside a page.
    """
    site: SiteInfo | None = None
    stem = file_stem(source_file)
    pages = 0
    for kind, data in split_pages(stream, cfg.max_record_bytes):
        if kind == "header":
            site = parse_siteinfo(data)
            continue
        assert site is not None
        rid = _record_id(data, site, stem)
        if kind == "truncated":
            raise FileRejected("truncated_file", f"stream ends inside page {rid} after {pages}")
        if kind == "no_end":
            raise FileRejected("truncated_file", f"no </mediawiki> after {pages} pages")
        pages += 1
        yield from read_page_event(kind, data, site, source_file=source_file, cfg=cfg, count=count)
    if site is None:
        raise FileRejected("empty_file")
    if not pages:
        raise FileRejected("no_pages", "a MediaWiki header but no <page>")


def read_page_event(
    kind: str, data: bytes, site: SiteInfo, *, source_file: str, cfg: ReaderConfig, count: Count
) -> Iterator[RawDoc | Rejected]:
    """One ``split_pages`` event inside the page list (page, too_large, unclosed, stray) ->
    RawDoc or dead letter. Shared by the whole-dump and the multistream range readers."""
    stem = _file_stem(source_file)
    count(INPUT)
    if kind == "page":
        yield from _page_to_doc(data, site, stem, source_file, cfg, count)
    elif kind == "too_large":
        detail = f"page {_title_of(data)!r} over {cfg.max_record_bytes} B"
        yield reject(
            count, source_file, _record_id(data, site, stem), TOO_LARGE, detail, data[:500]
        )
    else:  # a page with no </page>, or bytes outside any page
        detail = "no </page> before the next <page>" if kind == "unclosed" else "outside <page>"
        rid = _record_id(data, site, stem)
        yield reject(count, source_file, rid, MALFORMED_XML, detail, data[:500])


class PageRange(Protocol):
    """A byte range of a dump read on its own (multistream.StreamRange, xml_ranges.XmlRange)."""

    @property
    def path(self) -> str: ...

    @property
    def site(self) -> SiteInfo: ...

    @property
    def record_id(self) -> str: ...


def read_range_pages(
    rng: PageRange,
    events: Iterator[tuple[str, bytes]],
    *,
    cfg: ReaderConfig,
    count: Count,
) -> Iterator[RawDoc | Rejected]:
    """A range's page events (``split_pages`` kinds, what lies outside its pages already
    dealt with by ``events``) -> RawDocs and record dead letters exactly as read_wiki_dump
    gives for those pages. A range that cannot be read on (``events`` raises one of
    read_errors) becomes one dead letter naming the byte range (counter failed_ranges), and
    the pages read before are kept."""
    from transforms.read.files import read_errors, read_failure

    pages = 0
    try:
        for kind, data in events:
            pages += 1
            yield from read_page_event(
                kind, data, rng.site, source_file=rng.path, cfg=cfg, count=count
            )
        return
    except read_errors() as e:
        reason, detail = read_failure(e)
    count(FAILED_RANGES)
    detail = f"{rng.record_id}: {detail} ({pages} pages read before)"
    yield Rejected(rng.path, rng.record_id, reason, detail)


# Once per file, not once per page (the range reader calls read_page_event page by page).
_file_stem = functools.lru_cache(maxsize=64)(file_stem)


def _record_id(page: bytes, site: SiteInfo, stem: str) -> str:
    """The page's would-be doc_id, or its title where the id cannot be found."""
    revision = page.find(b"<revision")
    m = _PAGE_ID.search(page, 0, revision if revision >= 0 else len(page))
    return f"wiki:{site.dbname or stem}:{m.group(1).decode()}" if m else _title_of(page)


def _title_of(page: bytes) -> str:
    m = _TITLE.search(page)
    return m.group(1).decode("utf-8", "replace") if m else ""


def _parse_page(
    data: bytes, site: SiteInfo, stem: str, source_file: str, count: Count
) -> WikiPage | Rejected:
    """A page's bytes -> its fields, or the dead letter saying what is wrong with it."""
    try:
        xml = data.decode(site.encoding)
    except UnicodeDecodeError as e:
        detail = f"page {_title_of(data)!r}: {e}"
        excerpt = data[max(0, e.start - 60) : e.end + 60]
        rid = _record_id(data, site, stem)  # here and below: only a dead letter needs it
        return reject(count, source_file, rid, UNDECODABLE, detail, excerpt)
    try:
        return read_page(ET.fromstring(xml), site.namespaces, site.export_version)
    except ET.ParseError as e:
        rid = _record_id(data, site, stem)
        return reject(count, source_file, rid, MALFORMED_XML, f"{rid}: {e}", xml[:500])
    except PageError as e:
        rid = _record_id(data, site, stem)
        return reject(count, source_file, rid, e.reason, str(e), xml[:500])


def _page_to_doc(
    data: bytes, site: SiteInfo, stem: str, source_file: str, cfg: ReaderConfig, count: Count
) -> Iterator[RawDoc | Rejected]:
    page = _parse_page(data, site, stem, source_file, count)
    if isinstance(page, Rejected):
        yield page
        return
    text, page_id = page.text, page.page_id
    if page.redirect or _REDIRECT_TEXT.match(text):
        count(DROPPED_REDIRECT)  # checked first: a redirect is one in any namespace
        return
    if page.ns != 0:
        count(DROPPED_NAMESPACE)
        return
    try:
        paragraphs = wikitext_to_paragraphs(
            text, drop_namespaces=site.drop_namespaces, zh_variant=cfg.zh_variant
        )
    except WikitextError as e:
        rid = f"wiki:{site.dbname or stem}:{page_id}"
        yield reject(count, source_file, rid, "wikitext_error", str(e), text[:500])
        return
    if not paragraphs:
        count(DROPPED_EMPTY)
        return
    count(READ_DOCS)
    yield RawDoc(
        doc_id=f"wiki:{site.dbname or stem}:{page_id}",
        source="wiki",
        paragraphs=tuple(paragraphs),
        title=page.title,
        lang=cfg.lang_hint or site.lang,
        source_file=source_file,
        metadata={
            "page_id": page_id,
            "revision_id": page.revision_id,
            "timestamp": page.timestamp,
            "dbname": site.dbname,
        },
    )
