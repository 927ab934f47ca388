"""Packing job: cleaned documents -> tokenised sentence-pair examples in length-binned shards.

    python -m pipeline.shards --input CLEAN_DIR[,CLEAN_DIR...] --tokenizer TOK_DIR \
        --output SHARD_DIR --max_seq_len 128 --pair {nsp,sop,none} \
        [--compression {zstd,lz4,none}] [--overwrite] [--debug] [Beam flags]

Writes Arrow shards in EXAMPLE_SCHEMA (one length bin per shard, rows sorted by a unique
example key, so the bytes depend only on input and seed), ``manifest.json``, ``stats.json``
(counters, document ledger, padding waste, label balance) and ``rejected/``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import asdict

from schemas.example import PAIR_TASKS


def add_shards_args(parser) -> None:
    """Our flags (everything else goes to Beam, see pipeline.job)."""
    add = parser.add_argument
    add("--input", required=True, help="cleaned-document shard set(s), comma-separated")
    add("--tokenizer", required=True, help="TOK_DIR of pipeline.vocab, or a Hugging Face folder")
    add("--output", required=True, help="folder for the example shard set")
    add("--max_seq_len", type=int, default=128)
    add("--pair", choices=PAIR_TASKS, default="nsp")
    add("--short_seq_prob", type=float, default=0.1)
    add("--dupe_factor", type=int, default=1)
    add("--static_masks", action="store_true", help="store google-style MLM masks")
    add("--masked_lm_prob", type=float, default=0.15)
    add("--max_predictions_per_seq", type=int, default=20)
    add("--whole_word_mask", action="store_true")
    add("--seed", type=int, default=12345)
    add("--bins", default=None, help="upper bin edges, e.g. 32,64,96,128")
    add("--nsp_bucket_docs", type=int, default=1000, help="docs per NSP bucket")
    add("--nsp_buckets", type=int, default=None, help="fixed NSP bucket count")
    add("--shards_per_bin", type=int, default=4)
    add("--batch_docs", type=int, default=64, help="documents per encode_batch")
    add(
        "--compression",
        choices=("zstd", "lz4", "none"),
        default="zstd",
        help="shard compression; none = zero-copy mmap reads shared by all loader processes",
    )


def config_from_options(o: argparse.Namespace):
    """Parsed flags -> transforms.pack.PackConfig."""
    from transforms.pack.binning import parse_bin_edges
    from transforms.pack.config import PackConfig
    from transforms.pack.static_masks import StaticMaskConfig

    if o.max_seq_len < 8:
        raise ValueError(f"--max_seq_len must be >= 8, got {o.max_seq_len}")
    if o.dupe_factor < 1 or o.shards_per_bin < 1 or o.nsp_bucket_docs < 1:
        raise ValueError("--dupe_factor, --shards_per_bin and --nsp_bucket_docs must be >= 1")
    masks = None
    if o.static_masks:
        masks = StaticMaskConfig(o.masked_lm_prob, o.max_predictions_per_seq, o.whole_word_mask)
    return PackConfig(
        max_seq_len=o.max_seq_len,
        pair_task=o.pair,
        short_seq_prob=o.short_seq_prob,
        dupe_factor=o.dupe_factor,
        seed=o.seed,
        bin_edges=parse_bin_edges(o.bins, o.max_seq_len),
        static_masks=masks,
        nsp_bucket_docs=o.nsp_bucket_docs,
        num_nsp_buckets=o.nsp_buckets,
        shards_per_bin=o.shards_per_bin,
    )


def _where(path: str) -> str:
    """A local path made absolute (readable from any working directory); URIs as given."""
    return path if "://" in path else os.path.abspath(path)


def label_balance(counters: dict[str, int]) -> dict:
    """Fractions of each pair label: NSP random-next and SOP swapped should be near 0.5."""
    from transforms.pack.instances import (
        NSP_NEXT,
        NSP_RANDOM,
        SINGLE_SEGMENT,
        SOP_IN_ORDER_COUNT,
        SOP_SWAPPED_COUNT,
    )

    out: dict = {}
    for name, pos, neg in (
        ("nsp_random_fraction", NSP_RANDOM, NSP_NEXT),
        ("sop_swapped_fraction", SOP_SWAPPED_COUNT, SOP_IN_ORDER_COUNT),
    ):
        total = counters.get(pos, 0) + counters.get(neg, 0)
        if total:
            out[name] = counters.get(pos, 0) / total
    out["single_segment"] = counters.get(SINGLE_SEGMENT, 0)
    return out


def run(argv: list[str] | None = None) -> dict:
    """Run the job as a command (a user error: one ``error:`` line, exit 2); returns the stats
    dict also written to OUTPUT/stats.json."""
    from schemas.cli import run_command

    return run_command(_run, argv)


def _run(argv: list[str]) -> dict:
    from pipeline.job import new_pipeline, run_and_record
    from schemas.cli import user_errors

    o, p = new_pipeline(
        argv, prog="python -m pipeline.shards", doc=__doc__, add_args=add_shards_args
    )
    with user_errors(ValueError):  # the config's checks of flag values
        cfg = config_from_options(o)
    facts = build(p, o, cfg)

    def extra(result, counters: dict) -> dict:
        return _extra_stats(result, counters, cfg, **facts)

    settings = run_settings(o, cfg, _inputs(o))
    return run_and_record(
        p, job="shards", output=o.output, manifest=True, extra=extra, settings=settings
    )


def _inputs(o: argparse.Namespace) -> list[str]:
    return [d for d in o.input.split(",") if d]


def run_settings(o: argparse.Namespace, cfg, inputs: list[str]) -> dict:
    """What defines a shards run: the packing config, the compression, and the tokenizer and
    input folders as absolute paths (also the manifest's ``config``)."""
    return {
        **asdict(cfg),
        "compression": o.compression,
        "tokenizer": _where(o.tokenizer),
        "inputs": [_where(d) for d in inputs],
    }


def build(p, o, cfg) -> dict:
    """Add the shards job's steps to pipeline ``p`` (flags ``o``, PackConfig ``cfg``); returns
    the facts fixed at construction that stats.json reports (num_docs, num_buckets)."""
    # Heavy imports here, after parsing, so --help stays instant.
    from apache_beam.io.filesystems import FileSystems

    from schemas.document import DOCUMENT_SCHEMA
    from schemas.example import EXAMPLE_SCHEMA
    from transforms.pack.example_rows import Vocab, example_tokens, rows_to_table
    from transforms.pack.instances import PackExamples
    from transforms.pack.tokenize import TokenizeDocs
    from transforms.shared.accounting import REJECTED_TAG
    from transforms.shared.shardio import (
        SPILL_DIR,
        ReadShardSet,
        WriteRejected,
        WriteShards,
        check_shard_sets,
    )
    from transforms.vocab.tokenizer_dir import load_tokenizer, special_token_ids

    inputs = _inputs(o)
    # Read at construction: the NSP bucket count must be fixed before the graph is built.
    manifests = check_shard_sets(inputs, schema=DOCUMENT_SCHEMA, flag="--input", remote=True)
    num_docs = sum(m["num_rows"] for m in manifests)
    num_buckets = cfg.num_nsp_buckets or max(1, math.ceil(num_docs / cfg.nsp_bucket_docs))
    tokenizer = load_tokenizer(o.tokenizer)
    specials = special_token_ids(tokenizer)
    vocab = Vocab.from_special_ids(specials, tokenizer.get_vocab_size(with_added_tokens=True))
    manifest_fields = _manifest_fields(o, cfg, inputs, specials, vocab.vocab_size)
    rows = p | "ReadDocs" >> ReadShardSet(inputs, schema=DOCUMENT_SCHEMA)
    tokenized = rows | "Tokenize" >> TokenizeDocs(o.tokenizer, batch_docs=o.batch_docs)
    # NSP buckets spill under OUTPUT/_spill, which WriteShards removes after the manifest.
    buckets_dir = FileSystems.join(o.output, SPILL_DIR, "buckets")
    packed = tokenized.docs | "Pack" >> PackExamples(
        cfg, vocab, num_buckets=num_buckets, temp_dir=buckets_dir
    )
    _ = packed.examples | "WriteShards" >> WriteShards(
        o.output,
        schema=EXAMPLE_SCHEMA,
        tokens_of=example_tokens,
        manifest_fields=manifest_fields,
        to_table=rows_to_table,
        compression=None if o.compression == "none" else o.compression,
    )
    _ = (tokenized[REJECTED_TAG], packed[REJECTED_TAG]) | "WriteRejected" >> WriteRejected(o.output)

    return {"num_docs": num_docs, "num_buckets": num_buckets}


def _manifest_fields(o, cfg, inputs: list[str], specials: dict, vocab_size: int) -> dict:
    """What the shards' manifest records beyond the shards themselves."""
    from transforms.vocab.tokenizer_dir import tokenizer_hash

    return {
        "tokenizer_hash": tokenizer_hash(o.tokenizer),
        "special_token_ids": specials,
        "vocab_size": vocab_size,
        "pair_task": cfg.pair_task,
        "max_seq_len": cfg.max_seq_len,
        "length_bin_edges": list(cfg.bin_edges),
        "static_masks": cfg.static_masks is not None,
        # Compression is a storage choice, not a packing one: recorded here, not in PackConfig.
        # tokenizer/inputs: where an export finds the tokenizer files and the corpus summary.
        "config": json.dumps(run_settings(o, cfg, inputs), sort_keys=True),
    }


def _extra_stats(result, counters: dict, cfg, *, num_docs: int, num_buckets: int) -> dict:
    """stats.json beyond the ledger: padding waste, label balance, length histogram."""
    from transforms.pack.binning import padding_waste
    from transforms.pack.instances import LENGTHS_NAMESPACE
    from transforms.shared.accounting import counters_from_result

    lengths = {int(k): v for k, v in counters_from_result(result, LENGTHS_NAMESPACE).items()}
    return {
        "padding_waste": padding_waste(
            lengths, cfg.bin_edges, max_seq_len=cfg.max_seq_len, seed=cfg.seed
        ),
        "label_balance": label_balance(counters),
        "length_histogram": {str(k): lengths[k] for k in sorted(lengths)},
        "num_nsp_buckets": num_buckets if cfg.pair_task == "nsp" else None,
        "num_input_docs": num_docs,
    }


if __name__ == "__main__":
    run()
