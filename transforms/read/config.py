"""The readers' configuration: a leaf module, so the source dispatcher and every reader import
it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

TextFormat = Literal["lines", "blank_line", "file", "jsonl", "tsv"]
TEXT_FORMATS: tuple[str, ...] = get_args(TextFormat)


@dataclass(frozen=True)
class ReaderConfig:
    text_format: TextFormat = "lines"
    text_field: str = "text"  # jsonl
    tsv_columns: tuple[str, ...] = ("id", "lang", "text")  # tsv (tatoeba: id<TAB>lang<TAB>text)
    max_record_bytes: int | None = 20_000_000  # larger records -> dead letter, "too_large"
    lang_hint: str | None = None  # e.g. "ja" for a jawiki dump; None = detect later
    streams_per_range: int = 100  # wiki multistream dumps: bz2 streams (~100 pages) per task

    def __post_init__(self) -> None:
        if self.text_format not in TEXT_FORMATS:
            raise ValueError(f"text_format must be one of {TEXT_FORMATS}, got {self.text_format!r}")
        if self.max_record_bytes is not None and self.max_record_bytes <= 0:
            raise ValueError("max_record_bytes must be positive or None")
        if self.text_format == "tsv" and "text" not in self.tsv_columns:
            raise ValueError("tsv_columns must name a 'text' column")
        if self.streams_per_range < 1:
            raise ValueError("streams_per_range must be >= 1")
