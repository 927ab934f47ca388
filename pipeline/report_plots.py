"""The corpus report's figures: one PNG per question, drawn with matplotlib's Agg backend
(no display needed). Each function takes plain Python data and a path, writes the PNG and
returns its file name, or None when there is nothing to draw."""

from __future__ import annotations

import math
import os

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402

DPI = 100
TOP = 25  # groups shown in per-source/language bars; the rest are summed as "other"


def _save(fig, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return os.path.basename(path)


def per_group_bars(groups: dict[str, dict[str, int]], path: str) -> str | None:
    """Documents, sentences and tokens per "source/lang", one panel each."""
    if not groups:
        return None
    names = sorted(groups, key=lambda g: -groups[g].get("documents", 0))[:TOP][::-1]
    metrics = ("documents", "sentences", "tokens")
    fig, axes = plt.subplots(1, 3, figsize=(12, 0.8 + 0.28 * len(names)), sharey=True)
    for ax, metric in zip(axes, metrics, strict=True):
        ax.barh(names, [groups[n].get(metric, 0) for n in names], color="#4878a8")
        ax.set_title(metric)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 4))
    return _save(fig, path)


def drop_reasons(drops: dict[str, int], path: str) -> str | None:
    """Dropped records per "stage: reason"."""
    if not drops:
        return None
    names = sorted(drops, key=lambda k: drops[k])[-TOP:]
    fig, ax = plt.subplots(figsize=(9, 0.8 + 0.3 * len(names)))
    ax.barh(names, [drops[n] for n in names], color="#c8553d")
    ax.set_xlabel("records dropped")
    return _save(fig, path)


def doc_lengths(lengths: dict[str, list[int]], path: str) -> str | None:
    """Histogram of document length in characters (log scale), one line per source."""
    values = [v for vs in lengths.values() for v in vs if v > 0]
    if not values:
        return None
    lo, hi = math.log10(min(values)), math.log10(max(values)) + 1e-9
    edges = [10 ** (lo + (hi - lo) * i / 40) for i in range(41)]
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for source, vs in sorted(lengths.items()):
        ax.hist([v for v in vs if v > 0], bins=edges, histtype="step", linewidth=1.5, label=source)
    ax.set_xscale("log")
    ax.set_xlabel("characters per document")
    ax.set_ylabel("documents")
    ax.legend()
    return _save(fig, path)


def example_lengths(histogram: dict[int, int], edges: list[int], path: str) -> str | None:
    """Examples per length in tokens, with the length-bin edges marked."""
    if not histogram:
        return None
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.bar(list(histogram), list(histogram.values()), width=1.0, color="#4878a8")
    for edge in edges:
        ax.axvline(edge + 0.5, color="#888", linestyle=":", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("tokens per example (dotted: length-bin edges)")
    ax.set_ylabel("examples")
    return _save(fig, path)


def padding(per_bin: dict[str, float], overall: dict[str, float], path: str) -> str | None:
    """Padding fraction per length bin, and overall with and without binning."""
    if not per_bin:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4), width_ratios=(3, 2))
    left.bar(list(per_bin), list(per_bin.values()), color="#4878a8")
    left.set_xlabel("length bin (upper edge)")
    left.set_ylabel("padding fraction")
    right.bar(list(overall), list(overall.values()), color="#6a994e")
    right.set_ylabel("padding fraction")
    right.set_title("whole corpus")
    return _save(fig, path)


def pair_labels(labels: dict[str, int], path: str) -> str | None:
    """Counts of each sentence-pair label (NSP next/random, SOP in order/swapped)."""
    if not any(labels.values()):
        return None
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar(
        list(labels), list(labels.values()), color=["#4878a8", "#c8553d", "#6a994e"][: len(labels)]
    )
    ax.set_ylabel("examples")
    return _save(fig, path)


def vocab_quality(by_lang: dict[str, dict], path: str) -> str | None:
    """Held-out UNK rate and fertility (subwords per word) per language."""
    if not by_lang:
        return None
    langs = sorted(by_lang)[:TOP]
    fig, (unk, fert) = plt.subplots(1, 2, figsize=(11, 0.8 + 0.3 * len(langs)), sharey=True)
    unk.barh(langs, [by_lang[g].get("unk_rate", 0) for g in langs], color="#c8553d")
    unk.set_title("UNK rate (held-out tokens)")
    unk.set_xlim(0, max([by_lang[g].get("unk_rate", 0) for g in langs] + [0.01]) * 1.1)
    fert.barh(langs, [by_lang[g].get("fertility", 0) for g in langs], color="#4878a8")
    fert.set_title("fertility (subwords per word)")
    return _save(fig, path)


TRAINING_CURVES = (
    ("loss", "loss"),
    ("mlm_acc", "MLM accuracy"),
    ("pair_acc", "pair (NSP/SOP) accuracy"),
    ("lr", "learning rate"),
    ("tokens_per_s", "tokens/s"),
)


def training(records: list[dict], evals: list[dict], path: str) -> str | None:
    """Training curves from log.jsonl (evaluations as dots where they share a metric)."""
    steps = [r for r in records if "loss" in r and "event" not in r]
    if not steps:
        return None
    fig, axes = plt.subplots(1, len(TRAINING_CURVES), figsize=(16, 3.2))
    for ax, (key, title) in zip(axes, TRAINING_CURVES, strict=True):
        points = [(r["step"], r[key]) for r in steps if r.get(key) is not None]
        if points:
            ax.plot(*zip(*points, strict=True), color="#4878a8", label="train")
        evals_of = [(e["step"], e[key]) for e in evals if e.get(key) is not None]
        if evals_of:
            ax.plot(*zip(*evals_of, strict=True), "o", color="#c8553d", label="eval")
            ax.legend()
        ax.set_title(title)
        ax.set_xlabel("step")
    return _save(fig, path)
