"""pos and ner inputs: the CoNLL-U reader (multiword tokens, empty nodes, missing UPOS), word
<-> sub-token alignment on real UD sentences (fr, ja, zh, en), windows for long sentences, the
split by document, and BIO entities with entity-level F1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.finetune_fixtures import bert_tok_dir  # noqa: F401  (fixture)
from trainer.masking import IGNORE_INDEX
from trainer.tasks.encoding import word_windows
from trainer.tasks.ner import entities, entity_f1, read_conll
from trainer.tasks.pos import read_conllu, split_by_document
from trainer.tasks.tagging import align

UD = "eval/ud_multilingual"
EWT = "eval/ud_english_ewt/en_ewt-ud-dev.conllu"
NER_FIXTURE = Path(__file__).parent / "fixtures" / "ner_tiny.conll"


@pytest.fixture(scope="module")
def encoder(bert_tok_dir):  # noqa: F811
    from trainer.encoder import load_text_encoder

    return load_text_encoder(bert_tok_dir)


def _row(i: str, form: str, upos: str) -> str:
    return "\t".join([i, form, "_", upos, "_", "_", "_", "_", "_", "_"])


def test_conllu_reader_skips_ranges_and_empty_nodes_counts_missing_upos(tmp_path):
    lines = [
        "# newdoc id = d1",
        "# text = Il parle du film.",
        _row("1", "Il", "PRON"),
        _row("2", "parle", "VERB"),
        _row("3-4", "du", "_"),  # multiword token: its words carry the tags
        _row("3", "de", "ADP"),
        _row("4", "le", "DET"),
        _row("4.1", "film", "NOUN"),  # empty node
        _row("5", "film", "NOUN"),
        "",
        _row("1", "Bonjour", "_"),  # no UPOS: counted, never half-read
        "",
        "# newdoc id = d2",
        _row("1", "Oui", "INTJ"),
        "1\tbroken line",
        "",
        _row("1", "Non", "INTJ"),
    ]  # last sentence without a final blank line
    path = tmp_path / "x.conllu"
    path.write_text("\n".join(lines), encoding="utf-8")
    counts: dict[str, int] = {}
    sentences = read_conllu(str(path), counts)
    assert [(s.doc_id, s.words, s.tags) for s in sentences] == [
        ("d1", ["Il", "parle", "de", "le", "film"], ["PRON", "VERB", "ADP", "DET", "NOUN"]),
        ("d2", ["Non"], ["INTJ"]),
    ]
    assert counts == {"sentences_without_upos": 1, "malformed_sentences": 1}


@pytest.mark.parametrize(
    ("name", "sentences", "words"),
    [("fr_gsd", 1278, 30832), ("ja_gsd", 336, 8312), ("zh_gsd", 500, 12665)],
)
def test_real_ud_files_read_every_syntactic_word(shared_data, name, sentences, words):
    counts: dict[str, int] = {}
    read = read_conllu(str(shared_data / UD / f"{name}-ud-dev.conllu"), counts)
    assert (len(read), sum(len(s.words) for s in read), counts) == (sentences, words, {})


# First sentence of each file under bert-base-uncased's WordPiece: tokens, then the first
# sub-token position of every word (where its label sits).
ALIGNED = {
    "fr_gsd": (
        ["aviator", ",", "un", "film", "sur", "la", "vie", "de", "hughes", "."],
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    ),
    "ja_gsd": (
        ["た", "##た", "##し", "、", "50", "[UNK]", "年", "[UNK]", "に", "[UNK]", "[UNK]", "後",
         "は", "、", "ed", "も", "歌", "つ", "##き", "の", "も", "##の", "か", "[UNK]", "[UNK]",
         "れ", "た", "。"],
        [1, 4, 5, 6, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 20, 21, 23, 24, 26, 27, 28],
    ),
    "zh_gsd": (
        ["同", "[UNK]", "，", "[UNK]", "力", "的", "大", "小", "不", "同", "，", "[UNK]", "[UNK]",
         "的", "加", "[UNK]", "[UNK]", "不", "同", "，", "[UNK]", "[UNK]", "的", "[UNK]", "[UNK]",
         "也", "不", "一", "[UNK]", "，", "[UNK]", "[UNK]", "[UNK]", "[UNK]", "[UNK]", "[UNK]",
         "的", "加", "成", "[UNK]", "[UNK]", "[UNK]", "。"],
        [1, 3, 4, 6, 7, 9, 11, 12, 14, 15, 17, 18, 20, 21, 23, 24, 26, 27, 28, 30, 31, 32, 34,
         35, 37, 38, 40, 41, 42, 43],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(ALIGNED))
def test_alignment_exact_on_first_ud_sentence(shared_data, encoder, name):
    sentence = read_conllu(str(shared_data / UD / f"{name}-ud-dev.conllu"), {})[0]
    labels = list(range(len(sentence.words)))
    tagged = align([(sentence.words, labels)], encoder, 128)
    (feature,) = tagged.features
    tokens, first = ALIGNED[name]
    tok = encoder.tokenizer
    assert [tok.id_to_token(i) for i in feature.input_ids[1:-1]] == tokens
    assert tagged.positions == [first]
    assert [feature.label[p] for p in first] == labels  # label of word w on its position
    assert sum(label != IGNORE_INDEX for label in feature.label) == len(sentence.words)


@pytest.mark.parametrize("name", ["fr_gsd", "ja_gsd", "zh_gsd"])
def test_alignment_every_word_once_on_real_files(shared_data, encoder, name):
    """Every word's label sits on the first sub-token of that word's own encoding, across
    windows, for whole files (incl. sentences longer than max_seq_len)."""
    sentences = read_conllu(str(shared_data / UD / f"{name}-ud-dev.conllu"), {})[:200]
    pairs = [(s.words, list(range(len(s.words)))) for s in sentences]
    tagged = align(pairs, encoder, 32)  # short windows: long sentences get several
    assert len(tagged.features) > len(sentences)
    seen: dict[int, list[int]] = {}
    for f, s, first in zip(tagged.features, tagged.sentence_of, tagged.positions, strict=True):
        assert len(f.input_ids) <= 32 and f.input_ids[0] == encoder.cls_id
        words = sentences[s].words
        for p in first:
            word = f.label[p]
            assert f.input_ids[p] == encoder.word_ids([words[word]])[0][0]
            seen.setdefault(s, []).append(word)
    assert all(seen[s] == list(range(len(x.words))) for s, x in enumerate(sentences))


def test_word_windows_keep_words_whole():
    lengths = [[1] * n for n in (3, 4, 2, 9, 1)]
    assert word_windows(lengths, 8) == [(0, 1), (1, 3), (3, 4), (4, 5)]  # budget 6 sub-tokens
    assert word_windows([], 8) == []


def test_split_by_document_on_ewt(shared_data):
    sentences = read_conllu(str(shared_data / EWT), {})
    train, test, unit = split_by_document(sentences, seed=0)
    assert unit == "document" and len(train) + len(test) == len(sentences) == 2001
    train_docs, test_docs = {s.doc_id for s in train}, {s.doc_id for s in test}
    assert not train_docs & test_docs and len(test_docs) == round(0.2 * 318)
    assert split_by_document(sentences, seed=0)[1] == test
    assert {s.doc_id for s in split_by_document(sentences, seed=1)[1]} != test_docs


def test_bio_entities_follow_conlleval():
    assert entities(["B-PER", "I-PER", "O", "B-LOC"]) == {("PER", 0, 1), ("LOC", 3, 3)}
    assert entities(["B-PER", "B-PER"]) == {("PER", 0, 0), ("PER", 1, 1)}
    assert entities(["I-ORG", "I-ORG", "I-LOC"]) == {("ORG", 0, 1), ("LOC", 2, 2)}
    assert entities(["O", "O"]) == set()


def test_entity_f1_hand_computed():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predicted = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "B-LOC"]]
    # gold 3 entities, predicted 3, 2 right (PER 0-1, ORG 0-0)
    assert entity_f1(gold, predicted) == pytest.approx(
        {"f1": 2 / 3, "precision": 2 / 3, "recall": 2 / 3}
    )
    wrong_span = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "O"]]  # PER 0-0 is not PER 0-1
    assert entity_f1(gold, wrong_span)["recall"] == pytest.approx(2 / 3)


def test_read_conll_fixture_counts_malformed():
    counts: dict[str, int] = {}
    sentences = read_conll(str(NER_FIXTURE), counts)
    assert len(sentences) == 60 and counts == {"malformed_sentences": 1}
    assert all(len(tokens) == len(tags) for tokens, tags in sentences)
