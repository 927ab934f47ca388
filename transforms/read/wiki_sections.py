"""Headings: paragraph boundaries, and which sections are not prose (References, See also,
Bibliography, ... in many languages).

A heading is normally a line of its own (``== History ==``); some pages glue text to it
(``== Kinh tế ==kt chủ yếu ...``), which MediaWiki shows as a literal line. Its author meant a
heading, so the heading ends the paragraph and decides the section, and the text after it is
the section's first line.
"""

from __future__ import annotations

import re

# Section titles (normalised: lower case, no trailing colon) whose sections are not prose:
# notes, references, links and lists of works (bibliographies, discographies, ...).
STOP_SECTIONS = frozenset(
    {
        # en
        "references", "see also", "external links", "further reading", "notes",
        "bibliography", "sources", "footnotes", "citations", "notes and references",
        "references and notes", "works cited", "general references", "external link",
        "works", "selected works", "major works", "list of works", "publications",
        "selected publications", "discography", "filmography", "selected bibliography",
        "selected discography", "selected filmography",
        # ja
        "脚注", "出典", "注釈", "参考文献", "関連項目", "外部リンク", "脚注・出典", "参考資料",
        "作品", "著作", "著書", "ディスコグラフィ",
        # zh
        "參考文獻", "参考资料", "參考資料", "外部链接", "外部連結", "参见", "參見", "参看",
        "參閱", "注释", "註釋", "注解", "註解", "延伸阅读", "延伸閱讀", "相关条目",
        "相關條目", "腳註",
        # uk
        "примітки", "посилання", "див. також", "джерела", "література", "виноски",
        "бібліографія", "твори", "дискографія", "фільмографія",
        # bg
        "бележки", "източници", "вижте също", "външни препратки", "литература",
        "библиография", "дискография", "филмография",
        # ru
        "примечания", "ссылки", "см. также", "источники", "сочинения", "труды",
        "фильмография",
        # de
        "einzelnachweise", "weblinks", "siehe auch", "literatur", "anmerkungen", "quellen",
        "werke", "schriften", "diskografie", "filmografie", "veröffentlichungen",
        # fr
        "références", "voir aussi", "liens externes", "notes et références",
        "bibliographie", "articles connexes", "œuvres", "discographie", "filmographie",
        # es
        "referencias", "véase también", "enlaces externos", "bibliografía", "notas",
        "obras", "publicaciones", "discografía", "filmografía",
        # vi
        "tham khảo", "liên kết ngoài", "xem thêm", "chú thích", "ghi chú", "đọc thêm",
        "tài liệu tham khảo", "nguồn", "thư mục", "danh sách đĩa nhạc", "danh sách tác phẩm",
        "danh sách phim",
        # he
        "הערות שוליים", "קישורים חיצוניים", "ראו גם", "לקריאה נוספת", "ביבליוגרפיה",
        "מקורות", "הערות", "דיסקוגרפיה", "פילמוגרפיה",
        # fa
        "منابع", "پیوند به بیرون", "جستارهای وابسته", "پانویس", "پانویس\u200cها",
        "یادداشت\u200cها", "کتاب\u200cشناسی", "منابع و پانویس",
        # ar, ur
        "مراجع", "المراجع", "وصلات خارجية", "روابط خارجية", "انظر أيضا", "انظر أيضًا",
        "مصادر", "ملاحظات", "حوالہ جات", "بیرونی روابط", "مزید دیکھیے",
        # ko
        "각주", "외부 링크", "같이 보기", "참고 문헌", "참고 자료", "출처", "읽을거리",
        # mr, hi
        "संदर्भ", "बाह्य दुवे", "हे सुद्धा पहा", "संदर्भ आणि नोंदी", "सन्दर्भ",
        "बाहरी कड़ियाँ", "इन्हें भी देखें",
    }
)  # fmt: skip

# A heading line: "== T ==" alone, else "== T == text" (the first closing run of "=" whose
# length matches). Anchored on "\n", not ^ with re.M: sre then jumps between newlines.
_HEADING = re.compile(r"\n(={1,6})(?:(.+?)\1[ \t]*|(.+?)\1(?!=)[ \t]*(\S[^\n]*?))[ \t]*(?=\n|\Z)")
_TITLE_MARKUP = re.compile(r"\[\[(?:[^\[\]|]*\|)?|\]\]|'{2,}|<[^<>]*>")


def normalise_title(title: str) -> str:
    """``'''[[References|Notes]]''':`` -> ``notes``: how titles are looked up."""
    title = _TITLE_MARKUP.sub("", title)
    return " ".join(title.split()).rstrip(":").strip().lower()


def drop_stop_sections(text: str) -> str:
    """Remove sections whose heading is in STOP_SECTIONS, up to the next heading at that level
    or above. Kept headings become blank lines (paragraph boundaries)."""
    if "=" not in text:
        return text
    text = "\n" + text
    out: list[str] = []
    pos = 0
    skip_level = 0  # 0: keeping; n: inside a dropped section of level n
    for m in _HEADING.finditer(text):
        level = len(m.group(1))
        if skip_level and level > skip_level:
            continue  # a subsection of a dropped section
        if not skip_level:
            out.append(text[pos : m.start()])
        title = m.group(2) if m.group(2) is not None else m.group(3)
        skip_level = level if normalise_title(title) in STOP_SECTIONS else 0
        out.append("\n\n")
        pos = m.start(4) if m.group(4) else m.end()  # text glued to the heading stays
    if not skip_level:
        out.append(text[pos:])
    return "".join(out)[1:]
