"""A corpus report in the browser: one self-contained report.html with its PNGs beside it.

    python -m pipeline.report OUT_DIR [--run RUN_DIR] [--debug]

OUT_DIR is a ``pipeline.corpus`` output (clean/*/, tokenizer/, shards/). The report shows per
source and language the documents, sentences and tokens; drop reasons of every stage;
document and example length histograms; padding per length bin; NSP/SOP label balance; the
vocabulary's held-out UNK rate and fertility per language. With a training run folder, also
its curves (log.jsonl: loss, MLM and pair accuracy, lr, tokens/s) and any evaluation results
(eval.json, and the fine-tuning suite's metrics.json / report.json files under it). No CDN,
no network: the page is plain HTML and CSS, the figures are files beside it.
"""

from __future__ import annotations

import glob
import html
import json
import os
from collections import Counter, defaultdict

import pyarrow as pa
import pyarrow.compute as pc

from pipeline import report_plots as plots
from pipeline.report_html import img, render, table
from schemas.document import DOCUMENT_SCHEMA
from schemas.example import EXAMPLE_SCHEMA, NO_PAIR
from schemas.shards import open_shard_set

REPORT_FILE = "report.html"
PAIR_NAMES = {"nsp": ("is next", "random next"), "sop": ("in order", "swapped")}


def _json(path: str) -> dict | None:
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _docs(clean_dirs: list[str]) -> pa.Table | None:
    """doc_id, source, lang, num_chars, sentences of every cleaned document."""
    parts = []
    for folder in clean_dirs:
        _, tables = open_shard_set(folder, schema=DOCUMENT_SCHEMA, verify=False)
        for t in tables:
            paragraphs = t.column("paragraphs").combine_chunks()
            per_paragraph = pc.list_value_length(pc.list_flatten(paragraphs))
            parent = pc.list_parent_indices(paragraphs)
            sums = (
                pa.table({"doc": parent, "n": per_paragraph})
                .group_by("doc")
                .aggregate([("n", "sum")])
            )
            sentences = [0] * t.num_rows
            for doc, n in zip(sums["doc"].to_pylist(), sums["n_sum"].to_pylist(), strict=True):
                sentences[doc] = n or 0
            cols = t.select(["doc_id", "source", "lang", "num_chars"])
            parts.append(cols.append_column("sentences", pa.array(sentences, pa.int64())))
    return pa.concat_tables(parts) if parts else None


def _examples(shards_dir: str) -> tuple[dict, pa.Table] | None:
    if not os.path.exists(os.path.join(shards_dir, "manifest.json")):
        return None
    manifest, tables = open_shard_set(shards_dir, schema=EXAMPLE_SCHEMA, verify=False)
    cols = ["doc_id", "num_tokens", "pair_label"]
    return manifest, pa.concat_tables([t.select(cols) for t in tables])


def per_group(docs: pa.Table, examples: pa.Table | None) -> dict[str, dict[str, int]]:
    """{"source/lang": {documents, sentences, tokens}}; an example's tokens count for the
    document of its first segment."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    grouped = docs.group_by(["source", "lang"]).aggregate(
        [("doc_id", "count"), ("sentences", "sum")]
    )
    for row in grouped.to_pylist():
        key = f"{row['source']}/{row['lang']}"
        out[key].update(documents=row["doc_id_count"], sentences=row["sentences_sum"], tokens=0)
    if examples is not None:
        joined = examples.select(["doc_id", "num_tokens"]).join(
            docs.select(["doc_id", "source", "lang"]), "doc_id"
        )
        tokens = joined.group_by(["source", "lang"]).aggregate([("num_tokens", "sum")])
        for row in tokens.to_pylist():
            out[f"{row['source']}/{row['lang']}"]["tokens"] = row["num_tokens_sum"]
    return dict(out)


def stage_stats(out_dir: str) -> dict[str, dict]:
    """{"clean/books": stats.json, "tokenizer": ..., "shards": ...} for every stage present."""
    paths = {
        "clean/" + os.path.basename(os.path.dirname(p)): p
        for p in sorted(glob.glob(os.path.join(out_dir, "clean", "*", "stats.json")))
    }
    for stage in ("tokenizer", "shards"):
        paths[stage] = os.path.join(out_dir, stage, "stats.json")
    return {stage: stats for stage, path in paths.items() if (stats := _json(path))}


def drops_of(stages: dict[str, dict]) -> dict[str, int]:
    return {
        f"{stage}: {reason.removeprefix('dropped_')}": n
        for stage, stats in stages.items()
        for reason, n in (stats.get("ledger", {}).get("dropped") or {}).items()
        if n
    }


def _flat_scalars(data: object, prefix: str = "") -> dict[str, object]:
    """Nested JSON -> {"a.b": scalar} (lists of scalars are skipped)."""
    if isinstance(data, dict):
        out: dict[str, object] = {}
        for k, v in data.items():
            out.update(_flat_scalars(v, f"{prefix}{k}."))
        return out
    if isinstance(data, (int, float, str, bool)) or data is None:
        return {prefix.rstrip("."): data}
    return {}


def corpus_sections(out_dir: str) -> list[tuple[str, str]]:
    """(title, HTML body) of each corpus section; figures are written into ``out_dir``."""
    fig = lambda name: os.path.join(out_dir, name)  # noqa: E731
    stages = stage_stats(out_dir)
    sections: list[tuple[str, str]] = []
    ledger_rows = [{"stage": s, **{k: v for k, v in st["ledger"].items() if k != "dropped"}}
                   for s, st in stages.items()]  # fmt: skip
    sections.append(("Stages", table(ledger_rows, ["stage", "input", "emitted", "failed",
                                                   "balanced", "unaccounted"])))  # fmt: skip
    clean_dirs = sorted(os.path.dirname(p) for p in
                        glob.glob(os.path.join(out_dir, "clean", "*", "manifest.json")))  # fmt: skip
    docs = _docs(clean_dirs)
    shards = _examples(os.path.join(out_dir, "shards"))
    examples = shards[1] if shards else None
    if docs is not None:
        groups = per_group(docs, examples)
        rows = [{"source/lang": k, **v} for k, v in sorted(groups.items())]
        sections.append(("Documents, sentences and tokens per source and language",
                         img(plots.per_group_bars(groups, fig("groups.png")))
                         + table(rows, ["source/lang", "documents", "sentences", "tokens"])))  # fmt: skip
        lengths: dict[str, list[int]] = defaultdict(list)
        for source, n in zip(
            docs["source"].to_pylist(), docs["num_chars"].to_pylist(), strict=True
        ):
            lengths[source].append(n)
        sections.append(
            ("Document lengths", img(plots.doc_lengths(lengths, fig("doc_lengths.png"))))
        )
    drops = drops_of(stages)
    drop_rows = [{"stage: reason": k, "records": v} for k, v in sorted(drops.items())]
    sections.append(("Drop reasons", img(plots.drop_reasons(drops, fig("drops.png")))
                     + table(drop_rows, ["stage: reason", "records"])))  # fmt: skip
    if shards:
        sections.insert(0, ("Overview", overview(shards[0], docs)))
        sections += shard_sections(out_dir, shards[0], examples, stages.get("shards") or {})
    vocab = _json(os.path.join(out_dir, "tokenizer", "vocab_report.json"))
    if vocab:
        by_lang = (vocab.get("heldout") or {}).get("by_language") or {}
        rows = [{"lang": k, **v} for k, v in sorted(by_lang.items())]
        sections.append(("Vocabulary: held-out UNK rate and fertility per language",
                         img(plots.vocab_quality(by_lang, fig("vocab.png")))
                         + table(rows, ["lang", "docs", "words", "unk_rate", "fertility"])))  # fmt: skip
    return sections


def overview(manifest: dict, docs: pa.Table | None) -> str:
    """The corpus in one table: what a trainer will see."""
    row = {
        "documents": docs.num_rows if docs is not None else "",
        "examples": manifest.get("num_rows", ""),
        "tokens": manifest.get("num_tokens", ""),
        "vocab size": manifest.get("vocab_size", ""),
        "max_seq_len": manifest.get("max_seq_len", ""),
        "pair task": manifest.get("pair_task", ""),
    }
    return table([row], list(row))


def shard_sections(out_dir: str, manifest: dict, examples, stats: dict) -> list[tuple[str, str]]:
    edges = list(manifest.get("length_bin_edges") or [])
    hist = {int(k): v for k, v in (stats.get("length_histogram") or {}).items()}
    waste = stats.get("padding_waste") or {}
    per_bin = {str(edges[int(b)]) if int(b) < len(edges) else b: v["waste"]
               for b, v in sorted((waste.get("per_bin") or {}).items(), key=lambda kv: int(kv[0]))}  # fmt: skip
    overall = {k: waste[k] for k in ("naive", "binned") if k in waste}
    task = manifest.get("pair_task", "none")
    counts = Counter(examples["pair_label"].to_pylist())
    names = PAIR_NAMES.get(task, ())
    labels = {name: counts.get(i, 0) for i, name in enumerate(names)}
    if counts.get(NO_PAIR):
        labels["single segment"] = counts[NO_PAIR]
    fig = lambda name: os.path.join(out_dir, name)  # noqa: E731
    return [
        ("Example lengths", img(plots.example_lengths(hist, edges, fig("example_lengths.png")))),
        ("Padding per length bin", img(plots.padding(per_bin, overall, fig("padding.png")))
         + table([{"bin": k, "padding": v} for k, v in per_bin.items()], ["bin", "padding"])),
        (f"Sentence-pair labels ({task})", img(plots.pair_labels(labels, fig("pairs.png")))
         + table([{"label": k, "examples": v} for k, v in labels.items()], ["label", "examples"])),
    ]  # fmt: skip


def run_sections(run_dir: str, out_dir: str) -> list[tuple[str, str]]:
    """Training curves and evaluation results of a trainer run folder."""
    records = []
    log = os.path.join(run_dir, "log.jsonl")
    if os.path.exists(log):
        with open(log, encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
    evals = [r for r in records if r.get("event") == "eval"]
    curves = plots.training(records, evals, os.path.join(out_dir, "training.png"))
    sections = [("Training", img(curves) or f"<p>no log lines in {html.escape(log)}</p>")]
    found = [os.path.join(run_dir, "eval.json")] + sorted(
        glob.glob(os.path.join(run_dir, "**", "metrics.json"), recursive=True)
        + glob.glob(os.path.join(run_dir, "**", "report.json"), recursive=True)
    )
    for path in found:
        data = _json(path)
        if data is not None:
            rows = [{"metric": k, "value": v} for k, v in _flat_scalars(data).items()]
            title = f"Evaluation: {os.path.relpath(path, run_dir)}"
            sections.append((title, table(rows, ["metric", "value"])))
    return sections


def write_report(out_dir: str, run_dir: str | None = None) -> str:
    """Write OUT_DIR/report.html and its PNGs; return the HTML path."""
    sections = corpus_sections(out_dir)
    if run_dir:
        sections += run_sections(run_dir, out_dir)
    path = os.path.join(out_dir, REPORT_FILE)
    with open(path, "w", encoding="utf-8") as f:
        f.write(render(f"Corpus report: {out_dir}", sections))
    return path


def main(argv: list[str] | None = None) -> str:
    """Run the command (a user error: one ``error:`` line, exit 2); returns the HTML path."""
    from schemas.cli import run_command

    return run_command(_main, argv)


def check_folders(out_dir: str, run_dir: str | None) -> None:
    """UserError unless OUT_DIR holds a stage of pipeline.corpus and RUN_DIR a training log."""
    from schemas.cli import UserError

    if not os.path.isdir(out_dir):
        raise UserError(f"{out_dir}: no such folder")
    if not stage_stats(out_dir):
        raise UserError(
            f"{out_dir}: not a pipeline.corpus output (no clean/*/stats.json, "
            "tokenizer/stats.json or shards/stats.json)"
        )
    if run_dir is not None and not os.path.isfile(os.path.join(run_dir, "log.jsonl")):
        raise UserError(f"--run {run_dir}: no log.jsonl; is it a trainer.pretrain run folder?")


def _main(argv: list[str]) -> str:
    from schemas.cli import CommandParser, add_debug_flag

    parser = CommandParser(prog="python -m pipeline.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="a pipeline.corpus output folder")
    parser.add_argument("--run", default=None, help="a trainer.pretrain run folder")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    check_folders(args.out_dir, args.run)
    path = write_report(args.out_dir, args.run)
    print(path)
    return path


if __name__ == "__main__":
    main()
