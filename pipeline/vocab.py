"""Train the vocabulary from cleaned documents: count words (Beam) -> smooth -> train -> TOK_DIR.

    python -m pipeline.vocab --input CLEAN_DIR[,CLEAN_DIR...] --output TOK_DIR --vocab_size N
        [--model wordpiece|unigram|bpe|residues] [--lowercase | --cased] [--alpha 0.7]
        [--max_words N] [--min_count 2] [--holdout_fraction 0.02] [--seed N] [--overwrite]
        [--debug] [Beam flags]

Writes TOK_DIR/{tokenizer.json, vocab.txt, tokenizer_config.json, special_tokens_map.json,
vocab_report.json}, TOK_DIR/stats.json (counters; ledger over documents:
input = emitted (counted) + dropped_holdout (tokenised for the report) + dropped_empty + failed)
and TOK_DIR/rejected/*.jsonl. Every flag not listed by ``--help`` goes to Beam untouched.
"""

from __future__ import annotations

from dataclasses import asdict

from transforms.vocab.config import MODELS  # a leaf module: no Beam import


def add_vocab_args(parser) -> None:
    """Our flags (everything else goes to Beam, see pipeline.job)."""
    parser.add_argument("--input", required=True, help="comma list of document shard-set folders")
    parser.add_argument("--output", required=True, help="tokenizer folder (local or gs://...)")
    parser.add_argument("--vocab_size", type=int, default=30522)
    parser.add_argument("--model", default="wordpiece", choices=MODELS)
    case = parser.add_mutually_exclusive_group()
    case.add_argument("--lowercase", dest="lowercase", action="store_true", default=True)
    case.add_argument("--cased", dest="lowercase", action="store_false")
    parser.add_argument("--alpha", type=float, default=0.7, help="language smoothing exponent")
    parser.add_argument("--max_words", type=int, default=1_000_000, help="distinct words trained")
    parser.add_argument("--min_count", type=int, default=2)
    parser.add_argument("--holdout_fraction", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model_max_length", type=int, default=512)
    parser.add_argument("--max_train_count", type=int, default=50_000_000)
    parser.add_argument("--char_coverage", type=float, default=1.0)


def config_from_args(args):
    """Parsed flags -> transforms.vocab.VocabConfig (residue vocabularies are never lowercased)."""
    from transforms.vocab.config import VocabConfig

    return VocabConfig(
        vocab_size=args.vocab_size,
        model=args.model,
        lowercase=args.lowercase and args.model != "residues",
        alpha=args.alpha,
        max_words=args.max_words,
        min_count=args.min_count,
        holdout_fraction=args.holdout_fraction,
        seed=args.seed,
        model_max_length=args.model_max_length,
        max_train_count=args.max_train_count,
        char_coverage=args.char_coverage,
    )


def input_dirs(value: str) -> list[str]:
    return [d.strip() for d in value.split(",") if d.strip()]


def build(p, inputs: list[str], output: str, cfg) -> None:
    """Add the vocab job's steps to pipeline ``p``."""
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems

    from schemas.document import DOCUMENT_SCHEMA
    from transforms.shared.accounting import REJECTED_TAG
    from transforms.shared.shardio import SPILL_DIR, ReadShardSet, WriteRejected
    from transforms.vocab.counting import HOLDOUT_TAG, CountWords, RouteDocs
    from transforms.vocab.report import EvaluateHoldout, write_tokenizer_dir
    from transforms.vocab.selection import SelectTrainingWords
    from transforms.vocab.train import train_from_selection

    spill = FileSystems.join(output, SPILL_DIR)
    routed = p | "Read" >> ReadShardSet(inputs, schema=DOCUMENT_SCHEMA) | "Route" >> RouteDocs(cfg)
    trained = (
        routed["train"]
        | "CountWords" >> CountWords(cfg, temp_dir=FileSystems.join(spill, "counts"))
        | "SelectWords" >> SelectTrainingWords(cfg)
        | "Train" >> beam.Map(train_from_selection, cfg)
    )
    holdout_spill = FileSystems.join(spill, "holdout")
    heldout = routed[HOLDOUT_TAG] | "Evaluate" >> EvaluateHoldout(trained, holdout_spill)
    _ = (
        trained
        | "WriteTokenizerDir"
        >> beam.Map(write_tokenizer_dir, beam.pvalue.AsSingleton(heldout), output, cfg)
        | "DeleteSpill" >> beam.Map(remove_spill, holdout_spill, spill)
    )
    _ = routed[REJECTED_TAG] | "WriteRejected" >> WriteRejected(output)


def remove_spill(_: object, holdout_spill: str, spill: str) -> None:
    """After the tokenizer folder is written: the held-out spill files, then the spill folder
    itself where it is a local, now empty, directory (CountWords removes its own files)."""
    import os

    from transforms.shared.spill import delete_temp_dir

    delete_temp_dir(None, holdout_spill)
    if "://" not in spill:
        try:
            os.rmdir(spill)
        except OSError:  # not empty (the counts' removal still running) or already gone
            pass


def run(argv: list[str] | None = None) -> dict:
    """Run the job as a command (a user error: one ``error:`` line, exit 2); returns the stats
    dict also written to OUTPUT/stats.json."""
    from schemas.cli import run_command

    return run_command(_run, argv)


def _run(argv: list[str]) -> dict:
    from pipeline.job import new_pipeline, run_and_record
    from schemas.cli import user_errors
    from schemas.document import DOCUMENT_SCHEMA
    from schemas.run_record import absolute
    from transforms.shared.shardio import check_shard_sets

    args, p = new_pipeline(
        argv, prog="python -m pipeline.vocab", doc=__doc__, add_args=add_vocab_args
    )
    with user_errors(ValueError):  # the config's checks of flag values
        cfg = config_from_args(args)
    inputs = input_dirs(args.input)
    check_shard_sets(inputs, schema=DOCUMENT_SCHEMA, flag="--input")
    build(p, inputs, args.output, cfg)
    settings = {"config": asdict(cfg), "inputs": [absolute(d) for d in inputs]}
    return run_and_record(
        p, job="vocab", output=args.output, manifest=False, settings=settings, config=asdict(cfg)
    )


if __name__ == "__main__":
    run()
