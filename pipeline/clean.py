"""Clean one source into document shards: read -> normalise -> quality -> language -> dedup ->
sentences -> Arrow shards (schemas.document.DOCUMENT_SCHEMA).

    python -m pipeline.clean --source {wiki,books,protein,text} --input GLOB_OR_URI \\
        --output DIR [--lang CODE[,CODE]|auto] [--text_format lines|blank_line|file|jsonl|tsv]
        [--num_shards 16] [--seed 0] [--min_chars N|none] [--no_near_dedup]
        [--keep_dropped [FRACTION]] [--overwrite] [--debug] [Beam flags]

Writes DIR/docs-NNNNN.arrow (sorted by doc_id), DIR/manifest.json, DIR/stats.json (counters
and the ledger input = emitted + dropped + failed) and DIR/rejected/*.jsonl (dead letters).
With --keep_dropped, documents the cleaning steps drop go to DIR/dropped/<step>/ with their reason
(transforms/shared/exclusions.py); pages the readers skip (redirects, ...) are only counted.
Every flag not listed by ``--help`` goes to Beam untouched (runner, workers, Dataflow project).
"""

from __future__ import annotations

import argparse
import functools
import json
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from schemas.document import SOURCES
from transforms.read.config import TEXT_FORMATS  # a leaf module: no Beam import

if TYPE_CHECKING:  # the transforms import Beam: kept out of the way of an instant --help
    from transforms.clean.dedup import DedupConfig
    from transforms.clean.langid import LangIdConfig
    from transforms.clean.normalize import NormalizeConfig
    from transforms.clean.quality import QualityConfig
    from transforms.clean.sentences import SentenceConfig
    from transforms.read.config import ReaderConfig
    from transforms.shared.exclusions import KeepDropped

_QUALITY_BOUNDS = ("min_chars", "max_chars", "min_words", "max_words")


def _bound(value: str) -> str:
    if value.lower() not in ("none", "off") and not value.isdigit():
        raise argparse.ArgumentTypeError(
            f"expected a non-negative integer or 'none', got {value!r}"
        )
    return value.lower()


def _fraction(value: str) -> float:
    try:
        fraction = float(value)
    except ValueError:
        fraction = -1.0
    if not 0.0 < fraction <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {value!r}")
    return fraction


def add_clean_args(parser) -> None:
    """Our flags (everything else goes to Beam, see pipeline.job)."""
    from transforms.read.langconv import ZH_VARIANTS  # imports only re: --help stays instant

    parser.add_argument("--source", required=True, choices=SOURCES)
    parser.add_argument("--input", required=True, help="comma list of files, globs, URIs")
    parser.add_argument("--output", required=True, help="output folder (local or gs://...)")
    parser.add_argument(
        "--lang", default="auto", help="CODE[,CODE]: keep only these languages; auto: keep all"
    )
    parser.add_argument("--lang_hint", default=None, help="language of the whole input, if known")
    parser.add_argument(
        "--text_format",
        default=None,
        choices=TEXT_FORMATS,
        help="--source text: the files' format (default: per file from the extension, under "
        "any .gz/.bz2/.zst suffix: .jsonl/.json -> jsonl, .tsv -> tsv, otherwise lines)",
    )
    parser.add_argument("--text_field", default="text", help="jsonl field holding the text")
    parser.add_argument("--tsv_columns", default="id,lang,text", help="tsv column names")
    parser.add_argument(
        "--streams_per_range",
        type=int,
        default=100,
        help="wiki multistream dumps (index beside the dump): bz2 streams per parallel read",
    )
    parser.add_argument(
        "--xml_range_mb",
        type=float,
        default=4.0,
        help="--source wiki: an uncompressed .xml dump larger than this is read as equal byte "
        "ranges of at most this many MiB, in parallel (0: read every file whole)",
    )
    parser.add_argument(
        "--zh_variant",
        default=None,
        choices=ZH_VARIANTS,
        help="--source wiki: the script variant -{zh-hans:A; zh-hant:B}- markup shows "
        "(default: the first variant the markup lists, as its author typed it)",
    )
    parser.add_argument("--num_shards", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    for name in _QUALITY_BOUNDS:
        parser.add_argument(
            f"--{name}", type=_bound, default=None, help="override the source preset; 'none': off"
        )
    parser.add_argument("--no_quality", action="store_true", help="skip the quality filters")
    parser.add_argument("--no_exact_dedup", action="store_true")
    parser.add_argument("--no_near_dedup", action="store_true")
    parser.add_argument("--near_dup_threshold", type=float, default=0.8)
    parser.add_argument("--minhash_perm", type=int, default=128)
    parser.add_argument("--minhash_bands", type=int, default=16)
    parser.add_argument("--shingle", type=int, default=5, help="words (chars for CJK/protein)")
    parser.add_argument(
        "--keep_dropped",
        nargs="?",
        type=_fraction,
        const=1.0,
        default=None,
        metavar="FRACTION",
        help="write the documents the cleaning steps drop (normalize, quality, langid, dedup, "
        "sentences), with their reason, to OUTPUT/dropped/<step>/ (Arrow, the document schema "
        "+ drop_reason); FRACTION (default 1) keeps a sample chosen by a hash of --seed and "
        "doc_id. Reader skips (wiki redirects, other namespaces, empty pages) are only counted",
    )


@dataclass(frozen=True)
class CleanConfig:
    source: str
    input: str
    output: str
    reader: ReaderConfig
    normalize: NormalizeConfig
    quality: QualityConfig | None  # None: no quality step
    langid: LangIdConfig
    dedup: DedupConfig
    sentences: SentenceConfig
    num_shards: int = 16
    seed: int = 0
    keep_dropped: KeepDropped | None = None  # None: dropped documents are only counted

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False, default=str)


def config_from_args(args) -> CleanConfig:
    """Parsed flags (PipelineOptions or argparse.Namespace) -> the frozen job config."""
    from transforms.clean.dedup import DedupConfig
    from transforms.clean.langid import LangIdConfig, parse_langs
    from transforms.clean.normalize import NormalizeConfig
    from transforms.clean.quality import quality_preset
    from transforms.clean.sentences import SentenceConfig
    from transforms.read.config import ReaderConfig, text_format_of_input

    reader = ReaderConfig(
        text_format=args.text_format,
        text_field=args.text_field,
        tsv_columns=tuple(c.strip() for c in args.tsv_columns.split(",")),
        lang_hint=args.lang_hint,
        streams_per_range=args.streams_per_range,
        xml_range_bytes=round(args.xml_range_mb * (1 << 20)),
        zh_variant=args.zh_variant,
    )
    quality = None
    if not args.no_quality:
        text_format = args.text_format or text_format_of_input(args.input)
        quality = quality_preset(args.source, text_format)
        bounds = {n: getattr(args, n) for n in _QUALITY_BOUNDS if getattr(args, n) is not None}
        overrides: dict[str, Any] = {
            n: None if v in ("none", "off") else int(v) for n, v in bounds.items()
        }
        quality = replace(quality, **overrides)
    dedup = DedupConfig(
        exact=not args.no_exact_dedup,
        near=not args.no_near_dedup,
        num_perm=args.minhash_perm,
        bands=args.minhash_bands,
        threshold=args.near_dup_threshold,
        shingle=args.shingle,
        seed=args.seed,
    )
    return CleanConfig(
        source=args.source,
        input=args.input,
        output=args.output,
        reader=reader,
        normalize=NormalizeConfig(),
        quality=quality,
        langid=LangIdConfig(langs=parse_langs(args.lang)),
        dedup=dedup,
        sentences=SentenceConfig(),
        num_shards=args.num_shards,
        seed=args.seed,
        keep_dropped=_keep_dropped(args),
    )


def _keep_dropped(args) -> KeepDropped | None:
    from apache_beam.io.filesystems import FileSystems

    from transforms.shared.exclusions import DROPPED_DIR, KeepDropped

    if args.keep_dropped is None:
        return None
    return KeepDropped(
        output_dir=FileSystems.join(args.output, DROPPED_DIR),
        fraction=args.keep_dropped,
        seed=args.seed,
        num_shards=args.num_shards,
    )


def shard_row(doc, num_shards: int) -> tuple:
    """Doc -> WriteShards element: ((shard name, no length bin), (sort key, row))."""
    from schemas.hashing import bucket_of

    return (f"docs-{bucket_of(doc.doc_id, num_shards):05d}", None), (doc.doc_id, doc.to_row())


@functools.cache
def _shard_row_fn():
    import apache_beam as beam

    from transforms.shared.accounting import EMITTED, BeamCount

    class ShardRowFn(beam.DoFn):
        """Doc -> WriteShards element; counts ``emitted``: these are the documents written."""

        def __init__(self, num_shards: int) -> None:
            self.num_shards = num_shards

        def setup(self) -> None:
            self.count = BeamCount()

        def process(self, doc):
            self.count(EMITTED)
            yield shard_row(doc, self.num_shards)

    return ShardRowFn


def build(p, cfg: CleanConfig) -> None:
    """Add the clean job's steps to pipeline ``p``."""
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems

    from schemas.document import DOCUMENT_SCHEMA
    from transforms.clean.dedup import Deduplicate
    from transforms.clean.langid import IdentifyLanguage
    from transforms.clean.normalize import Normalize
    from transforms.clean.quality import QualityFilter
    from transforms.clean.sentences import SplitSentences
    from transforms.read.sources import ReadSource
    from transforms.shared.shardio import SPILL_DIR, WriteRejected, WriteShards

    docs, rejected = p | "Read" >> ReadSource(cfg.source, cfg.input, cfg.reader)
    dead_letters = [rejected]
    keep = cfg.keep_dropped  # None: the steps only count what they drop
    docs, rejected = docs | "Normalize" >> Normalize(cfg.normalize, keep)
    dead_letters.append(rejected)
    if cfg.quality is not None:
        docs, rejected = docs | "Quality" >> QualityFilter(cfg.quality, keep)
        dead_letters.append(rejected)
    docs, rejected = docs | "LangId" >> IdentifyLanguage(cfg.langid, keep)
    dead_letters.append(rejected)
    # Dedup spills under OUTPUT/_spill, which WriteShards removes after the manifest.
    spill = FileSystems.join(cfg.output, SPILL_DIR, "dedup")
    docs = docs | "Dedup" >> Deduplicate(cfg.dedup, temp_dir=spill, keep=keep)
    docs, rejected = docs | "Sentences" >> SplitSentences(cfg.sentences, keep)
    dead_letters.append(rejected)
    _ = (
        docs
        | "ToShardRows" >> beam.ParDo(_shard_row_fn()(cfg.num_shards))
        | "WriteShards"
        >> WriteShards(
            cfg.output, schema=DOCUMENT_SCHEMA, manifest_fields={"config": cfg.to_json()}
        )
    )
    _ = tuple(dead_letters) | "WriteRejected" >> WriteRejected(cfg.output)


def run(argv: list[str] | None = None) -> dict:
    """Run the job as a command (a user error: one ``error:`` line, exit 2); returns the stats
    dict also written to OUTPUT/stats.json."""
    from schemas.cli import run_command

    return run_command(_run, argv)


def run_settings(cfg: CleanConfig) -> dict:
    """What defines a clean run (schemas/run_record.py): the config, inputs made absolute,
    without the output folder it is written to."""
    from schemas.run_record import absolute

    settings = json.loads(cfg.to_json())
    settings.pop("output")
    if isinstance(settings.get("keep_dropped"), dict):
        settings["keep_dropped"].pop("output_dir", None)
    settings["input"] = [absolute(p.strip()) for p in cfg.input.split(",") if p.strip()]
    return settings


def _run(argv: list[str]) -> dict:
    from pipeline.job import new_pipeline, run_and_record
    from schemas.cli import user_errors

    args, p = new_pipeline(
        argv, prog="python -m pipeline.clean", doc=__doc__, add_args=add_clean_args
    )
    with user_errors(ValueError):  # the configs' checks of flag values
        cfg = config_from_args(args)
    build(p, cfg)
    from transforms.shared.exclusions import exclusion_stats

    return run_and_record(
        p,
        job="clean",
        output=cfg.output,
        manifest=True,
        extra=lambda _, counters: exclusion_stats(counters, cfg.keep_dropped),
        settings=run_settings(cfg),  # the config's one home in stats.json: run.settings
    )


if __name__ == "__main__":
    run()
