"""What the encoder learned, and when: frozen-feature probes of pretrained encoders.

    python -m trainer.probe embryology --run RUN_DIR --output DIR [--steps 0,500,...]
    python -m trainer.probe contextual --model MODEL --output DIR [--senses FILE]
    python -m trainer.probe multilingual --model MODEL --output DIR [--langs eng,fra,...]
    python -m trainer.probe polarity --model MODEL --output DIR [--triples FILE]

embryology probes every kept checkpoint of a run (``trainer.pretrain --keep_checkpoints``) at
every layer (POS on UD English-EWT, sentiment on RT polarity -> SST-2 dev) beside the random-
init and input-embedding baselines; contextual measures how far each layer separates the senses
of ambiguous words (trainer/analysis/senses.json); multilingual looks for language information
in UDHR's parallel paragraphs and tests zero-shot POS transfer (UD fr, ru, zh, ja); polarity
asks whether word vectors put a sentiment word nearer its synonym than its antonym
(trainer/analysis/polarity.json).
MODEL is a run folder, a BERT folder or random:MODEL (trainer/encoder.py); each command writes
DIR/NAME.json and DIR/NAME.png and also probes the same network at random init.
Code: trainer/analysis/. Running a command again with the same settings (``--steps`` may
differ) is allowed and reuses embryology's cache; a DIR holding NAME.json of another run is
refused unless ``--overwrite``, which removes NAME.json, NAME.png (and the cache) first. A user
error is one ``error:`` line and exit status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os

from schemas.cli import CommandParser, add_debug_flag, run_command, user_errors
from trainer.tasks import shared_data_dir


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = CommandParser(prog="python -m trainer.probe", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    common = CommandParser(add_help=False)
    common.add_argument("--output", required=True, help="folder for NAME.json and NAME.png")
    common.add_argument("--data_dir", default=shared_data_dir(), help="shared data folder")
    common.add_argument("--seed", type=int, default=0, help="probe init, splits, random init")
    common.add_argument("--l2", type=float, default=1e-3, help="probe weight decay")
    common.add_argument("--max_iter", type=int, default=200, help="probe L-BFGS iterations")
    common.add_argument("--threads", type=int, default=0, help="torch threads; 0: default")
    common.add_argument("--max_sentences", type=int, default=0, help="cap UD sentences (0: all)")
    common.add_argument(
        "--overwrite", action="store_true", help="replace another run's NAME.json in --output"
    )
    add_debug_flag(common)
    emb = commands.add_parser("embryology", parents=[common], help="probes over a run's steps")
    emb.add_argument("--run", required=True, help="trainer.pretrain run folder")
    emb.add_argument("--steps", default="", help="comma-separated steps to probe (default: all)")
    emb.add_argument("--tokenizer", default="", help="tokenizer folder (default: the run's)")
    emb.add_argument("--max_texts", type=int, default=0, help="cap sentiment texts (0: all)")
    ctx = commands.add_parser("contextual", parents=[common], help="sense separation per layer")
    ctx.add_argument("--model", required=True, help="run folder, BERT folder or random:MODEL")
    ctx.add_argument("--senses", default="", help="senses JSON (default: analysis/senses.json)")
    ml = commands.add_parser("multilingual", parents=[common], help="language information")
    ml.add_argument("--model", required=True, help="run folder, BERT folder or random:MODEL")
    ml.add_argument("--langs", default="", help="UDHR codes (default: eng,fra,deu,spa,...)")
    pol = commands.add_parser("polarity", parents=[common], help="synonym vs antonym cosine")
    pol.add_argument("--model", required=True, help="run folder, BERT folder or random:MODEL")
    pol.add_argument("--triples", default="", help="triples JSON (default: polarity.json)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run the command (a user error: one ``error:`` line, exit 2); returns NAME.json."""
    return run_command(_main, argv)


# Settings that only select what is shown (embryology reads the rest from its cache).
_NOT_IDENTITY = ("command", "steps")
_PATHS = ("run", "model", "data_dir", "senses", "tokenizer", "triples")


def _main(argv: list[str]) -> dict:
    from schemas.run_record import RUN_FIELD, RunIdentity, claim_folder
    from trainer.run_outputs import settings_of
    from trainer.runtime import set_cpu_math

    args = parse_args(argv)
    set_cpu_math(args.threads)
    name = args.command
    values = {k: v for k, v in vars(args).items() if k not in _NOT_IDENTITY}
    identity = RunIdentity(f"probe {name}", settings_of(values, paths=_PATHS))
    ours = (f"{name}.json", f"{name}.png", *(["cache"] if name == "embryology" else []))
    claim_folder(args.output, identity, ours, record=f"{name}.json",
                 overwrite=args.overwrite, clear_rerun=False)  # fmt: skip
    os.makedirs(args.output, exist_ok=True)
    with user_errors(ValueError):  # data files and settings the analyses cannot use
        result = COMMANDS[name](args)
    result[RUN_FIELD] = identity.record()
    path = os.path.join(args.output, f"{args.command}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {path} and {args.command}.png")
    return result


def _probe_config(args):
    from trainer.analysis.linear_probe import ProbeConfig

    return ProbeConfig(l2=args.l2, max_iter=args.max_iter, seed=args.seed)


def _models(spec: str, seed: int):
    """(name, model) pairs: the given encoder and the same network at random init."""
    from trainer.analysis.embryology import random_init
    from trainer.encoder import load_encoder

    encoder = load_encoder(spec)
    models = [] if encoder.random else [("model", encoder.new_model(0.0).eval())]
    return encoder, [*models, ("random_init", random_init(encoder.cfg, seed))]


def embryology(args) -> dict:
    from trainer.analysis.embryology import load_probe_data, run_embryology
    from trainer.analysis.plots import plot_embryology
    from trainer.checkpoint import run_tokenizer_dir
    from trainer.encoder import load_text_encoder

    text = load_text_encoder(args.tokenizer or run_tokenizer_dir(args.run))
    data = load_probe_data(args.data_dir, args.max_sentences, args.max_texts, args.seed)
    steps = [int(s) for s in args.steps.split(",") if s] or None
    cache = os.path.join(args.output, "cache")  # per checkpoint: rerun while training goes on
    result = run_embryology(args.run, text, data, _probe_config(args), steps, cache)
    plot_embryology(result, os.path.join(args.output, "embryology.png"))
    return result


def contextual(args) -> dict:
    from trainer.analysis.contextual import SENSES_FILE, analyse, read_senses
    from trainer.analysis.plots import plot_contextual

    senses = read_senses(args.senses or SENSES_FILE)
    encoder, models = _models(args.model, args.seed)
    result = {"encoder": args.model}
    for name, model in models:
        result[name] = analyse(model, encoder.text, senses)
        print(f"{name}: mean separation {_rounded(result[name]['mean_separation'])}")
    plot_contextual(result[models[0][0]], os.path.join(args.output, "contextual.png"))
    return result


def multilingual(args) -> dict:
    from trainer.analysis.multilingual import (
        DEFAULT_LANGS,
        UD_DEV,
        language_analysis,
        udhr_paragraphs,
        zero_shot_pos,
    )
    from trainer.analysis.plots import plot_languages
    from trainer.tasks.pos import DEFAULT_DATA as UD_EWT

    codes = [c for c in args.langs.split(",") if c] or list(DEFAULT_LANGS)
    paragraphs, skipped = udhr_paragraphs(args.data_dir, codes)
    encoder, models = _models(args.model, args.seed)
    cfg = _probe_config(args)
    tests = {lang: os.path.join(args.data_dir, p) for lang, p in UD_DEV.items()}
    en = os.path.join(args.data_dir, UD_EWT)
    result: dict = {"encoder": args.model, "udhr_skipped": skipped}
    for name, model in models:
        result[name] = {
            "languages": language_analysis(model, encoder.text, paragraphs, cfg),
            "zero_shot_pos": zero_shot_pos(model, encoder.text, en, tests, cfg, args.max_sentences),
        }
        last = result[name]["languages"]["layers"][-1]
        print(f"{name}: language-id {last['langid_accuracy']:.3f}, retrieval {last['retrieval']}")
    plot_languages(result[models[0][0]]["languages"], os.path.join(args.output, "multilingual.png"))
    return result


def polarity(args) -> dict:
    from trainer.analysis.plots import plot_polarity
    from trainer.analysis.polarity import POLARITY_FILE, analyse, read_triples

    triples, templates = read_triples(args.triples or POLARITY_FILE)
    encoder, models = _models(args.model, args.seed)
    result: dict = {"encoder": args.model, "templates": templates}
    for name, model in models:
        result[name] = analyse(model, encoder.text, triples, templates)
        margins = {k: v["margin"] for k, v in result[name]["layers"].items()}
        print(f"{name}: synonym - antonym cosine {_rounded(margins)}")
    plot_polarity(result, os.path.join(args.output, "polarity.png"))
    return result


def _rounded(values: dict) -> dict:
    return {k: round(v, 3) for k, v in values.items()}


COMMANDS = {
    "embryology": embryology,
    "contextual": contextual,
    "multilingual": multilingual,
    "polarity": polarity,
}


if __name__ == "__main__":
    main()
