"""What is an encoder worth downstream? Fine-tune it on a suite of tasks beside a random-init
baseline of the same architecture, and report task x model.

    python -m trainer.evaluate --model runs/base [--compare hf/bert-base-uncased ...] \
        --tasks sst2,rte,pos,squad --output out/report [--seeds 3] [--threads 2]

REPORT_DIR receives report.json (every model's metrics.json content per task), report.md (a
task x model table of mean ± std over seeds) and report.png (the same as grouped bars with
std error bars), plus MODEL_SLUG/TASK/metrics.json for each run. The baseline is
``random:MODEL`` of the first model (skipped when that model is already random).
Running the same settings again into REPORT_DIR is allowed; a REPORT_DIR holding the report
of another run is refused unless ``--overwrite``, which removes the old report and model
folders first. A user error is one ``error:`` line and exit status 2; ``--debug`` shows the
traceback.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import fields

from schemas.cli import CommandParser, add_debug_flag, run_command
from schemas.run_record import RUN_FIELD
from trainer.encoder import RANDOM_PREFIX
from trainer.finetune import FinetuneConfig, finetune, write_json
from trainer.tasks import TASK_MODULES

REPORT_JSON, REPORT_MD, REPORT_PNG = "report.json", "report.md", "report.png"
DEFAULT_TASKS = "sst2,rte,pos,squad"
# finetune flags that evaluate passes on unchanged (the rest are per task or per run)
SHARED_FLAGS = (
    "seeds",
    "epochs",
    "lr",
    "batch_size",
    "max_seq_len",
    "threads",
    "device",
    "pooling",
    "data_dir",
    "split_seed",
    "max_train_examples",
    "max_test_examples",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = CommandParser(prog="python -m trainer.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="run folder, BERT folder or random:MODEL")
    parser.add_argument("--compare", nargs="*", default=[], help="more models to compare")
    parser.add_argument(
        "--tasks", default=DEFAULT_TASKS, help=f"comma-separated (default: {DEFAULT_TASKS})"
    )
    parser.add_argument("--output", required=True, help="REPORT_DIR")
    for f in fields(FinetuneConfig):
        if f.name in SHARED_FLAGS:
            help_text = f.metadata["help"] + (f" (default: {f.default})" if f.default != "" else "")
            extra = {"choices": f.metadata["choices"]} if "choices" in f.metadata else {}
            parser.add_argument(
                f"--{f.name}", type=type(f.default), default=None, help=help_text, **extra
            )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace another run's report in REPORT_DIR"
    )
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    unknown = [t for t in args.tasks.split(",") if t not in TASK_MODULES]
    if unknown:
        parser.error(f"unknown tasks {unknown}; choose from {sorted(TASK_MODULES)}")
    return args


def models_of(args: argparse.Namespace) -> list[str]:
    models = [args.model, *args.compare]
    if not args.model.startswith(RANDOM_PREFIX):
        models.append(RANDOM_PREFIX + args.model)
    return list(dict.fromkeys(models))  # each once, in order


def slug(index: int, spec: str) -> str:
    """A folder name per model: its position plus the spec's last path part."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", spec.rstrip("/").replace("random:", "random-"))
    return f"{index}-{name[-60:]}"


def main(argv: list[str] | None = None) -> dict:
    """Run the command (a user error: one ``error:`` line, exit 2); returns report.json."""
    return run_command(_main, argv)


def _main(argv: list[str]) -> dict:
    from schemas.run_record import RunIdentity, claim_folder
    from trainer.run_outputs import EVALUATE_OUTPUTS, path_setting, settings_of

    args = parse_args(argv)
    settings = settings_of(vars(args), paths=("data_dir",))
    del settings["model"], settings["compare"]  # as the models list, paths made absolute
    settings["models"] = [path_setting(m) for m in models_of(args)]
    identity = RunIdentity("evaluate", settings)
    claim_folder(args.output, identity, EVALUATE_OUTPUTS, record=REPORT_JSON,
                 overwrite=args.overwrite)  # fmt: skip
    return evaluate(args, record=identity.record())


def evaluate(args: argparse.Namespace, *, record: dict | None = None) -> dict:
    """Fine-tune every model on every task; write report.json (with the run ``record`` where
    given), report.md and report.png."""
    from trainer.encoder import load_encoder

    shared = {k: v for k, v in vars(args).items() if k in SHARED_FLAGS and v is not None}
    tasks = args.tasks.split(",")
    results: dict[str, dict[str, dict]] = {}
    for i, spec in enumerate(models_of(args)):
        encoder = load_encoder(spec)  # read once, shared by the tasks
        results[spec] = {}
        for task in tasks:
            out = os.path.join(args.output, slug(i, spec), task)
            cfg = FinetuneConfig(task=task, model=spec, output=out, **shared)
            results[spec][task] = finetune(cfg, encoder)
    report = {"models": list(results), "tasks": tasks, "results": results}
    if record is not None:
        report[RUN_FIELD] = record
    write_json(os.path.join(args.output, REPORT_JSON), report)
    with open(os.path.join(args.output, REPORT_MD), "w", encoding="utf-8") as f:
        f.write(markdown_table(report))
    bar_chart(report, os.path.join(args.output, REPORT_PNG))
    print(markdown_table(report), flush=True)
    return report


def markdown_table(report: dict) -> str:
    """Task (metric) rows x model columns, mean ± std over seeds."""
    models = report["models"]
    lines = [
        "| task (metric) | " + " | ".join(f"`{m}`" for m in models) + " |",
        "|---|" + "---|" * len(models),
    ]
    for task in report["tasks"]:
        first = report["results"][models[0]][task]
        cells = []
        for m in models:
            r = report["results"][m][task]
            cells.append(f"{r['mean']:.3f} ± {r['std']:.3f}")
        lines.append(f"| {task} ({first['metric']}) | " + " | ".join(cells) + " |")
    seeds = len(report["results"][models[0]][report["tasks"][0]]["per_seed"])
    lines += ["", f"Mean ± standard deviation over {seeds} seeds; scores are fractions (1 = best)."]
    return "\n".join(lines) + "\n"


def bar_chart(report: dict, path: str) -> None:
    """Grouped bars: one group per task, one bar per model, std as error bars."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a training machine
    import matplotlib.pyplot as plt

    models, tasks = report["models"], report["tasks"]
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(tasks), 4))
    for k, model in enumerate(models):
        rows = [report["results"][model][t] for t in tasks]
        xs = [t + (k - (len(models) - 1) / 2) * width for t in range(len(tasks))]
        ax.bar(
            xs,
            [r["mean"] for r in rows],
            width,
            yerr=[r["std"] for r in rows],
            capsize=3,
            label=model,
        )
    ax.set_xticks(range(len(tasks)))
    ax.set_xticklabels([f"{t}\n({report['results'][models[0]][t]['metric']})" for t in tasks])
    ax.set_ylim(0, 1)
    ax.set_ylabel("score (mean ± std over seeds)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
