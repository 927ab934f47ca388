"""ner: named-entity tagging on CoNLL BIO files, entity-level micro F1 (conlleval's rules).

One token per line, the tag in the last column, sentences separated by blank lines,
``-DOCSTART-`` lines skipped. A sentence with a one-column line or a tag that is not ``O``,
``B-TYPE`` or ``I-TYPE`` is counted and left out. The label set is every tag seen in the files.
With no test file: a seeded 80/20 split by sentence.
"""

from __future__ import annotations

from schemas.hashing import stable_hash
from trainer.tasks import Fold, TaskConfig, TaskData, TaskInputError, capped, require
from trainer.tasks.encoding import TextEncoder
from trainer.tasks.tagging import align, predict_tags

OUTSIDE = "O"
DOCSTART = "-DOCSTART-"
TEST_FRACTION = 0.2

Sentence = tuple[list[str], list[str]]  # (tokens, BIO tags)
Entity = tuple[str, int, int]  # (type, first token, last token)


def _valid_tag(tag: str) -> bool:
    return tag == OUTSIDE or (tag[:2] in ("B-", "I-") and len(tag) > 2)


def read_conll(path: str, counts: dict[str, int]) -> list[Sentence]:
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    bad = False
    with open(path, encoding="utf-8") as f:
        for line in [*f, "\n"]:
            cols = line.split()
            if not cols:
                if bad:
                    counts["malformed_sentences"] = counts.get("malformed_sentences", 0) + 1
                elif tokens:
                    sentences.append((tokens, tags))
                tokens, tags, bad = [], [], False
            elif cols[0] == DOCSTART:
                continue
            elif len(cols) < 2 or not _valid_tag(cols[-1]):
                bad = True
            else:
                tokens.append(cols[0])
                tags.append(cols[-1])
    return sentences


def entities(tags: list[str]) -> set[Entity]:
    """BIO chunks as conlleval reads them: an I- tag that does not continue a chunk of its
    type starts one."""
    found, kind, start = set(), None, 0
    for i, tag in enumerate([*tags, OUTSIDE]):
        continues = tag.startswith("I-") and tag[2:] == kind
        if kind is not None and not continues:
            found.add((kind, start, i - 1))
            kind = None
        if tag != OUTSIDE and not continues:
            kind, start = tag[2:], i
    return found


def entity_f1(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    """Micro precision, recall and F1 over (sentence, type, span) entities."""
    tp = n_gold = n_pred = 0
    for g, p in zip(gold, predicted, strict=True):
        gold_set, pred_set = entities(g), entities(p)
        tp, n_gold, n_pred = (
            tp + len(gold_set & pred_set),
            n_gold + len(gold_set),
            n_pred + len(pred_set),
        )
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


def load(cfg: TaskConfig, encoder: TextEncoder) -> TaskData:
    if not cfg.train:
        raise TaskInputError("ner: no standard data is shared; give --train FILE (CoNLL BIO)")
    counts: dict[str, int] = {}
    files = {"train": require(cfg.train, "--train")}
    sentences = read_conll(cfg.train, counts)
    if cfg.test:
        files["test"] = require(cfg.test, "--test")
        train, test = sentences, read_conll(cfg.test, counts)
    else:
        ranked = sorted(range(len(sentences)), key=lambda i: stable_hash(cfg.split_seed, "ner", i))
        held = set(ranked[: max(1, round(TEST_FRACTION * len(sentences)))])
        train = [s for i, s in enumerate(sentences) if i not in held]
        test = [s for i, s in enumerate(sentences) if i in held]
    train = capped(train, cfg.max_train_examples, cfg.split_seed, "ner-train")
    test = capped(test, cfg.max_test_examples, cfg.split_seed, "ner-test")
    if not train or not test:
        raise TaskInputError(f"ner: {len(train)} training / {len(test)} test sentences")
    labels = sorted({t for _, tags in train + test for t in tags} | {OUTSIDE})
    label_id = {tag: i for i, tag in enumerate(labels)}

    def labelled(part: list[Sentence]) -> list[tuple[list[str], list[int]]]:
        return [(tokens, [label_id[t] for t in tags]) for tokens, tags in part]

    test_tagged = align(labelled(test), encoder, cfg.max_seq_len)

    def score(predict) -> dict[str, float]:
        predicted = predict_tags(predict, test_tagged, len(test))
        named = [[labels[i] for i in sentence] for sentence in predicted]
        return entity_f1([tags for _, tags in test], named)

    train_tagged = align(labelled(train), encoder, cfg.max_seq_len)
    fold = Fold("split", train_tagged.features, test_tagged.features, len(test), score)
    return TaskData("ner", "token", len(labels), "f1", [fold], len(train), len(test), counts, files)
