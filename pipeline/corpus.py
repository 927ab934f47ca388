"""One command from raw corpora to training shards: clean -> vocab -> shards -> report.

    python -m pipeline.corpus --lang multi --output out/multi [--data_dir DIR] [--download]
        [--extra_text FILE[,FILE] [--extra_lang en]] [--vocab_size 8000] [--max_seq_len 128]
        [--pair nsp] [--verbose] [--overwrite] [--debug] [-- BEAM_FLAGS...]

``--lang`` picks a recipe of inputs under ``--data_dir``: by default the repository's sample
corpora (``../shared/data``, or ``$BERTCORPUS_SHARED_DATA``) where they exist, else the
download cache ``data/raw``, which is filled with the recipe's real sources
(pipeline/catalog.py) on first use; ``--download`` fills any other folder the same way.
Everything after ``--`` is passed to every Beam job unchanged (e.g.
``--runner=DataflowRunner ...``). Each stage writes its own folder with ``stats.json``; the
command ends with one summary table and ``OUTPUT/report.html`` (pipeline.report); the shards
feed ``python -m trainer.pretrain``. Rerunning the same command into OUTPUT is allowed; a stage
folder holding a run with other inputs or settings is refused unless ``--overwrite`` (passed to
every job, like ``--debug``).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time
from dataclasses import replace

from pipeline.recipes import RECIPES, Input
from schemas.cli import (
    USER_ERROR_STATUS,
    CommandParser,
    UserError,
    UserExit,
    add_debug_flag,
    run_command,
)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOWNLOAD_CACHE = os.path.join("data", "raw")
EXTRA_TEXT = "extra_text"  # clean/ sub-folder of --extra_text


def _default_data_dir() -> str:
    """$BERTCORPUS_SHARED_DATA, else ../shared/data where it exists, else the download cache."""
    env = os.environ.get("BERTCORPUS_SHARED_DATA")
    if env:
        return env
    shared = os.path.join(REPO_ROOT, "..", "shared", "data")
    return shared if os.path.isdir(shared) else DOWNLOAD_CACHE


def build_plan(args: argparse.Namespace, beam_flags: list[str]) -> list[tuple[str, list[str]]]:
    """The (job module, argv) list this command runs, in order."""
    out = args.output
    protein = args.lang == "protein"
    plan: list[tuple[str, list[str]]] = []
    clean_dirs = []
    for item, input_path in _inputs(args):
        clean_dir = os.path.join(out, "clean", item.name)
        clean_dirs.append(clean_dir)
        plan.append(
            (
                "pipeline.clean",
                [
                    "--source",
                    item.source,
                    "--input",
                    input_path,
                    "--output",
                    clean_dir,
                    *item.flags,
                    *_passed_on(args),
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
                *_passed_on(args),
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
                *_passed_on(args),
                *beam_flags,
            ],
        )
    )
    return plan


def _inputs(args: argparse.Namespace) -> list[tuple[Input, str]]:
    """(input, its --input value): the recipe's, under --data_dir, then ``--extra_text`` (one
    document per line) as given."""
    inputs = [(item, os.path.join(args.data_dir, item.pattern)) for item in RECIPES[args.lang]]
    if getattr(args, "extra_text", None):
        lang = args.extra_lang
        flags = (
            "--text_format=lines",
            *((f"--lang_hint={lang}", f"--lang={lang}") if lang != "auto" else ("--lang=auto",)),
        )
        inputs.append((Input(EXTRA_TEXT, "text", args.extra_text, flags), args.extra_text))
    return inputs


def _passed_on(args: argparse.Namespace) -> list[str]:
    """Our flags that every job takes too."""
    return [f"--{name}" for name in ("overwrite", "debug") if getattr(args, name, False)]


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="python -m pipeline.corpus",
        description=__doc__.split("\n\n")[0],
        epilog="Arguments after -- are Beam pipeline flags passed to every job.",
    )
    add = parser.add_argument
    add("--lang", default="multi", choices=sorted(RECIPES))
    add("--output", required=True)
    add("--data_dir", default=None, help="input folder (default: $BERTCORPUS_SHARED_DATA, "
        "else ../shared/data where it exists, else data/raw, downloaded on first use)")  # fmt: skip
    add("--download", action="store_true", help="fetch the recipe's missing sources")
    add("--mirror", default=None, help="download from MIRROR/HOST/PATH (pipeline/catalog.py)")
    add("--wiki_parts", type=int, default=1, help="multistream parts per big wiki; 0: all")
    add("--books", default=None, help="Gutenberg ids to download, comma-separated")
    add("--extra_text", default=None, help="more text files (comma list), one document per "
        "line, cleaned into clean/extra_text and packed with the recipe (trainer.task_text)")  # fmt: skip
    add("--extra_lang", default="auto", help="--extra_text's language: CODE (a hint, and only "
        "it is kept) or auto")  # fmt: skip
    add("--vocab_size", type=int, default=8000)
    add("--vocab_model", default="wordpiece", choices=["wordpiece", "unigram", "bpe"])
    add("--max_seq_len", type=int, default=128)
    add("--pair", default="nsp", choices=["nsp", "sop", "none"])
    add("--seed", type=int, default=12345)
    add("--no_report", action="store_true", help="skip OUTPUT/report.html")
    add("--verbose", action="store_true", help="every job's full log")
    add("--dry_run", action="store_true", help="print the plan and stop")
    add("--overwrite", action="store_true", help="let every job replace another run's outputs "
        "in its folder (only the files the jobs write)")  # fmt: skip
    add_debug_flag(parser)
    return parser


def missing_inputs(lang: str, data_dir: str) -> list[Input]:
    """The recipe's inputs whose glob matches no file under a local ``data_dir``."""
    if "://" in data_dir:
        return []  # remote folders are expanded by the jobs themselves
    return [i for i in RECIPES[lang] if not glob.glob(os.path.join(data_dir, i.pattern))]


def ensure_data(args: argparse.Namespace) -> None:
    """Download the recipe's missing inputs into the cache (or with --download), else exit."""
    for path in (args.extra_text or "").split(","):
        if path and "://" not in path and not glob.glob(path):
            raise UserError(f"--extra_text {path}: no such file")
    missing = missing_inputs(args.lang, args.data_dir)
    if not missing:
        return
    if not (args.download or os.path.normpath(args.data_dir) == DOWNLOAD_CACHE):
        names = ", ".join(f"{i.name} ({i.pattern})" for i in missing)
        hint = "pass --download to fetch them there"
        raise UserError(f"--data_dir {args.data_dir} lacks {names}; {hint}")
    from pipeline.catalog import Options, fetch_input
    from pipeline.fetch import DownloadError

    opts = Options(mirror=args.mirror, wiki_parts=args.wiki_parts)
    if args.books:
        opts = replace(opts, books=tuple(int(b) for b in args.books.split(",")))
    for item in missing:
        print(f"downloading {item.name} into {args.data_dir}", file=sys.stderr, flush=True)
        try:
            fetch_input(item.name, args.data_dir, opts)
        except DownloadError as exc:
            raise UserError(f"download failed: {exc}") from exc


def _stage(job: str, job_argv: list[str]) -> tuple[str, str]:
    output = job_argv[job_argv.index("--output") + 1]
    return f"{job.removeprefix('pipeline.')} {os.path.basename(output)}", output


def run_stage(job: str, job_argv: list[str], verbose: bool) -> float:
    """Run one job in its own process; its summary is shown only when it fails (or verbose)."""
    # One process per job, exactly as a user would run it: each job's memory and Beam
    # runner state end with it, and a failing job stops the chain with its own message.
    # stderr stays the terminal's, so the job's own progress line shows while it runs.
    started = time.perf_counter()
    flags = ["--verbose"] if verbose else []
    done = subprocess.run(
        [sys.executable, "-m", job, *job_argv, *flags],
        stdout=None if verbose else subprocess.PIPE,
        text=True,
    )
    if done.returncode != 0:
        if done.stdout:
            print(done.stdout, end="")
        if done.returncode == USER_ERROR_STATUS:  # the job's own `error:` line says why
            raise UserExit(f"{job} refused its input or settings")
        sys.exit(f"{job} failed with exit status {done.returncode}; see its output above")
    return time.perf_counter() - started


def run(argv: list[str] | None = None) -> dict:
    """Run the command (a user error: one ``error:`` line, exit 2); returns the summary."""
    return run_command(_run, argv)


def _run(argv: list[str]) -> dict:
    from pipeline.summary import format_table, stage_row

    beam_flags = argv[argv.index("--") + 1 :] if "--" in argv else []
    ours = argv[: argv.index("--")] if "--" in argv else argv
    args = _parser().parse_args(ours)
    args.data_dir = args.data_dir or _default_data_dir()
    plan = build_plan(args, beam_flags)
    summary: dict = {"plan": [[job, *job_argv] for job, job_argv in plan], "stages": {}}
    if args.dry_run:
        print(json.dumps(summary["plan"], indent=2))
        return summary
    ensure_data(args)
    rows = []
    for n, (job, job_argv) in enumerate(plan, 1):
        stage, output = _stage(job, job_argv)
        # On a terminal the job's own progress line (pipeline.console) takes this line.
        label, live = f"[{n}/{len(plan)}] {stage}", sys.stderr.isatty()
        print(label, end="\r" if live else "", flush=True)
        seconds = run_stage(job, job_argv, args.verbose)
        print(f"{label if live else ''}: {seconds:.1f} s", flush=True)
        with open(os.path.join(output, "stats.json"), encoding="utf-8") as f:
            stats = json.load(f)
        summary["stages"][output] = stats.get("ledger")
        rows.append(stage_row(stage, output, stats, seconds))
    print(format_table(rows))
    if not args.no_report:
        from pipeline.report import write_report

        print(f"report: {write_report(args.output)}")
    shards = os.path.join(args.output, "shards")
    print(
        f"done. Train with:\n  python -m trainer.pretrain --shards {shards} "
        f"--output {os.path.join(args.output, 'run')} --model_size tiny --max_steps 200 "
        "--lr 1e-3 --warmup_steps 20"
    )
    return summary


if __name__ == "__main__":
    run()
