"""Export a pretraining run as a Hugging Face folder that ``transformers`` loads as is.

    python -m trainer.export --run RUN_DIR --output HF_DIR [--checkpoint FILE] [--tokenizer DIR]

HF_DIR receives config.json (the real vocabulary size, not our padded one), model.safetensors,
the tokenizer files of the shard set the run trained on (its manifest records the folder;
``--tokenizer`` names another copy of it) and README.md, a model card: the corpus (sources,
languages, examples, tokens from the shard manifests), steps and the final MLM and pair
accuracy. ``trainer.pretrain --export_hf`` does the same into RUN_DIR/hf at the end of a run.
Bad input (no checkpoint, a tokenizer that is not the run's) is one ``error:`` line naming the
file, exit status 2 (``--debug``: the traceback); nothing is written. HF_DIR/export_run.json
records which run was exported: exporting it again replaces the folder, but an HF_DIR holding
another export is refused unless ``--overwrite``; a folder that is not a Hugging Face folder
is never replaced.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter

from schemas.cli import CommandParser, add_debug_flag, run_command, user_errors


def export_run(
    run_dir: str,
    out_dir: str,
    *,
    checkpoint: str | None = None,
    tokenizer_dir: str | None = None,
) -> dict:
    """Write HF_DIR for a run's checkpoint; returns what was exported."""
    from trainer.checkpoint import load_run_model, shard_tokenizer_dir
    from trainer.hf import HFError, hf_special_token_ids, save_hf

    model, state = load_run_model(run_dir, checkpoint)
    shards = list(state["train_config"]["shards"])
    tok_dir = tokenizer_dir or shard_tokenizer_dir(shards[0])
    wanted = state["special_token_ids"]
    if hf_special_token_ids(tok_dir, wanted) != wanted:
        raise HFError(f"{tok_dir}: special token ids differ from the run's {wanted}")
    card = model_card(run_dir, state, corpus_summary(shards))
    save_hf(model, out_dir, tokenizer_dir=tok_dir, model_card=card)
    return {"output": out_dir, "step": int(state["step"]), "tokenizer": tok_dir}


def corpus_summary(shard_dirs: list[str]) -> dict:
    """Examples and tokens of the training shard sets, and the documents' sources and
    languages (read from the cleaned-document sets each manifest names, where reachable)."""
    from schemas.manifest import MANIFEST_FILE
    from schemas.shards import read_manifest

    summary: dict = {"examples": 0, "tokens": 0, "documents": Counter(), "unknown_inputs": []}
    for shards in shard_dirs:
        manifest = read_manifest(shards)
        summary["examples"] += manifest["num_rows"]
        summary["tokens"] += manifest["num_tokens"]
        config = json.loads(manifest.get("config") or "{}")
        for doc_dir in config.get("inputs", []):
            if os.path.isfile(os.path.join(doc_dir, MANIFEST_FILE)):
                summary["documents"].update(_docs_by_source_and_lang(doc_dir))
            else:
                summary["unknown_inputs"].append(doc_dir)
    return summary


def _docs_by_source_and_lang(doc_dir: str) -> Counter:
    """(source, lang) -> documents, from two columns of the document shards."""
    from schemas.document import DOCUMENT_SCHEMA
    from schemas.shards import open_shard_set

    _, tables = open_shard_set(doc_dir, schema=DOCUMENT_SCHEMA, verify=False)
    counts: Counter = Counter()
    for table in tables:
        sources, langs = table.column("source").to_pylist(), table.column("lang").to_pylist()
        counts.update(zip(sources, langs, strict=True))
    return counts


def _final_metrics(run_dir: str, step: int) -> tuple[dict | None, dict | None]:
    """(last training log window, evaluation) at or before ``step``, from the run's files."""
    from trainer.runtime import EVAL_FILE, LOG_FILE

    train = evaluation = None
    path = os.path.join(run_dir, LOG_FILE)
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                if record.get("step", 0) > step:
                    continue
                if "loss" in record and "event" not in record:
                    train = record
                elif record.get("event") == "eval":
                    evaluation = record
    path = os.path.join(run_dir, EVAL_FILE)
    if evaluation is None and os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        evaluation = saved if saved.get("step") == step else None
    return train, evaluation


def model_card(run_dir: str, state: dict, corpus: dict) -> str:
    """README.md of the export: what the model is, what it was trained on, how well."""
    model, train_cfg, step = state["model_config"], state["train_config"], int(state["step"])
    train, evaluation = _final_metrics(run_dir, step)
    lines = [
        "---",
        "library_name: transformers",
        "tags: [bert, fill-mask, bertcorpus]",
        "---",
        "",
        "# BERT pretrained with bertcorpus",
        "",
        f"BertForPreTraining: {model['num_layers']} layers, hidden {model['hidden_size']}, "
        f"{model['num_heads']} heads, vocabulary {model['vocab_size']}; MLM "
        f"({train_cfg['masking']} masking, rate {train_cfg['mask_rate']}) plus a sentence-pair "
        f"head. Exported from `{os.path.abspath(run_dir)}` at step {step} of "
        f"{train_cfg['max_steps']} (batch {train_cfg['batch_size']} per rank, lr {train_cfg['lr']}).",
        "",
        "## Corpus",
        "",
        f"{corpus['examples']:,} examples, {corpus['tokens']:,} tokens "
        f"(shard sets: {', '.join(f'`{s}`' for s in train_cfg['shards'])}).",
        "",
    ]
    if corpus["documents"]:
        lines += ["| source | language | documents |", "|---|---|---|"]
        for (source, lang), n in sorted(corpus["documents"].items()):
            lines.append(f"| {source} | {lang} | {n:,} |")
        lines.append("")
    if corpus["unknown_inputs"]:
        lines += [f"Not reachable at export: {', '.join(corpus['unknown_inputs'])}.", ""]
    lines += ["## Final metrics", "", "| | MLM accuracy | pair accuracy |", "|---|---|---|"]
    for name, record in (("training (last log window)", train), ("evaluation", evaluation)):
        if record is not None:
            lines.append(f"| {name} | {_pct(record['mlm_acc'])} | {_pct(record['pair_acc'])} |")
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "from transformers import AutoModelForPreTraining, AutoTokenizer",
        'tokenizer = AutoTokenizer.from_pretrained("HF_DIR")',
        'model = AutoModelForPreTraining.from_pretrained("HF_DIR")',
        "```",
        "",
    ]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = CommandParser(prog="python -m trainer.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="RUN_DIR of trainer.pretrain")
    parser.add_argument("--output", required=True, help="HF_DIR to write")
    parser.add_argument(
        "--checkpoint", default=None, help="checkpoint file (default: RUN_DIR/checkpoint.pt)"
    )
    parser.add_argument(
        "--tokenizer", default=None, help="tokenizer folder (default: the one the shards name)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an export of another run in HF_DIR"
    )
    add_debug_flag(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run the command (a user error: one ``error:`` line, exit 2); returns what was exported."""
    return run_command(_main, argv)


def _main(argv: list[str]) -> dict:
    from schemas.run_record import RUN_FIELD, RunIdentity
    from trainer.run_outputs import EXPORT_OUTPUTS, EXPORT_RECORD, check_folder, path_setting

    args = parse_args(argv)
    settings = {
        "run": path_setting(args.run),
        "checkpoint": args.checkpoint,
        "tokenizer": args.tokenizer and path_setting(args.tokenizer),
    }
    identity = RunIdentity("export", settings)
    check_folder(args.output, identity, EXPORT_OUTPUTS, EXPORT_RECORD, overwrite=args.overwrite)
    with user_errors(ValueError):  # an unreadable checkpoint, a manifest without a tokenizer
        done = export_run(
            args.run, args.output, checkpoint=args.checkpoint, tokenizer_dir=args.tokenizer
        )
    with open(os.path.join(args.output, EXPORT_RECORD), "w", encoding="utf-8") as f:
        json.dump({RUN_FIELD: identity.record()}, f, indent=2, sort_keys=True)
    print(json.dumps(done, sort_keys=True))
    return done


if __name__ == "__main__":
    main()
