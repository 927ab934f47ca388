"""One command from raw corpora to training shards: clean -> vocab -> shards.

    python -m pipeline.corpus --lang multi --output out/multi [--data_dir ../shared/data]
        [--vocab_size 8000] [--max_seq_len 128] [--pair nsp] [-- BEAM_FLAGS...]

``--lang`` picks a recipe of inputs under ``--data_dir`` (the repository's sample corpora by
default, or your own folder laid out the same way); everything after ``--`` is passed to every
Beam job unchanged (e.g. ``--runner=DataflowRunner ...``). Each stage writes its own folder
with ``stats.json``; the final shards feed ``python -m trainer.pretrain``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Input:
    name: str  # output sub-folder under clean/
    source: str  # wiki | books | protein | text
    pattern: str  # glob relative to data_dir
    flags: tuple[str, ...] = ()


_WIKI = {
    "en": "wiki/enwiki-*.bz2",
    "ja": "wiki/jawiki-*.bz2",
    "uk": "wiki/ukwiki-*.bz2",
    "bg": "wiki/bgwiki-*.bz2",
}
_UDHR = Input("udhr", "text", "multilingual/udhr2/*.txt", ("--text_format=file", "--lang=auto"))
_TATOEBA = Input(
    "tatoeba",
    "text",
    "multilingual/tatoeba_nonascii_CC0_sample.tsv",
    ("--text_format=tsv", "--lang=auto"),
)
_BOOKS = Input("books", "books", "books/*.txt", ("--lang=auto",))
_BERT_SAMPLE = Input(
    "sample", "text", "bert/sample_text.txt", ("--text_format=blank_line", "--lang=en")
)


def _wiki(lang: str) -> Input:
    return Input(f"wiki_{lang}", "wiki", _WIKI[lang], (f"--lang={lang}",))


RECIPES: dict[str, tuple[Input, ...]] = {
    "multi": tuple(_wiki(lang) for lang in _WIKI) + (_UDHR, _TATOEBA),
    "en": (_wiki("en"), _BOOKS, _BERT_SAMPLE),
    "books": (_BOOKS,),
    "protein": (Input("protein", "protein", "protein/*.fa*"),),
    **{lang: (_wiki(lang),) for lang in _WIKI},
}


def _default_data_dir() -> str:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.environ.get("BERTCORPUS_SHARED_DATA", os.path.join(here, "..", "shared", "data"))


def build_plan(args: argparse.Namespace, beam_flags: list[str]) -> list[tuple[str, list[str]]]:
    """The (job module, argv) list this command runs, in order."""
    out = args.output
    protein = args.lang == "protein"
    plan: list[tuple[str, list[str]]] = []
    clean_dirs = []
    for item in RECIPES[args.lang]:
        clean_dir = os.path.join(out, "clean", item.name)
        clean_dirs.append(clean_dir)
        plan.append(
            (
                "pipeline.clean",
                [
                    "--source",
                    item.source,
                    "--input",
                    os.path.join(args.data_dir, item.pattern),
                    "--output",
                    clean_dir,
                    *item.flags,
                    *beam_flags,
                ],
            )
        )
    tok_dir = os.path.join(out, "tokenizer")
    vocab_model = ["--model", "residues"] if protein else ["--model", args.vocab_model]
    plan.append(
        (
            "pipeline.vocab",
            [
                "--input",
                ",".join(clean_dirs),
                "--output",
                tok_dir,
                "--vocab_size",
                str(args.vocab_size),
                *vocab_model,
                *beam_flags,
            ],
        )
    )
    plan.append(
        (
            "pipeline.shards",
            [
                "--input",
                ",".join(clean_dirs),
                "--tokenizer",
                tok_dir,
                "--output",
                os.path.join(out, "shards"),
                "--max_seq_len",
                str(args.max_seq_len),
                "--pair",
                "none" if protein else args.pair,
                "--seed",
                str(args.seed),
                *beam_flags,
            ],
        )
    )
    return plan


def run(argv: list[str] | None = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    beam_flags = argv[argv.index("--") + 1 :] if "--" in argv else []
    ours = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Arguments after -- are Beam pipeline flags passed to every job.",
    )
    parser.add_argument("--lang", default="multi", choices=sorted(RECIPES))
    parser.add_argument("--output", required=True)
    parser.add_argument("--data_dir", default=_default_data_dir())
    parser.add_argument("--vocab_size", type=int, default=8000)
    parser.add_argument(
        "--vocab_model", default="wordpiece", choices=["wordpiece", "unigram", "bpe"]
    )
    parser.add_argument("--max_seq_len", type=int, default=128)
    parser.add_argument("--pair", default="nsp", choices=["nsp", "sop", "none"])
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--dry_run", action="store_true", help="print the plan and stop")
    args = parser.parse_args(ours)
    if not os.path.isdir(args.data_dir):
        sys.exit(f"--data_dir {args.data_dir} does not exist (set BERTCORPUS_SHARED_DATA)")
    plan = build_plan(args, beam_flags)
    summary: dict = {"plan": [[job, *job_argv] for job, job_argv in plan], "stages": {}}
    if args.dry_run:
        print(json.dumps(summary["plan"], indent=2))
        return summary
    for job, job_argv in plan:
        # One process per job, exactly as a user would run it: each job's memory and Beam
        # runner state end with it, and a failing job stops the chain with its own message.
        print(f"== python -m {job} {' '.join(job_argv)}", flush=True)
        done = subprocess.run([sys.executable, "-m", job, *job_argv])
        if done.returncode != 0:
            sys.exit(f"{job} failed with exit status {done.returncode}; see its output above")
        output = job_argv[job_argv.index("--output") + 1]
        with open(os.path.join(output, "stats.json"), encoding="utf-8") as f:
            summary["stages"][output] = json.load(f).get("ledger")
    shards = os.path.join(args.output, "shards")
    print(
        f"done. Train with:\n  python -m trainer.pretrain --shards {shards} "
        f"--output {os.path.join(args.output, 'run')} --model_size tiny --max_steps 200 "
        "--lr 1e-3 --warmup_steps 20"
    )
    return summary


if __name__ == "__main__":
    run()
