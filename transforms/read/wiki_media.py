"""Image, file and category links in any language: recognised by namespace name or by shape.

A dump's ``<siteinfo>`` names its File and Category namespaces, but not every dump has a true
one (the dbpedia minidumps carry a generic English header over Hebrew and Persian pages), and
a wiki also accepts its English canonical names and old aliases. So the localized names of the
larger wikis are tables here, and a link that *looks* like an image is one whatever its
prefix: ``[[X:...|...|250px|...]]`` or ``[[X:a.jpg|thumb|...]]``. MediaWiki's own image options
(thumb, left, 250px, alt=...) are localized too (vi ``nhỏ|phải``, he ``ממוזער|שמאל``, fa
``بندانگشتی|چپ``), and they survived as text before these tables existed.
"""

from __future__ import annotations

import re

# Lower-case File/Image/Media namespace names and aliases (underscores read as spaces).
FILE_NAMESPACES = frozenset(
    {
        "file", "image", "media",
        "datei", "bild",  # de
        "fichier", "média",  # fr
        "archivo", "imagen",  # es
        "файл", "изображение", "медиа", "зображення", "датотека", "слика",  # ru, bg, uk, sr
        "ファイル", "画像", "メディア",  # ja
        "tập tin", "hình", "tệp",  # vi
        "קובץ", "תמונה", "מדיה",  # he
        "پرونده", "تصویر", "رسانه",  # fa
        "ملف", "صورة", "ميديا",  # ar
        "فائل", "زریعہ",  # ur (تصویر as fa)
        "파일", "그림", "미디어",  # ko
        "文件", "檔案", "档案", "图像", "圖像", "媒体", "媒體",  # zh
        "चित्र", "फ़ाइल", "संचिका", "मीडिया",  # hi, mr
        "ficheiro", "arquivo", "imagem", "plik", "grafika", "bestand", "afbeelding",  # pt pl nl
        "dosya", "resim", "berkas", "gambar", "fil", "soubor", "fájl", "kép",  # tr id sv cs hu
        "tiedosto", "kuva", "αρχείο", "εικόνα", "ไฟล์", "ภาพ",  # fi el th
    }
)  # fmt: skip
CATEGORY_NAMESPACES = frozenset(
    {
        "category", "kategorie", "catégorie", "categoría", "категория", "категорія",
        "категорија", "カテゴリ",
        "thể loại", "קטגוריה", "رده", "تصنيف", "زمرہ", "분류", "分类", "分類",  # vi he fa ar ur ko zh
        "श्रेणी", "वर्ग", "categoria", "kategoria", "categorie", "kategori",  # hi mr it/pt pl nl tr
        "luokka", "kategória", "κατηγορία", "หมวดหมู่",  # fi hu el th
    }
)  # fmt: skip
# Link prefixes whose target is not prose (``wiki_xml.parse_siteinfo`` adds the dump's own).
DEFAULT_DROP_NAMESPACES = FILE_NAMESPACES | CATEGORY_NAMESPACES

# Image options that stand alone: MediaWiki's English magic words, then localisations.
IMAGE_WORDS = frozenset(
    {
        "thumb", "thumbnail", "frame", "framed", "frameless", "left", "right", "center",
        "centre", "none", "border", "upright", "baseline", "middle", "sub", "super", "top",
        "text-top", "bottom", "text-bottom",
        "nhỏ", "phải", "trái", "giữa", "khung", "không", "viền", "đứng",  # vi
        "ממוזער", "ימין", "שמאל", "מרכז", "ממוסגר", "מסגרת", "ללא",  # he
        "بندانگشتی", "چپ", "راست", "وسط", "قاب", "بی\u200cقاب", "ایستاده",  # fa
        "مصغر", "يمين", "يسار", "مركز", "إطار", "بدون",  # ar
        "تصغیر", "دائیں", "بائیں", "درمیان",  # ur
        "섬네일", "썸네일", "왼쪽", "오른쪽", "가운데", "프레임", "없음",  # ko
        "缩略图", "縮圖", "右", "左", "居中", "无", "無", "有框", "无框",  # zh
        "サムネイル", "中央", "なし", "フレーム",  # ja
        "мини", "миниатюра", "справа", "слева", "центр", "без", "рамка",  # ru
        "мініатюра", "праворуч", "ліворуч", "міні",  # uk
        "mini", "miniatur", "rechts", "links", "zentriert", "ohne", "rahmen",  # de
        "vignette", "droite", "gauche", "centré", "néant", "cadre",  # fr
        "miniatura", "derecha", "izquierda", "centro", "ninguno", "marco",  # es
        "esquerda", "direita", "destra", "sinistra", "centrato", "miniaturadaimagem",  # pt it
        "अंगूठाकार", "दायें", "बायें", "केंद्र", "इवलेसे", "डावीकडे", "उजवीकडे",  # hi mr
    }
)  # fmt: skip
# Option names before "=": alt=, link=, ... and localisations (vi thế=, liên kết=).
IMAGE_KEYS = frozenset(
    {
        "alt", "link", "page", "class", "lang", "upright", "thumb", "thumbnail", "thumbtime",
        "start", "end", "border",
        "thế", "liên kết", "קישור", "טקסט", "پیوند", "جایگزین", "وصلة", "بديل", "링크",
        "대체글", "链接", "替代", "リンク", "ссылка", "альт", "посилання", "verweis",
        "alternativtext", "lien", "vínculo", "enlace", "collegamento", "ligação",
    }
)  # fmt: skip
# 250px, 247x247px, x120px, 250 px, localized units (пкс, پیکسل, 像素, 픽셀).
_SIZE = re.compile(r"\s*(?:\d+\s*(?:[x×]\s*\d+\s*)?|[x×]\s*\d+\s*)(?:px|пкс|پیکسل|像素|픽셀)\s*\Z")
_MEDIA_EXT = "jpe?g|png|gif|svg|tiff?|webp|bmp|xcf|ogg|ogv|oga|webm|mp3|wav|flac|midi?|pdf|djvu|stl"
_MEDIA_FILE = re.compile(rf"\.(?:{_MEDIA_EXT})\s*\Z", re.I)
# A line that is a bare gallery entry "File:x.jpg|caption" (a gallery whose tag was lost, or
# one written as a template argument): any short prefix, a media file name, options.
MEDIA_LINE = re.compile(
    rf"\n[ \t]*[^\W\d][^:|\[\]\n]{{0,30}}:[^|\n\[\]]*\.(?:{_MEDIA_EXT})[ \t]*(?:\|[^\n]*)?(?=\n)",
    re.I,
)
# A link the text ends inside ("[[File:x.png|thumb|caption" and a table): up to the line end.
UNCLOSED_LINK = re.compile(r"\[\[[ \t]*:?([^\[\]|\n:]{1,40}):[^\n]*")


def namespace_key(prefix: str) -> str:
    """``Tập_tin`` -> ``tập tin``: how namespace names are compared."""
    return " ".join(prefix.replace("_", " ").split()).lower()


def is_image_option(param: str) -> bool:
    """One ``|``-separated part of a link: 250px, thumb, nhỏ, alt=..., liên_kết=..."""
    p = param.strip()
    if not p:
        return False
    key, eq, _ = p.partition("=")
    if eq:
        return namespace_key(key) in IMAGE_KEYS
    return p.lower() in IMAGE_WORDS or _SIZE.match(p) is not None


def looks_like_media(target: str, params: list[str]) -> bool:
    """Whether ``[[prefix:target|params...]]`` is an image, whatever the prefix's language.

    A media file name, a size, or an image option among two or more parameters: one lone
    word such as ``right`` can be the label of an ordinary link.
    """
    if _MEDIA_FILE.search(target):
        return True
    if any(_SIZE.match(p) for p in params):
        return True
    return len(params) >= 2 and any(is_image_option(p) for p in params)


def drop_unclosed_media(text: str, drop: frozenset[str]) -> str:
    """Remove the rest of a line where an image or category link is never closed."""

    def repl(m: re.Match) -> str:
        prefix = namespace_key(m.group(1))
        target, _, params = m.group().partition("|")
        media = prefix in drop or looks_like_media(target, params.split("|") if params else [])
        return "" if media else m.group()

    return UNCLOSED_LINK.sub(repl, text)
