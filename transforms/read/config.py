"""The readers' configuration: a leaf module (it imports only ``langconv``, itself a leaf, for
the variant names), so the source dispatcher and every reader import it without importing each
other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from transforms.read.langconv import ZH_VARIANTS

TextFormat = Literal["lines", "blank_line", "file", "jsonl", "tsv"]
TEXT_FORMATS: tuple[str, ...] = get_args(TextFormat)
# A text file's format when none is given: from its extension, under any compression suffix
# (a .jsonl read as plain lines lost every record to the curly-brace rule).
FORMAT_OF_EXTENSION: dict[str, TextFormat] = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".tsv": "tsv",
    ".txt": "lines",
}
DEFAULT_TEXT_FORMAT: TextFormat = "lines"  # any other extension
COMPRESSION_SUFFIXES = (".bz2", ".gz", ".zst", ".xz", ".zstd", ".lzma")


def text_format_of(path: str) -> TextFormat:
    """``data/web.jsonl.gz`` -> "jsonl"; ``x.tsv`` -> "tsv"; anything else -> "lines"."""
    name = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1].lower()
    for suffix in COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    dot = name.rfind(".")
    return FORMAT_OF_EXTENSION.get(name[dot:], DEFAULT_TEXT_FORMAT) if dot > 0 else "lines"


def text_format_of_input(pattern: str) -> TextFormat:
    """The format shared by every path of a comma list (by extension); "lines" when they
    differ. It picks the job's quality preset, whose line-record rules are the lenient ones."""
    formats = {text_format_of(p.strip()) for p in pattern.split(",") if p.strip()}
    return formats.pop() if len(formats) == 1 else DEFAULT_TEXT_FORMAT


@dataclass(frozen=True)
class ReaderConfig:
    text_format: TextFormat | None = None  # None: per file, from its extension (text_format_of)
    text_field: str = "text"  # jsonl
    tsv_columns: tuple[str, ...] = ("id", "lang", "text")  # tsv (tatoeba: id<TAB>lang<TAB>text)
    max_record_bytes: int | None = 20_000_000  # larger records -> dead letter, "too_large"
    lang_hint: str | None = None  # e.g. "ja" for a jawiki dump; None = detect later
    streams_per_range: int = 100  # wiki multistream dumps: bz2 streams (~100 pages) per task
    # Uncompressed .xml dumps larger than this are read as equal byte ranges, in parallel
    # (transforms/read/xml_ranges.py); 0: always whole
    xml_range_bytes: int = 4 << 20
    # Script variant that wiki -{zh-hans:A; zh-hant:B}- markup shows; None: the first listed
    zh_variant: str | None = None

    def __post_init__(self) -> None:
        if self.text_format is not None and self.text_format not in TEXT_FORMATS:
            raise ValueError(f"text_format must be one of {TEXT_FORMATS}, got {self.text_format!r}")
        if self.max_record_bytes is not None and self.max_record_bytes <= 0:
            raise ValueError("max_record_bytes must be positive or None")
        if self.text_format in ("tsv", None) and "text" not in self.tsv_columns:
            raise ValueError("tsv_columns must name a 'text' column")
        if self.streams_per_range < 1:
            raise ValueError("streams_per_range must be >= 1")
        if self.xml_range_bytes < 0:
            raise ValueError("xml_range_bytes must be >= 0")
        if self.zh_variant is not None and self.zh_variant not in ZH_VARIANTS:
            raise ValueError(f"zh_variant must be one of {ZH_VARIANTS}, got {self.zh_variant!r}")
