"""Document quality filters: Gopher (MassiveText) heuristics and repetition rules, C4 rules.

Each rule is a field of ``QualityConfig``; ``None`` (or False) turns it off. A document is
dropped by the first rule it fails, counted once as ``dropped_<rule>``.

- Scripts written without spaces (Han, kana, Thai, Lao, Khmer, Myanmar, Tibetan): every such
  character counts as one word for the word-count bounds; the rules that presume spaced words
  (mean word length, alphabetic-word fraction, word n-gram repetition) are skipped when more
  than 30% of the letters are of those scripts.
- Repetition: duplicate line/paragraph fractions (by count and by characters), the top 2-,3-,
  4-gram character fractions and the duplicate 5..10-gram character fractions of Gopher, all
  on lower-cased whitespace words. Word n-grams are hashed with numpy, not tuples.
- C4: "lorem ipsum" anywhere; a "please enable JavaScript" browser notice (C4 drops such
  lines; we drop the document, since a page that needs it is mostly boilerplate); a curly
  brace (code). Wiki and books presets switch the last two off: articles about programming
  languages legitimately contain both.
- Protein sequences skip the text rules: only length (residues) and alphabet are checked.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import apache_beam as beam

from schemas.document import PROTEIN
from transforms.clean.repetition import WordIds, dup_fractions, ngram_stats, word_ids
from transforms.read.rawdoc import RawDoc
from transforms.shared.accounting import Count, dropped
from transforms.shared.alphabets import PROTEIN_ALPHABET, UNSPACED
from transforms.shared.cleanstep import CleanStepFn, apply_step
from transforms.shared.exclusions import KeepDropped

# Words without a letter but with a digit ("1944", "12.5%") in group 1; punctuation-only
# tokens such as a dash between clauses (group 1 empty) are not words for the alphabetic-word
# rule. One scan finds both kinds (a token is one or the other, never both). A token matches
# with its leading whitespace (the text gets one in front) rather than behind a (?<!\S)
# lookbehind: a pattern that starts with a character class lets the regex engine skip to the
# next whitespace, which halves the scan.
_NON_WORD_TOKEN = re.compile(r"\s(?:([^\w\s]*[\d_](?:[^\w\s]|[\d_])*)|[^\w\s]+)(?!\S)")
_JS_NOTICE = re.compile(r"javascript[^\n]*(?:enable|browser)|(?:enable|browser)[^\n]*javascript")
_SYLLABIC = re.compile("[\u1100-\u11ff\u1200-\u137f\u3130-\u318f\uac00-\ud7af]")
# (each word's id: the index of its first occurrence, each word's length), as two arrays


@dataclass(frozen=True)
class QualityConfig:
    min_chars: int | None = 200
    max_chars: int | None = None
    min_words: int | None = 50
    max_words: int | None = 100_000
    min_mean_word_length: float | None = 3.0
    max_mean_word_length: float | None = 10.0
    max_symbol_word_ratio: float | None = 0.1  # '#' and ellipses, each
    max_ellipsis_line_fraction: float | None = 0.3
    min_alpha_word_fraction: float | None = 0.8
    max_dup_line_fraction: float | None = 0.3
    max_dup_paragraph_fraction: float | None = 0.3
    max_dup_line_char_fraction: float | None = 0.2
    max_dup_paragraph_char_fraction: float | None = 0.2
    max_top_ngram_char_fraction: tuple[tuple[int, float], ...] | None = (
        (2, 0.20),
        (3, 0.18),
        (4, 0.16),
    )
    max_dup_ngram_char_fraction: tuple[tuple[int, float], ...] | None = (
        (5, 0.15),
        (6, 0.14),
        (7, 0.13),
        (8, 0.12),
        (9, 0.11),
        (10, 0.10),
    )
    c4_lorem_ipsum: bool = True
    c4_javascript_notice: bool = True
    c4_curly_brace: bool = True


_SENTENCE_RECORDS = QualityConfig(
    min_chars=None,
    min_words=None,
    min_mean_word_length=None,
    max_mean_word_length=None,
    max_symbol_word_ratio=None,
    max_ellipsis_line_fraction=None,
    max_dup_line_fraction=None,
    max_dup_paragraph_fraction=None,
    max_dup_line_char_fraction=None,
    max_dup_paragraph_char_fraction=None,
    max_top_ngram_char_fraction=None,
    max_dup_ngram_char_fraction=None,
)


def quality_preset(source: str, text_format: str = "lines") -> QualityConfig:
    """Defaults per source. Line/TSV text records are single sentences (Tatoeba-like), so
    document-level rules would drop them all; they keep the per-word and C4 rules only."""
    if source == PROTEIN:
        return QualityConfig(min_chars=30, max_chars=None)
    if source == "wiki":
        return QualityConfig(c4_javascript_notice=False, c4_curly_brace=False)
    if source == "books":
        return QualityConfig(max_words=None, c4_javascript_notice=False, c4_curly_brace=False)
    if text_format in ("lines", "tsv"):
        return _SENTENCE_RECORDS
    return QualityConfig()


def _protein_failure(doc: RawDoc, cfg: QualityConfig) -> str | None:
    seq = "".join(doc.paragraphs)
    if cfg.min_chars is not None and len(seq) < cfg.min_chars:
        return "too_short"
    if cfg.max_chars is not None and len(seq) > cfg.max_chars:
        return "too_long"
    if not PROTEIN_ALPHABET.issuperset(seq):
        return "invalid_residues"
    return None


def _c4_failure(text: str, lower: str, cfg: QualityConfig) -> str | None:
    if cfg.c4_lorem_ipsum and "lorem ipsum" in lower:
        return "lorem_ipsum"
    if cfg.c4_javascript_notice and "javascript" in lower and _JS_NOTICE.search(lower):
        return "javascript_notice"
    if cfg.c4_curly_brace and "{" in text:
        return "curly_brace"
    return None


def _is_unspaced(text: str) -> tuple[int, bool]:
    """(characters of unspaced scripts, whether they are over 30% of the non-space ones)."""
    if text.isascii():
        return 0, False
    unspaced = len(text) - len(UNSPACED.sub("", text))
    if not unspaced:
        return 0, False
    letters = len(text) - text.count(" ") - text.count("\n")  # near enough for a 30% cut
    return unspaced, unspaced > 0 and unspaced > 0.3 * letters


def _non_word_tokens(text: str, words: list[str]) -> tuple[int, int]:
    """(words without a letter, punctuation-only tokens) among the whitespace tokens of text.

    ``words`` are those tokens lower-cased, and lower-casing keeps the class of every character
    (letter, digit or "_", other, space; checked over all code points): a word that is all
    letters (isalpha, in C) is neither kind, so the regex scans only the rest (a sixth).
    U+1361 splits ``words`` where it does not split text: then the text itself is scanned.
    """
    if "\u1361" in text:
        tokens = _NON_WORD_TOKEN.findall(f" {text}")
    else:
        tokens = _NON_WORD_TOKEN.findall(" " + " ".join(itertools.filterfalse(str.isalpha, words)))
    punct_tokens = tokens.count("")
    return len(tokens) - punct_tokens, punct_tokens


def _is_syllabic(text: str) -> bool:
    return not text.isascii() and len(_SYLLABIC.findall(text)) > 0.3 * len(text)


def _word_failure(
    text: str,
    words: list[str],
    ids: WordIds | None,
    unspaced_info: tuple[int, bool],
    cfg: QualityConfig,
) -> str | None:
    unspaced, mostly_unspaced = unspaced_info
    units = unspaced + len(UNSPACED.sub(" ", text).split()) if unspaced else len(words)
    if cfg.min_words is not None and units < cfg.min_words:
        return "too_few_words"
    if cfg.max_words is not None and units > cfg.max_words:
        return "too_many_words"
    if cfg.max_symbol_word_ratio is not None:
        hashes, ellipses = text.count("#"), text.count("...") + text.count("…")
        if max(hashes, ellipses) > cfg.max_symbol_word_ratio * max(units, 1):
            return "symbol_ratio"
    if mostly_unspaced or not words:
        return None  # the per-word rules below presume words separated by spaces
    if ids is not None:  # there is a mean-length rule
        mean_len = int(ids[1].sum()) / len(words)
        too_short = cfg.min_mean_word_length is not None and mean_len < cfg.min_mean_word_length
        too_long = cfg.max_mean_word_length is not None and mean_len > cfg.max_mean_word_length
        # Hangul and Ethiopic pack a syllable into each character: Gopher's 3..10 bounds, set
        # for English, do not apply to them.
        if (too_short or too_long) and not _is_syllabic(text):
            return "mean_word_length"
    if cfg.min_alpha_word_fraction is not None:
        no_letter, punct_tokens = _non_word_tokens(text, words)
        real_words = max(len(words) - punct_tokens, 1)
        if 1 - no_letter / real_words < cfg.min_alpha_word_fraction:
            return "alpha_words"
    return None


def _repetition_failure(doc: RawDoc, lines: list[str], cfg: QualityConfig) -> str | None:
    checks = (
        (cfg.max_dup_line_fraction, cfg.max_dup_line_char_fraction, lines, "line"),
        (
            cfg.max_dup_paragraph_fraction,
            cfg.max_dup_paragraph_char_fraction,
            doc.paragraphs,
            "paragraph",
        ),
    )
    for max_frac, max_char_frac, items, name in checks:
        if max_frac is None and max_char_frac is None:
            continue
        frac, char_frac = dup_fractions(list(items))
        if max_frac is not None and frac > max_frac:
            return f"dup_{name}s"
        if max_char_frac is not None and char_frac > max_char_frac:
            return f"dup_{name}_chars"
    return None


def _ngram_failure(words: list[str], ids: WordIds | None, cfg: QualityConfig) -> str | None:
    top = dict(cfg.max_top_ngram_char_fraction or ())
    dup = dict(cfg.max_dup_ngram_char_fraction or ())
    max_top = max(top, default=0)
    for name, value in ngram_stats(words, top, dup, ids):
        kind, n = name.split("_")[0], int(name.split("_")[1])
        if value > (top if kind == "top" else dup)[n]:
            return f"{name}gram"
        # dup_m <= dup_n for m > n (a repeat of an m-gram is made of repeats of n-grams), so
        # once dup_n is under every larger n's limit, the remaining dup rules pass too.
        if kind == "dup" and n >= max_top and all(value <= v for m, v in dup.items() if m > n):
            return None
    return None


def quality_failure(doc: RawDoc, cfg: QualityConfig) -> str | None:
    """The first rule ``doc`` fails (the counter suffix), or None when it passes all."""
    if doc.source == PROTEIN:
        return _protein_failure(doc, cfg)
    text = "\n".join(doc.paragraphs)
    if cfg.min_chars is not None and len(text) < cfg.min_chars:
        return "too_short"
    if cfg.max_chars is not None and len(text) > cfg.max_chars:
        return "too_long"
    lower = text.lower()
    failure = _c4_failure(text, lower, cfg)
    if failure:
        return failure
    words = lower.replace("\u1361", " ").split()  # Ethiopic wordspace separates words
    unspaced = _is_unspaced(text)
    # Word ids and lengths, for the mean-length rule and the n-gram rules: computed once.
    mean_rule = cfg.min_mean_word_length is not None or cfg.max_mean_word_length is not None
    ids = word_ids(words) if words and not unspaced[1] and mean_rule else None
    failure = _word_failure(text, words, ids, unspaced, cfg)
    if failure:
        return failure
    lines = text.split("\n")
    if cfg.max_ellipsis_line_fraction is not None:
        ellipsis_lines = sum(1 for line in lines if line.endswith(("...", "…")))
        if ellipsis_lines > cfg.max_ellipsis_line_fraction * len(lines):
            return "ellipsis_lines"
    failure = _repetition_failure(doc, lines, cfg)
    if failure or unspaced[1]:
        return failure
    return _ngram_failure(words, ids, cfg)


def filter_quality(doc: RawDoc, cfg: QualityConfig, count: Count) -> RawDoc | None:
    """``doc`` when it passes every enabled rule; else None, counted ``dropped_<rule>``."""
    failure = quality_failure(doc, cfg)
    if failure is None:
        return doc
    count(dropped(failure))
    return None


class _QualityFn(CleanStepFn):
    step = "quality"

    def apply(self, doc: RawDoc) -> RawDoc | None:
        return filter_quality(doc, self.cfg, self.count)


class QualityFilter(beam.PTransform):
    """RawDoc -> (RawDoc passing every rule, rejected JSON). Counters: dropped_<rule>, failed."""

    def __init__(
        self, cfg: QualityConfig = QualityConfig(), keep: KeepDropped | None = None
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.keep = keep  # --keep_dropped: where this step writes the documents it drops

    def expand(self, docs):
        return apply_step(docs, "Quality", _QualityFn(self.cfg), self.keep)
