"""The report page's markup: tables, figure tags and the one self-contained HTML page.

pipeline/report.py decides what the sections say; this module only turns them into HTML (no
CDN, no script beyond the load check below).
"""

from __future__ import annotations

import html


def table(rows: list[dict], columns: list[str]) -> str:
    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(r.get(c, ''))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def img(name: str | None) -> str:
    return f'<img src="{html.escape(name)}" alt="{html.escape(name)}">' if name else ""


STYLE = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1180px;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;"
    "padding:2px 8px;text-align:right}th{background:#f2f2f2}td:first-child{text-align:left}"
    "img{max-width:100%;display:block;margin:.5em 0}h2{border-bottom:1px solid #ddd}"
)
# Lets a headless browser (tests/test_report_browser.py) see that every figure decoded.
LOADED_SCRIPT = (
    "window.addEventListener('load',function(){var i=[].slice.call(document.images);"
    "document.body.setAttribute('data-images-ok',String(i.every(function(m){"
    "return m.complete&&m.naturalWidth>0})));document.body.setAttribute("
    "'data-images',String(i.length))});"
)


def render(title: str, sections: list[tuple[str, str]]) -> str:
    body = "".join(f"<h2>{html.escape(t)}</h2>{b}" for t, b in sections)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<link rel="icon" href="data:,"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style><script>{LOADED_SCRIPT}</script></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )
