"""Sentence splitting: exact-match F1 against gold sentences, ours vs sentencex and pySBD, and
sentences per second.

Gold sets (read from the data folder, never shipped):
  ud_en_ewt   UD English-EWT dev: weblogs, newsgroups, emails, reviews, answers (318 documents)
  ud_fr/ru/zh/ja  UD GSD dev sets. Their sentences are shuffled singletons (no document or
              paragraph marks), so each pseudo-document is 10 consecutive sentences: a test of
              boundaries between unrelated sentences, not of running text.
  gutenberg_en  google-research/bert sample_text.txt: two fiction passages from Project
              Gutenberg, one sentence a line (blank line = document); small (~30 sentences),
              and its lines are not all sentences: three break at a semicolon ("guide; / but
              the novel roar"), two hold two sentences ("itself. Well, after all"), so a
              splitter that follows the punctuation scores about 0.73.
  rte_en      GLUE RTE dev's 277 hypotheses, 10 a pseudo-document: short news-style English
              sentences, many ending in an abbreviation or holding one ("in the U.S.", "Gov.
              Gray Davis", "Co. Ltd."); 4 lack a final stop and merge with the next for every
              splitter alike.
  tatoeba_ru  Tatoeba's Russian sentences, 10 a pseudo-document (one entry may hold two
              sentences; then the gold is wrong for every splitter alike).
Protocols: "document" joins a document's sentences with a space (nothing for zh/ja) and splits
the whole; "paragraphs" splits each ``# newpar`` paragraph on its own, as our pipeline does (only
EWT has paragraph marks; elsewhere it equals "document"). Score: predicted sentences that equal
a gold sentence of the same document (whitespace-normalised, multiset) -> precision, recall, F1
summed over the set. Also counted: predicted sentences with no letter or digit ("residue").
Speed: every unit of every set, split by each splitter in one process, gold sentences / second.

    python -m bench.bench_sentences [--data DIR] [--output bench/results.json] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

Doc = list[list[str]]  # paragraphs of gold sentences
Splitter = Callable[[str], list[str]]
UD_LANGS = {"ud_fr_gsd": "fr", "ud_ru_gsd": "ru", "ud_zh_gsd": "zh", "ud_ja_gsd": "ja"}
UNSPACED = ("zh", "ja")
GROUP = 10
_WS = re.compile(r"\s+")


def read_conllu(path: Path) -> list[Doc]:
    """Documents of paragraphs of ``# text`` sentences; files without real documents (every
    sentence its own ``newdoc``, or none) become pseudo-documents of GROUP sentences."""
    docs: list[Doc] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# newdoc"):
            docs.append([])
        elif line.startswith("# newpar") and docs:
            docs[-1].append([])
        elif line.startswith("# text ="):
            if not docs:
                docs.append([])
            if not docs[-1]:
                docs[-1].append([])
            docs[-1][-1].append(line[len("# text =") :].strip())
    if len(docs) == 1 or all(sum(map(len, d)) == 1 for d in docs):
        return group([s for d in docs for p in d for s in p])
    return docs


def group(sentences: list[str]) -> list[Doc]:
    return [[sentences[i : i + GROUP]] for i in range(0, len(sentences), GROUP)]


def gold_sets(data: Path) -> dict[str, tuple[str, list[Doc]]]:
    ud = data / "eval" / "ud_multilingual"
    sets = {"ud_en_ewt": ("en", read_conllu(data / "eval/ud_english_ewt/en_ewt-ud-dev.conllu"))}
    for name, lang in UD_LANGS.items():
        sets[name] = (lang, read_conllu(ud / f"{lang}_gsd-ud-dev.conllu"))
    sample = (data / "bert" / "sample_text.txt").read_text(encoding="utf-8")
    blocks = [b.strip().splitlines() for b in sample.split("\n\n") if b.strip()]
    sets["gutenberg_en"] = ("en", [[b] for b in blocks[1:]])  # block 0: notes about the file
    sets["rte_en"] = ("en", group(rte_hypotheses(data / "eval" / "nli_rte" / "rte_dev.tsv")))
    rows = (data / "multilingual" / "tatoeba_nonascii_CC0_sample.tsv").read_text(encoding="utf-8")
    russian = [r.split("\t")[2] for r in rows.splitlines() if r.split("\t")[1:2] == ["rus"]]
    sets["tatoeba_ru"] = ("ru", group(russian))
    return sets


def rte_hypotheses(path: Path) -> list[str]:
    """GLUE RTE dev's hypotheses (``sentence2``): one news-style sentence each."""
    with path.open(encoding="utf-8", newline="") as f:
        return [row["sentence2"].strip() for row in csv.DictReader(f, delimiter="\t")]


def units(doc: Doc, lang: str, protocol: str) -> list[str]:
    sep = "" if lang in UNSPACED else " "
    if protocol == "document":
        return [sep.join(s for p in doc for s in p)]
    return [sep.join(p) for p in doc]


def score(docs: list[Doc], lang: str, protocol: str, split: Splitter) -> dict:
    tp = n_pred = n_gold = residue = 0
    for doc in docs:
        pred = [_WS.sub(" ", s).strip() for u in units(doc, lang, protocol) for s in split(u)]
        pred = [s for s in pred if s]
        gold = Counter(_WS.sub(" ", s).strip() for p in doc for s in p)
        tp += sum((gold & Counter(pred)).values())
        n_pred, n_gold = n_pred + len(pred), n_gold + sum(gold.values())
        residue += sum(not any(c.isalnum() for c in s) for s in pred)
    p, r = tp / max(n_pred, 1), tp / max(n_gold, 1)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"f1": round(f1, 4), "precision": round(p, 4), "recall": round(r, 4), "residue": residue}


def splitters(lang: str) -> dict[str, Splitter]:
    import pysbd
    import sentencex

    from transforms.clean.sentences import split_paragraph

    pysbd_lang = pysbd.Segmenter(language=lang, clean=False)
    return {
        "ours": lambda t: split_paragraph(t, lang),
        "sentencex": lambda t: list(sentencex.segment(lang, t)),
        "pysbd": lambda t: [s for s in pysbd_lang.segment(t)],
    }


def speed(sets: dict, repeat: int) -> dict:
    """Gold sentences per second over every paragraph of every set (each in its language)."""
    work = [
        (lang, u)
        for lang, docs in sets.values()
        for d in docs
        for u in units(d, lang, "paragraphs")
    ]
    n_sentences = sum(len(p) for _, docs in sets.values() for d in docs for p in d) * repeat
    by_lang = {lang: splitters(lang) for lang, _ in sets.values()}
    out = {}
    for name in ("ours", "sentencex", "pysbd"):
        started = time.process_time()
        for _ in range(repeat):
            for lang, text in work:
                by_lang[lang][name](text)
        seconds = time.process_time() - started
        out[name] = {"sentences_per_s": round(n_sentences / seconds), "cpu_s": round(seconds, 2)}
    out["ours_vs_sentencex"] = round(
        out["ours"]["sentences_per_s"] / out["sentencex"]["sentences_per_s"], 2
    )
    return out


def run(quick: bool = False, data: Path | None = None) -> dict:
    data = data or Path(os.environ.get("BERTCORPUS_SHARED_DATA", "../shared/data"))
    sets = gold_sets(data)
    if quick:
        sets = {k: (lang, docs[:20]) for k, (lang, docs) in sets.items()}
    f1: dict = {}
    for name, (lang, docs) in sets.items():
        split = splitters(lang)
        has_paragraphs = any(len(d) > 1 for d in docs)
        protocols = ("document", "paragraphs") if has_paragraphs else ("document",)
        f1[name] = {
            "lang": lang,
            "docs": len(docs),
            "sentences": sum(len(p) for d in docs for p in d),
            **{pr: {k: score(docs, lang, pr, s) for k, s in split.items()} for pr in protocols},
        }
    return {"f1": f1, "speed": speed(sets, 1 if quick else 3)}


def table(result: dict) -> str:
    """Markdown rows for README: F1 ours / sentencex / pySBD per set and protocol."""
    rows = ["| set | lang | protocol | ours | sentencex | pySBD |", "|---|---|---|---|---|---|"]
    for name, r in result["f1"].items():
        for protocol in ("document", "paragraphs"):
            if protocol in r:
                f = [r[protocol][k]["f1"] for k in ("ours", "sentencex", "pysbd")]
                rows.append(
                    f"| {name} | {r['lang']} | {protocol} | " + " | ".join(map(str, f)) + " |"
                )
    s = result["speed"]
    rows.append(
        f"\nsentences/s: ours {s['ours']['sentences_per_s']}, sentencex "
        f"{s['sentencex']['sentences_per_s']}, pySBD {s['pysbd']['sentences_per_s']}"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--output", default="bench/results.json")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.quick, args.data)
    report = {}
    if os.path.exists(args.output):  # keep what the other benches wrote there
        with open(args.output) as f:
            report = json.load(f)
    report["sentences"] = result
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)
    print(table(result))
    return result


if __name__ == "__main__":
    main()
