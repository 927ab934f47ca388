"""pos: universal part-of-speech tagging on CoNLL-U (UPOS, column 4), word accuracy.

Multiword-token ranges (``3-4 du``) and empty nodes (``5.1``) are skipped: the syntactic words
they span carry the tags. A sentence with a word whose UPOS is ``_`` (or not a UD tag), or a
line without 10 columns, is counted and left out, never half-read. With no training file the
test file (default: UD English-EWT dev) is split 80/20 by document (``# newdoc id``), seeded
by ``split_seed``; a file without document marks is split by sentence instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.hashing import stable_hash
from trainer.tasks import (
    Fold,
    TaskConfig,
    TaskData,
    TaskInputError,
    accuracy,
    capped,
    default_path,
    require,
)
from trainer.tasks.encoding import TextEncoder
from trainer.tasks.tagging import align, predict_tags

DEFAULT_DATA = "eval/ud_english_ewt/en_ewt-ud-dev.conllu"
UPOS_TAGS = (
    "ADJ",
    "ADP",
    "ADV",
    "AUX",
    "CCONJ",
    "DET",
    "INTJ",
    "NOUN",
    "NUM",
    "PART",
    "PRON",
    "PROPN",
    "PUNCT",
    "SCONJ",
    "SYM",
    "VERB",
    "X",
)
TEST_FRACTION = 0.2
CONLLU_COLUMNS = 10
NEWDOC = "# newdoc"


@dataclass(frozen=True)
class Sentence:
    doc_id: str
    words: list[str]
    tags: list[str]


def _bump(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def read_conllu(path: str, counts: dict[str, int]) -> list[Sentence]:
    """Sentences of syntactic words with their UPOS tags; bad sentences counted by reason."""
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    doc_id, docs, bad = "", 0, None
    with open(path, encoding="utf-8") as f:
        for line in [*f, "\n"]:
            line = line.rstrip("\r\n")
            if line.startswith(NEWDOC):
                docs += 1
                doc_id = line.partition("=")[2].strip() or f"doc{docs}"
            elif not line.strip():
                if bad:
                    _bump(counts, bad)
                elif words:
                    sentences.append(Sentence(doc_id, words, tags))
                words, tags, bad = [], [], None
            elif not line.startswith("#"):
                cols = line.split("\t")
                if len(cols) != CONLLU_COLUMNS:
                    bad = "malformed_sentences"
                elif "-" in cols[0] or "." in cols[0]:
                    continue  # multiword-token range or empty node
                elif cols[3] == "_":
                    bad = bad or "sentences_without_upos"
                elif cols[3] not in UPOS_TAGS:
                    bad = bad or "sentences_unknown_upos"
                else:
                    words.append(cols[1])
                    tags.append(cols[3])
    return sentences


def split_by_document(
    sentences: list[Sentence], seed: int
) -> tuple[list[Sentence], list[Sentence], str]:
    """(train, test, unit): the test part is ~20% of the documents, chosen by seeded hash."""
    unit = "document" if len({s.doc_id for s in sentences}) > 1 else "sentence"
    keys = [s.doc_id if unit == "document" else str(i) for i, s in enumerate(sentences)]
    distinct = sorted(set(keys), key=lambda k: stable_hash(seed, "pos-split", k))
    held = set(distinct[: max(1, round(TEST_FRACTION * len(distinct)))])
    train = [s for s, k in zip(sentences, keys, strict=True) if k not in held]
    test = [s for s, k in zip(sentences, keys, strict=True) if k in held]
    return train, test, unit


def load(cfg: TaskConfig, encoder: TextEncoder) -> TaskData:
    counts: dict[str, int] = {}
    files: dict[str, str] = {}
    if cfg.train:
        files["train"] = require(cfg.train, "--train")
        files["test"] = require(cfg.test or default_path(cfg, DEFAULT_DATA), "--test")
        train, test = read_conllu(files["train"], counts), read_conllu(files["test"], counts)
    else:
        files["split"] = require(cfg.test or default_path(cfg, DEFAULT_DATA), "--test")
        train, test, unit = split_by_document(read_conllu(files["split"], counts), cfg.split_seed)
        files["split_unit"] = unit
    train = capped(train, cfg.max_train_examples, cfg.split_seed, "pos-train")
    test = capped(test, cfg.max_test_examples, cfg.split_seed, "pos-test")
    if not train or not test:
        raise TaskInputError(f"pos: {len(train)} training / {len(test)} test sentences")
    tag_id = {tag: i for i, tag in enumerate(UPOS_TAGS)}

    def labelled(sentences: list[Sentence]) -> list[tuple[list[str], list[int]]]:
        return [(s.words, [tag_id[t] for t in s.tags]) for s in sentences]

    test_tagged = align(labelled(test), encoder, cfg.max_seq_len)
    gold = [tag_id[t] for s in test for t in s.tags]
    counts["test_words"] = len(gold)

    def score(predict) -> dict[str, float]:
        predicted = predict_tags(predict, test_tagged, len(test))
        return accuracy(gold, [tag for sentence in predicted for tag in sentence])

    train_tagged = align(labelled(train), encoder, cfg.max_seq_len)
    fold = Fold("split", train_tagged.features, test_tagged.features, len(test), score)
    return TaskData(
        "pos", "token", len(UPOS_TAGS), "accuracy", [fold], len(train), len(test), counts, files
    )
