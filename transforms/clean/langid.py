"""Language identification with py3langid, and the ``--lang`` filter.

Policy (why):
- Codes are py3langid's: ISO 639-1 where one exists, else ISO 639-3 ("kab", "grc"). Source
  hints and ``--lang`` values are mapped to them (Tatoeba "rus" -> "ru", "cmn" -> "zh").
- Only the first ``sample_chars`` characters are classified: the cost is per byte, and a
  couple of thousand characters decide the language as well as a whole book does.
- A source hint (wiki dump language, TSV column) wins: the dump or the annotator knows better
  than a character-n-gram model, above all on short sentences. It is overridden only for a
  hint the model knows (it cannot contradict Kabyle if it has never seen it), and only for a
  language whose script fits the text (``transforms.clean.scripts``):
  - on script evidence: at most ``foreign_script_max_hint_share`` of the letters are in the
    hint language's scripts (Hebrew or Chinese text in a dump whose header says "en": the
    dbpedia he/fa minidumps carry a generic English siteinfo), with at least
    ``foreign_script_min_letters`` letters and the model at ``foreign_script_confidence``.
    The share is generous (0.4) because CJK and Arabic-script articles gloss names and
    terms in Latin letters: 10-37% of the letters of real jawiki and zhwiki pages;
  - otherwise (same script: bg/ru/uk, en/fr) only when the model disagrees with probability
    >= ``override_confidence`` on at least ``override_min_chars`` characters, and never when
    ``hint_script_guard_share`` of the letters are in a non-Latin script the hint language
    uses and the detected one does not (kana in a kanji-heavy Japanese page: ja, not zh).
    Latin letters are no such evidence: every script's text quotes them.
  Each override counts ``lang_hint_overridden`` and ``lang_hint_overridden_<hint>_to_<lang>``.
- Without a hint, a detection below ``min_confidence`` gives "und".
- Protein documents get lang "protein" and skip the model.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import apache_beam as beam

from schemas.document import PROTEIN
from transforms.clean.scripts import LATIN, script_counts, scripts_of, share
from transforms.read.rawdoc import RawDoc
from transforms.shared.accounting import Count, CounterDict, dropped
from transforms.shared.cleanstep import CleanStepFn, apply_step
from transforms.shared.exclusions import KeepDropped

DROPPED_WRONG_LANG = dropped("wrong_lang")
HINT_OVERRIDDEN = "lang_hint_overridden"
UNDETERMINED = "und"

# ISO 639-3 / 639-2 codes (and macrolanguage members) -> the code py3langid reports.
_ISO3_TO_LANGID = {
    "afr": "af", "amh": "am", "arb": "ar", "ara": "ar", "arg": "an", "asm": "as",
    "aze": "az", "azj": "az", "bak": "ba", "bel": "be", "ben": "bn", "bod": "bo",
    "bos": "bs", "bre": "br", "bul": "bg", "cat": "ca", "ces": "cs", "cze": "cs",
    "cmn": "zh", "zho": "zh", "chi": "zh", "cym": "cy", "wel": "cy", "dan": "da",
    "deu": "de", "ger": "de", "dzo": "dz", "ell": "el", "gre": "el", "eng": "en",
    "epo": "eo", "spa": "es", "est": "et", "ekk": "et", "eus": "eu", "baq": "eu",
    "fas": "fa", "per": "fa", "pes": "fa", "fin": "fi", "fao": "fo", "fra": "fr",
    "fre": "fr", "fry": "fy", "gle": "ga", "gla": "gd", "glg": "gl", "guj": "gu",
    "hau": "ha", "heb": "he", "hin": "hi", "hrv": "hr", "hat": "ht", "hun": "hu",
    "hye": "hy", "arm": "hy", "ind": "id", "ibo": "ig", "isl": "is", "ice": "is",
    "ita": "it", "jpn": "ja", "jav": "jv", "kat": "ka", "geo": "ka", "kaz": "kk",
    "khm": "km", "kan": "kn", "kor": "ko", "kur": "ku", "kmr": "ku", "kir": "ky",
    "lat": "la", "ltz": "lb", "lug": "lg", "lin": "ln", "lao": "lo", "lit": "lt",
    "lav": "lv", "lvs": "lv", "mlg": "mg", "plt": "mg", "mkd": "mk", "mac": "mk",
    "mal": "ml", "mon": "mn", "khk": "mn", "mar": "mr", "msa": "ms", "may": "ms",
    "zsm": "ms", "mlt": "mt", "mya": "my", "bur": "my", "nep": "ne", "npi": "ne",
    "nld": "nl", "dut": "nl", "nno": "nn", "nor": "no", "nob": "no", "oci": "oc",
    "orm": "om", "gaz": "om", "ori": "or", "ory": "or", "pan": "pa", "pol": "pl",
    "pus": "ps", "pbt": "ps", "por": "pt", "que": "qu", "ron": "ro", "rum": "ro",
    "rus": "ru", "kin": "rw", "san": "sa", "sme": "se", "sin": "si", "slk": "sk",
    "slo": "sk", "slv": "sl", "sna": "sn", "som": "so", "sqi": "sq", "alb": "sq",
    "als": "sq", "srp": "sr", "sot": "st", "swe": "sv", "swa": "sw", "swh": "sw",
    "tam": "ta", "tel": "te", "tgk": "tg", "tha": "th", "tuk": "tk", "tgl": "tl",
    "tur": "tr", "tat": "tt", "uig": "ug", "ukr": "uk", "urd": "ur", "uzb": "uz",
    "uzn": "uz", "vie": "vi", "vol": "vo", "wln": "wa", "xho": "xh", "yor": "yo",
    "zul": "zu", "yue": "yue", "wuu": "wuu",
}  # fmt: skip


@dataclass(frozen=True)
class LangIdConfig:
    langs: tuple[str, ...] | None = None  # keep only these (py3langid codes); None = auto
    sample_chars: int = 2000
    min_confidence: float = 0.5
    override_confidence: float = 0.99
    override_min_chars: int = 200
    foreign_script_max_hint_share: float = 0.4
    foreign_script_min_letters: int = 50
    foreign_script_confidence: float = 0.9
    hint_script_guard_share: float = 0.02


def to_langid_code(code: str | None) -> str | None:
    """Map a hint such as "rus", "cmn_Hans", "en-US", "\\N" to py3langid's code (or None)."""
    if not code:
        return None
    code = code.strip().lower().replace("-", "_").split("_")[0]
    if not code.isalpha():
        return None
    return _ISO3_TO_LANGID.get(code, code)


def parse_langs(value: str | None) -> tuple[str, ...] | None:
    """``--lang`` value -> LangIdConfig.langs: "auto" or empty -> None; "en,rus" -> ("en", "ru")."""
    if not value or value.strip().lower() == "auto":
        return None
    codes = (to_langid_code(part) for part in value.split(","))
    return tuple(sorted({c for c in codes if c}))


@functools.cache
def load_identifier():
    """py3langid's model with calibrated probabilities, once per process.

    Decompressing the shipped model (LZMA) takes ~0.4 s, a third of a small job, so the
    loaded identifier is also kept as a pickle under ``$BERTCORPUS_CACHE`` (default
    ~/.cache/bertcorpus), keyed by the package version and model file; a cache that cannot
    be written is simply skipped.
    """
    import pickle

    import py3langid
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    model = Path(MODEL_DIR) / MODEL_FILE
    stat = model.stat()
    cache_dir = Path(os.environ.get("BERTCORPUS_CACHE", Path.home() / ".cache" / "bertcorpus"))
    cached = cache_dir / f"py3langid-{py3langid.__version__}-{stat.st_size}-{stat.st_mtime_ns}.pkl"
    if cached.is_file():
        with open(cached, "rb") as f:
            return pickle.load(f)
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(identifier, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cached)  # atomic: concurrent workers never read a partial file
    except OSError:
        pass
    return identifier


def _sample(doc: RawDoc, limit: int) -> str:
    parts, size = [], 0
    for paragraph in doc.paragraphs:
        parts.append(paragraph[: limit - size])
        size += len(parts[-1]) + 1
        if size >= limit:
            break
    return "\n".join(parts)


def choose_lang(hint: str | None, detected: str, confidence: float, sample_len: int,
                known: frozenset[str], cfg: LangIdConfig,
                letters: Mapping[str, int] | None = None) -> tuple[str, bool]:  # fmt: skip
    """(language, whether the hint was overridden) under the policy in the module docstring.

    ``letters``: the sample's letters per script (``scripts.script_counts``); None skips the
    script evidence and leaves only the probability rule.
    """
    if not hint:
        return (detected if confidence >= cfg.min_confidence else UNDETERMINED), False
    if detected == hint or hint not in known:
        return hint, False
    if letters is not None:
        hint_scripts, detected_scripts = scripts_of(hint, known), scripts_of(detected, known)
        if share(letters, detected_scripts) < 0.5:
            return hint, False  # the model's answer does not fit the text's letters
        foreign = (
            share(letters, hint_scripts) <= cfg.foreign_script_max_hint_share
            and sum(letters.values()) >= cfg.foreign_script_min_letters
            and confidence >= cfg.foreign_script_confidence
        )
        if foreign:
            return detected, True
        distinctive = hint_scripts - detected_scripts - {LATIN}
        if share(letters, distinctive) >= cfg.hint_script_guard_share:
            return hint, False
    overrides = confidence >= cfg.override_confidence and sample_len >= cfg.override_min_chars
    return (detected, True) if overrides else (hint, False)


def identify_language(doc: RawDoc, cfg: LangIdConfig, identifier, count: Count) -> RawDoc | None:
    """RawDoc -> RawDoc with ``lang`` set, or None (counted) when outside ``cfg.langs``."""
    if doc.source == PROTEIN:
        return replace(doc, lang=PROTEIN)
    sample = _sample(doc, cfg.sample_chars)
    detected, confidence = identifier.classify(sample)
    known = frozenset(identifier.nb_classes)
    hint = to_langid_code(doc.lang)
    letters = script_counts(sample) if hint and hint != detected else None
    lang, overridden = choose_lang(hint, detected, confidence, len(sample), known, cfg, letters)
    if overridden:
        count(HINT_OVERRIDDEN)
        count(f"{HINT_OVERRIDDEN}_{hint}_to_{lang}")
    if cfg.langs is not None and lang not in cfg.langs:
        count(DROPPED_WRONG_LANG)
        return None
    return replace(doc, lang=lang)


class _LangIdFn(CleanStepFn):
    step = "langid"

    def setup(self) -> None:
        super().setup()
        self.identifier = load_identifier()

    def apply(self, doc: RawDoc) -> RawDoc | None:
        return identify_language(doc, self.cfg, self.identifier, self.count)

    def dropped_state(self, doc: RawDoc) -> RawDoc:
        """--keep_dropped: the document with the language it was dropped for (identified
        again, without the filter: only dropped documents that are kept pay for this)."""
        identified = identify_language(
            doc, replace(self.cfg, langs=None), self.identifier, CounterDict()
        )
        return identified or doc


class IdentifyLanguage(beam.PTransform):
    """RawDoc -> (RawDoc with lang set, rejected JSON). Counters: dropped_wrong_lang,
    lang_hint_overridden and lang_hint_overridden_<hint>_to_<lang> (informational), failed."""

    def __init__(self, cfg: LangIdConfig = LangIdConfig(), keep: KeepDropped | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.keep = keep  # --keep_dropped: where this step writes the documents it drops

    def expand(self, docs):
        return apply_step(docs, "LangId", _LangIdFn(self.cfg), self.keep)
