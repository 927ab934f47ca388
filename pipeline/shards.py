"""Packing job: cleaned documents -> tokenised sentence-pair examples in length-binned shards.

    python -m pipeline.shards --input CLEAN_DIR[,CLEAN_DIR...] --tokenizer TOK_DIR \
        --output SHARD_DIR --max_seq_len 128 --pair {nsp,sop,none} [Beam flags]

Writes Arrow shards in EXAMPLE_SCHEMA (one length bin per shard, rows sorted by a unique
example key, so the bytes depend only on input and seed), ``manifest.json``, ``stats.json``
(counters, document ledger, padding waste, label balance) and ``rejected/``.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from schemas.document import DOCUMENT_SCHEMA
from schemas.example import EXAMPLE_SCHEMA, PAIR_TASKS
from transforms.accounting import REJECTED_DIR, REJECTED_TAG, counters_from_result, write_stats
from transforms.binning import padding_waste, parse_bin_edges
from transforms.example_rows import Vocab, example_tokens, rows_to_table
from transforms.pack import (
    LENGTHS_NAMESPACE,
    NSP_NEXT,
    NSP_RANDOM,
    SINGLE_SEGMENT,
    SOP_IN_ORDER_COUNT,
    SOP_SWAPPED_COUNT,
    PackConfig,
    PackExamples,
)
from transforms.shardio import ReadShardSet, WriteShards, finalize_manifest, read_manifest_any
from transforms.static_masks import StaticMaskConfig
from transforms.tokenize import TokenizeDocs


def _add(parser, *args, **kwargs) -> None:
    """parser.add_argument, skipping a flag another job's options already define: Beam's
    get_all_options puts every PipelineOptions subclass in the process (pipeline.corpus runs
    clean, vocab and shards in one) into one parser, where a second --input is an error. Our
    own values are unaffected: view_as(ShardsOptions) parses with our definitions only."""
    try:
        parser.add_argument(*args, **kwargs)
    except argparse.ArgumentError:
        pass


class ShardsOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        # Required flags are checked in config_from_options, not by argparse: Beam parses
        # every job's options together, and another job's run must not demand ours.
        _add(parser, "--input", help="cleaned-document shard set(s), comma-separated (required)")
        _add(parser, "--tokenizer", help="TOK_DIR written by pipeline.vocab (required)")
        _add(parser, "--output", help="folder for the example shard set (required)")
        _add(parser, "--max_seq_len", type=int, default=128)
        _add(parser, "--pair", choices=PAIR_TASKS, default="nsp")
        _add(parser, "--short_seq_prob", type=float, default=0.1)
        _add(parser, "--dupe_factor", type=int, default=1)
        _add(parser, "--static_masks", action="store_true", help="store google-style MLM masks")
        _add(parser, "--masked_lm_prob", type=float, default=0.15)
        _add(parser, "--max_predictions_per_seq", type=int, default=20)
        _add(parser, "--whole_word_mask", action="store_true")
        _add(parser, "--seed", type=int, default=12345)
        _add(parser, "--bins", default=None, help="upper bin edges, e.g. 32,64,96,128")
        _add(parser, "--nsp_bucket_docs", type=int, default=1000, help="docs per NSP bucket")
        _add(parser, "--nsp_buckets", type=int, default=None, help="fixed NSP bucket count")
        _add(parser, "--shards_per_bin", type=int, default=4)
        _add(parser, "--batch_docs", type=int, default=64, help="documents per encode_batch")


def config_from_options(o: ShardsOptions) -> PackConfig:
    missing = [f"--{n}" for n in ("input", "tokenizer", "output") if not getattr(o, n, None)]
    if missing:
        raise SystemExit(f"pipeline.shards: missing required flags {', '.join(missing)}")
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


def label_balance(counters: dict[str, int]) -> dict:
    """Fractions of each pair label: NSP random-next and SOP swapped should be near 0.5."""
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
    import sys

    from transforms.tokenizer_dir import load_tokenizer, special_token_ids, tokenizer_hash

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--help" in argv or "-h" in argv:
        parser = argparse.ArgumentParser(
            prog="python -m pipeline.shards",
            description=__doc__.split("\n\n")[0],
            epilog="Other flags (--runner, --direct_num_workers, ...) go to Beam unchanged.",
        )
        ShardsOptions._add_argparse_args(parser)
        parser.parse_args(["--help"])
    options = PipelineOptions(argv)
    o = options.view_as(ShardsOptions)
    cfg = config_from_options(o)
    inputs = [d for d in o.input.split(",") if d]
    num_docs = sum(read_manifest_any(d)["num_rows"] for d in inputs)
    num_buckets = cfg.num_nsp_buckets or max(1, math.ceil(num_docs / cfg.nsp_bucket_docs))
    tokenizer = load_tokenizer(o.tokenizer)
    specials = special_token_ids(tokenizer)
    vocab = Vocab.from_special_ids(specials, tokenizer.get_vocab_size(with_added_tokens=True))
    manifest_fields = {
        "tokenizer_hash": tokenizer_hash(o.tokenizer),
        "special_token_ids": specials,
        "vocab_size": vocab.vocab_size,
        "pair_task": cfg.pair_task,
        "max_seq_len": cfg.max_seq_len,
        "length_bin_edges": list(cfg.bin_edges),
        "static_masks": cfg.static_masks is not None,
        "config": json.dumps(asdict(cfg), sort_keys=True),
    }

    p = beam.Pipeline(options=options)
    rows = p | "ReadDocs" >> ReadShardSet(inputs, schema=DOCUMENT_SCHEMA)
    tokenized = rows | "Tokenize" >> TokenizeDocs(o.tokenizer, batch_docs=o.batch_docs)
    packed = tokenized.docs | "Pack" >> PackExamples(cfg, vocab, num_buckets=num_buckets)
    _ = packed.examples | "WriteShards" >> WriteShards(
        o.output,
        schema=EXAMPLE_SCHEMA,
        tokens_of=example_tokens,
        manifest_fields=manifest_fields,
        to_table=rows_to_table,
    )
    _ = (
        (tokenized[REJECTED_TAG], packed[REJECTED_TAG])
        | "AllRejected" >> beam.Flatten()
        | "WriteRejected"
        >> beam.io.WriteToText(f"{o.output}/{REJECTED_DIR}/rejected", file_name_suffix=".jsonl")
    )
    result = p.run()
    result.wait_until_finish()

    counters = counters_from_result(result)
    lengths = {int(k): v for k, v in counters_from_result(result, LENGTHS_NAMESPACE).items()}
    stats = write_stats(
        o.output,
        counters,
        padding_waste=padding_waste(
            lengths, cfg.bin_edges, max_seq_len=cfg.max_seq_len, seed=cfg.seed
        ),
        label_balance=label_balance(counters),
        length_histogram={str(k): lengths[k] for k in sorted(lengths)},
        num_nsp_buckets=num_buckets if cfg.pair_task == "nsp" else None,
        num_input_docs=num_docs,
    )
    finalize_manifest(o.output, counters=counters)
    return stats


if __name__ == "__main__":
    run()
