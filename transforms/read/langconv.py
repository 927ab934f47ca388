"""Language-conversion markup ``-{...}-`` -> the text one script variant shows.

Wikis written in two scripts (Chinese: Simplified and Traditional; also Serbian, Kazakh,
Uzbek, ...) store one text and convert it per reader. ``-{X}-`` protects X from conversion,
``-{zh-hans:A; zh-hant:B}-`` names each variant's text, and flags before a ``|`` change what
the markup does (MediaWiki's ConverterRule):

- ``H`` (hidden rule) and ``T`` (title rule) and ``-`` (remove a rule): show nothing;
- ``R``: the raw text;
- ``A``, ``D``, no flag, or variant codes as flags (``zh-hans;zh-hant|X``): the chosen
  variant's text, or the text itself where it lists no variants.

The chosen variant is ``variant`` (MediaWiki's fallback chain where the rule lacks it), or the
first one listed: the page is kept in the script its author typed where no choice is made.
"""

from __future__ import annotations

import re

# Innermost -{...}-; "-{{" is a hyphen before a template, not conversion markup.
_CONVERSION = re.compile(r"-\{(?!\{)((?:(?!-\{|\}-).)*)\}-", re.S)
_VARIANT = r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*"
_FLAGS = re.compile(rf"\s*((?:[A-Z+\-]|{_VARIANT})(?:\s*;\s*(?:[A-Z+\-]|{_VARIANT}))*)\s*;?\s*\|")
# Where one variant's text starts: "zh-hans:" at the start or after ";" (or "src=>zh-tw:").
_RULE_START = re.compile(rf"(?:\A|;)\s*(?:[^;]*?=>\s*)?({_VARIANT})\s*:")
_SHOW_NOTHING = frozenset({"H", "T", "-"})
# Whether a page holds any "-{": most pages hold none, and the regex engine's scan for a
# literal prefix is several times faster than ``"-{" in text`` (3.11's two-character search).
_MARKUP_START = re.compile(r"-\{")
_FALLBACKS = {
    "zh-hans": ("zh-cn", "zh-sg", "zh-my"),
    "zh-hant": ("zh-tw", "zh-hk", "zh-mo"),
    "zh-cn": ("zh-hans", "zh-sg", "zh-my"),
    "zh-sg": ("zh-hans", "zh-cn", "zh-my"),
    "zh-my": ("zh-sg", "zh-hans", "zh-cn"),
    "zh-tw": ("zh-hant", "zh-hk", "zh-mo"),
    "zh-hk": ("zh-mo", "zh-hant", "zh-tw"),
    "zh-mo": ("zh-hk", "zh-hant", "zh-tw"),
}
# The variants a job may choose (ReaderConfig.zh_variant, --zh_variant): those with a fallback
# chain above, so a rule that lacks the exact code still shows the same script.
ZH_VARIANTS: tuple[str, ...] = tuple(_FALLBACKS)


def resolve_conversions(text: str, variant: str | None = None) -> str:
    """Replace every ``-{...}-`` of ``text`` with what ``variant`` shows (see module doc)."""
    n = 1
    while n and _MARKUP_START.search(text):
        text, n = _CONVERSION.subn(lambda m: render_rule(m.group(1), variant), text)
    return text


def render_rule(body: str, variant: str | None = None) -> str:
    """The inside of one ``-{...}-`` -> its displayed text."""
    flags: set[str] = set()
    m = _FLAGS.match(body)
    if m:
        flags = {f.strip() for f in m.group(1).split(";")}
        body = body[m.end() :]
    if flags & _SHOW_NOTHING:
        return ""
    if "R" in flags:
        return body
    variants = _split_variants(body)
    if not variants:
        return body
    return _choose(variants, variant).strip()


def _split_variants(body: str) -> dict[str, str]:
    """``zh-hans:A; zh-hant:B;`` -> {"zh-hans": "A", "zh-hant": "B"}, in order; {} for raw
    text (a rule must start with a variant code)."""
    starts = list(_RULE_START.finditer(body))
    if not starts or starts[0].start() != 0:
        return {}
    out: dict[str, str] = {}
    for m, nxt in zip(starts, starts[1:] + [None], strict=True):
        end = nxt.start() if nxt else len(body)
        out.setdefault(m.group(1), body[m.end() : end].rstrip().rstrip(";"))
    return out


def _choose(variants: dict[str, str], variant: str | None) -> str:
    if variant:
        for code in (variant, *_FALLBACKS.get(variant, ()), "zh"):
            if code in variants:
                return variants[code]
    return next(iter(variants.values()))
