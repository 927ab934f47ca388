"""PNG plots of the probe results (matplotlib, headless Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display on CI or training machines

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

EMBRYOLOGY_TASKS = {
    "pos": "POS (UD EWT, word level)",
    "sentiment_cls": "sentiment ([CLS])",
    "sentiment_mean": "sentiment (mean)",
}


def _series(records: list[dict], task: str, layer, model: str | None = None) -> dict:
    return {
        r["step"]: r["accuracy"]
        for r in records
        if r["task"] == task and r["layer"] == layer and (model is None or r["model"] == model)
    }


def plot_embryology(result: dict, path: str) -> None:
    """Accuracy vs training step per layer, the static-embedding probe dotted, random init
    dashed (horizontal)."""
    records, steps = result["records"], result["steps"]
    layers = list(range(result["num_layers"] + 1))
    fig, axes = plt.subplots(1, len(EMBRYOLOGY_TASKS), figsize=(5 * len(EMBRYOLOGY_TASKS), 4))
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(layers)))
    trained = [r for r in records if r["step"] is not None]
    for ax, (task, title) in zip(axes, EMBRYOLOGY_TASKS.items(), strict=True):
        for layer, colour in zip(layers, colours, strict=True):
            series = _series(trained, task, layer)
            name = "embeddings" if layer == 0 else f"layer {layer}"
            ax.plot(steps, [series[s] for s in steps], marker="o", ms=3, color=colour, label=name)
            rand = _series(records, task, layer, "random_init").get(None)
            if rand is not None and layer == layers[-1]:
                ax.axhline(rand, color=colour, ls="--", lw=1, label=f"random init, {name}")
        static = _series(trained, task, "static")
        if static:
            ax.plot(
                steps, [static[s] for s in steps], ls=":", color="black", label="input embedding"
            )
            rand = _series(records, task, "static", "random_init").get(None)
            if rand is not None:
                ax.axhline(rand, color="grey", ls=":", lw=1, label="random input embedding")
        ax.set_title(title)
        ax.set_xlabel("training step")
        ax.set_ylabel("probe accuracy")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_contextual(result: dict, path: str, word: str = "apple") -> None:
    """Similarity matrices of one word (static, embeddings, last layer) and the separation
    score per layer for every word."""
    words = {w["word"]: w for w in result["words"]}
    shown = words.get(word) or next(iter(words.values()))
    names = list(shown["layers"])
    picks = [names[0], names[1], names[-1]]
    fig, axes = plt.subplots(1, len(picks) + 1, figsize=(4.2 * (len(picks) + 1), 4))
    for ax, name in zip(axes, picks, strict=False):
        image = ax.imshow(
            np.array(shown["layers"][name]["similarity"]), vmin=-1, vmax=1, cmap="RdBu_r"
        )
        sep = shown["layers"][name]["separation"]
        ax.set_title(f"{shown['word']}: {_layer_name(name)} (sep {sep:+.3f})", fontsize=9)
        ticks = range(len(shown["senses"]))
        ax.set_xticks(ticks, shown["senses"], rotation=90, fontsize=6)
        ax.set_yticks(ticks, shown["senses"], fontsize=6)
    fig.colorbar(image, ax=axes[len(picks) - 1], fraction=0.046)
    ax = axes[-1]
    x = range(len(names))
    for w in result["words"]:
        ax.plot(x, [w["layers"][n]["separation"] for n in names], lw=1, alpha=0.6, label=w["word"])
    ax.plot(x, [result["mean_separation"][n] for n in names], color="black", lw=2.5, label="mean")
    ax.set_xticks(list(x), [_layer_name(n) for n in names], fontsize=7)
    ax.set_ylabel("within-sense - across-sense cosine")
    ax.set_title("sense separation per layer", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _layer_name(name: str) -> str:
    return {"static": "static", "0": "embeddings"}.get(name, f"layer {name}")


def plot_languages(result: dict, path: str) -> None:
    """2-D PCA of paragraph vectors coloured by language; retrieval top-1 with and without the
    mean shift on the last layer."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    for code, points in result["projection"].items():
        p = np.array(points)
        left.scatter(p[:, 0], p[:, 1], s=10, label=code)
    left.set_title("UDHR paragraphs, last layer mean vectors (PCA)")
    left.legend(fontsize=7)
    last = result["layers"][-1]["retrieval"]
    codes = list(last)
    x = np.arange(len(codes))
    right.bar(x - 0.2, [last[c]["top1"] for c in codes], 0.4, label="no shift")
    right.bar(x + 0.2, [last[c]["top1_shifted"] for c in codes], 0.4, label="mean shift")
    right.set_xticks(x, [f"en→{c}" for c in codes], fontsize=8)
    right.set_ylabel("top-1 retrieval")
    right.set_ylim(0, 1)
    right.set_title(f"parallel paragraph retrieval ({result['paragraphs']} candidates)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_polarity(result: dict, path: str) -> None:
    """Mean cosine of each word to its synonym and to its antonym per layer, for every model
    in ``result`` (the pretrained one and its random init)."""
    models = [k for k in ("model", "random_init") if k in result]
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 4), squeeze=False)
    for ax, key in zip(axes[0], models, strict=True):
        layers = result[key]["layers"]
        names = list(layers)
        x = np.arange(len(names))
        ax.bar(x - 0.2, [layers[n]["synonym"] for n in names], 0.4, label="word ~ synonym")
        ax.bar(x + 0.2, [layers[n]["antonym"] for n in names], 0.4, label="word ~ antonym")
        ax.set_xticks(x, [_layer_name(n) for n in names], fontsize=8)
        ax.set_ylabel("mean cosine")
        ax.set_title(f"{key.replace('_', ' ')}: sentiment polarity in word vectors", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
