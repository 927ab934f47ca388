"""Vocabulary: pure functions, Beam transforms and the real BERT vocabularies."""

from __future__ import annotations

import collections
import json
import math

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.document import Doc
from schemas.special_tokens import SPECIAL_TOKENS
from tests.corpus_fixtures import (
    english_texts,
    joined_words,
)
from transforms.shared.accounting import DROPPED_EMPTY, CounterDict
from transforms.vocab.config import VocabConfig
from transforms.vocab.counting import (
    CountWords,
    RouteDocs,
    doc_words,
    is_holdout,
    partition_of,
    route_doc,
    summed_batches,
)
from transforms.vocab.report import evaluate_doc, heldout_report
from transforms.vocab.selection import (
    SelectTrainingWords,
    alphabet_forms,
    language_stats,
    weighted_milli,
    weighted_words,
)
from transforms.vocab.tokenizer_dir import load_tokenizer, special_token_ids, tokenizer_from_vocab
from transforms.vocab.train import (
    bpe_merges,
    quantize_counts,
    residue_tokenizer,
    train_sentencepiece,
    train_wordpiece,
)


def _row(doc_id, lang, *sentences, source="text"):
    return Doc(doc_id, source, lang, (tuple(sentences),)).to_row()


# --- pure functions ---------------------------------------------------------------------------


def test_language_stats_smoothing_exact():
    stats = language_stats({"en": 900, "sw": 100}, alpha=0.5)
    # p ∝ sqrt(share): sqrt(.9)=.94868, sqrt(.1)=.31623 -> .75, .25
    assert stats["en"]["sampling_prob"] == pytest.approx(0.75, abs=1e-4)
    assert stats["sw"]["sampling_prob"] == pytest.approx(0.25, abs=1e-4)
    assert stats["sw"]["weight"] == pytest.approx(2.5, abs=1e-3)
    assert stats["en"]["words"] == 900 and stats["en"]["share"] == pytest.approx(0.9)
    flat = language_stats({"en": 900, "sw": 100}, alpha=1.0)
    assert all(s["weight"] == pytest.approx(1.0) for s in flat.values())
    assert weighted_milli(4, "sw", stats) == 10_000  # 4 * 2.5 in thousandths
    assert language_stats({}, 0.7) == {}


def test_doc_words_and_counters():
    cfg = VocabConfig(lowercase=True)
    count = CounterDict()
    got = doc_words(_row("d1", "en", "The cat, the HAT.", "Cat!"), cfg, count)
    assert got == ["the", "cat", ",", "the", "hat", ".", "cat", "!"]
    assert count == {"emitted": 1, "words": 8}
    assert doc_words(_row("d2", "en", " \u200b "), cfg, count) == []
    assert count[DROPPED_EMPTY] == 1
    residues = doc_words(_row("p", "und", "MKUAA"), VocabConfig(model="residues"), count)
    assert residues == ["M", "K", "X", "A", "A"]


def test_summed_batches_keep_a_words_languages_together():
    records = [
        (("a", "de"), 1),
        (("a", "en"), 2),
        (("a", "en"), 3),
        (("b", "en"), 1),
        (("c", "de"), 4),
        (("c", "fr"), 1),
        (("c", "fr"), 1),
    ]
    batches = list(summed_batches(records, size=1))
    # A list is cut only where the word changes, never between languages of one word.
    assert batches == [
        [(("de", "a"), 1), (("en", "a"), 5)],
        [(("en", "b"), 1)],
        [(("de", "c"), 4), (("fr", "c"), 2)],
    ]
    assert [b for b in summed_batches(records, size=100)] == [sum(batches, [])]
    assert list(summed_batches([])) == []
    assert partition_of("word") == partition_of("word") and 0 <= partition_of("word") < 16
    stats = language_stats({"de": 5, "en": 6, "fr": 2}, alpha=1.0)
    # min_count applies per (lang, word): a/de (1) is left out; c sums de 4 + fr 2.
    assert sorted(weighted_words(batches[0] + batches[2], stats, min_count=2)) == [
        (5000, "a"),
        (6000, "c"),
    ]


def test_route_doc_and_holdout_rate():
    cfg = VocabConfig(holdout_fraction=0.1, seed=3)
    count = CounterDict()
    bad = {"doc_id": "x", "lang": "en", "paragraphs": [[None]], "source": "text"}
    assert route_doc(bad, cfg, count) == "failed"
    assert count == {"input": 1, "failed": 1}
    n = 20_000
    held = sum(is_holdout(f"doc-{i}", cfg) for i in range(n))
    sd = math.sqrt(n * 0.1 * 0.9)
    assert abs(held - n * 0.1) < 5 * sd
    assert is_holdout("doc-1", cfg) == is_holdout("doc-1", cfg)
    assert not any(is_holdout(f"doc-{i}", VocabConfig(holdout_fraction=0.0)) for i in range(999))


def test_quantize_counts():
    assert quantize_counts([("a", 3.0), ("b", 0.5)], 1000) == ([("a", 6), ("b", 1)], 2.0)
    assert quantize_counts([("a", 300.0), ("b", 100.0)], 100) == ([("a", 75), ("b", 25)], 0.25)
    assert quantize_counts([], 10) == ([], 1.0)


def test_alphabet_forms():
    counts = [("a", 50), ("中", 30), (",", 15), ("z", 5)]
    assert alphabet_forms(counts, 1.0, 10) == [",", "a", "##a", "z", "##z", "中"]
    assert alphabet_forms(counts, 0.9, 10) == [",", "a", "##a", "中"]  # z is the last 5%
    assert alphabet_forms(counts, 1.0, 2) == ["a", "##a", "中"]


def test_bpe_merges_follow_piece_rank():
    vocab = {"[UNK]": 0, "a": 1, "b": 2, "c": 3, "ab": 4, "abc": 5, "bc": 6}
    # Within a piece, splits are ordered by the parts' ranks (as transformers' converter does).
    assert bpe_merges(vocab) == [("a", "b"), ("a", "bc"), ("ab", "c"), ("b", "c")]


def test_evaluate_doc_counts_unk_causes():
    vocab = {t: i for i, t in enumerate([*SPECIAL_TOKENS, "the", "cat", "##s", "a", "##b"])}
    from transforms.vocab.tokenizer_dir import wordpiece_tokenizer

    tok = wordpiece_tokenizer(vocab, lowercase=True)
    unk = tok.token_to_id("[UNK]")
    row = _row("d", "en", "The cats", "the dog " + "ab" * 60)
    # words: the, cats, the, dog, abab...(120 chars); subwords: the cat ##s the [UNK] [UNK]
    got = evaluate_doc(row, tok, unk, training_chars=set("thecasb"))
    assert got == (1, 5, 6, 2, 2, 1, 1)
    report = heldout_report([(("en", "text"), got), (("fr", "text"), (1, 4, 4, 0, 0, 0, 0))])
    assert report["by_language"]["en"]["unk_rate"] == pytest.approx(2 / 6)
    assert report["by_language"]["en"]["unk_word_rate_vocab"] == 0.0
    assert report["by_source"]["text"]["words"] == 9
    assert report["overall"]["fertility"] == pytest.approx(10 / 9)


def test_train_wordpiece_is_deterministic_and_round_trips(shared_data):
    lines = (shared_data / "multilingual" / "udhr2" / "eng.txt").read_text("utf-8").splitlines()
    counts = collections.Counter(
        w for ln in lines for w in joined_words(ln, lowercase=True).split()
    )
    first = train_wordpiece(sorted(counts.items()), 600, lowercase=True)
    second = train_wordpiece(sorted(counts.items(), reverse=True), 600, lowercase=True)
    assert first.to_str() == second.to_str()
    assert first.get_vocab_size() == 600
    for line in lines:
        enc = first.encode(line)
        assert first.token_to_id("[UNK]") not in enc.ids
        assert first.decode(enc.ids) == joined_words(line, lowercase=True)


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_train_sentencepiece_round_trips(shared_data, model_type):
    lines = (shared_data / "multilingual" / "udhr2" / "fra.txt").read_text("utf-8").splitlines()
    counts = collections.Counter(
        w for ln in lines for w in joined_words(ln, lowercase=False).split()
    )
    tok = train_sentencepiece(sorted(counts.items()), 800, model_type=model_type, lowercase=False)
    assert special_token_ids(tok) == {t: i for i, t in enumerate(SPECIAL_TOKENS)}
    for line in lines:
        assert tok.decode(tok.encode(line).ids) == joined_words(line, lowercase=False)
    pair = tok.encode("Article premier", "Tous les êtres")
    assert pair.tokens[0] == "[CLS]" and pair.tokens.count("[SEP]") == 2
    assert set(pair.type_ids[pair.tokens.index("[SEP]") + 1 :]) == {1}


def test_residue_tokenizer():
    tok = residue_tokenizer()
    enc = tok.encode("MKV UZOB\nACJ", add_special_tokens=False)
    assert enc.tokens == ["M", "K", "V", "X", "X", "X", "X", "A", "C", "[UNK]"]
    assert tok.decode(tok.encode("MKVACDE").ids) == "MKVACDE"
    assert tok.get_vocab_size() == 26


# --- the real BERT vocabularies ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("vocab_name", "lowercase"),
    [
        ("bert-base-cased-vocab.txt", False),
        ("bert-base-uncased-vocab_from_all-MiniLM-L6-v2.txt", True),
    ],
)
def test_tokenizer_from_vocab_matches_transformers(shared_data, tmp_path, vocab_name, lowercase):
    from transformers import BertTokenizer, BertTokenizerFast

    vocab_txt = shared_data / "vocab" / vocab_name
    ours = load_tokenizer(tokenizer_from_vocab(str(vocab_txt), str(tmp_path / "ours"), lowercase))
    # What a hub folder of this vocab holds: vocab.txt plus do_lower_case in the config.
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    (ref_dir / "vocab.txt").write_bytes(vocab_txt.read_bytes())
    (ref_dir / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": lowercase}))
    references = [
        BertTokenizerFast.from_pretrained(str(ref_dir)),
        BertTokenizer(vocab=str(vocab_txt), do_lower_case=lowercase),
        BertTokenizerFast.from_pretrained(str(tmp_path / "ours")),
    ]
    assert special_token_ids(ours) == {
        "[PAD]": 0,
        "[UNK]": 100,
        "[CLS]": 101,
        "[SEP]": 102,
        "[MASK]": 103,
    }
    texts = english_texts(shared_data)
    assert len(texts) == 14
    for name, lines in texts.items():
        lines = [ln for ln in lines if ln.strip()]
        assert lines, name
        ids = [e.ids for e in ours.encode_batch(lines)]
        for ref in references:
            assert ref(lines)["input_ids"] == ids, name


# --- Beam transforms --------------------------------------------------------------------------


def test_route_and_count_transforms():
    cfg = VocabConfig(holdout_fraction=0.0, min_count=1, alpha=1.0, max_words=3)
    rows = [
        _row("a", "en", "the cat the"),
        _row("b", "en", "the dog"),
        _row("c", "de", "der hund"),
        _row("d", "de", "cat"),  # a word of two languages: summed across them
        {"doc_id": "bad", "lang": "en", "paragraphs": [[None]], "source": "text"},
    ]
    with test_pipeline.TestPipeline() as p:
        routed = p | beam.Create(rows) | RouteDocs(cfg)
        batches = routed["train"] | CountWords(cfg)
        assert_that(
            batches | beam.FlatMap(lambda batch: batch),
            equal_to(
                [
                    (("en", "the"), 3),
                    (("en", "cat"), 1),
                    (("en", "dog"), 1),
                    (("de", "der"), 1),
                    (("de", "hund"), 1),
                    (("de", "cat"), 1),
                ]
            ),
            label="counts",
        )
        selected = (
            batches
            | SelectTrainingWords(cfg)
            | beam.Map(lambda s: (s["words"], s["training_chars"]))
        )
        # Top 3 by (count, word): the(3000), cat(2000: en + de), hund(1000) -- of the words
        # at 1000, the largest wins.
        assert_that(
            selected,
            equal_to([([("cat", 2000), ("hund", 1000), ("the", 3000)], "acdeghnortu")]),
            label="selected",
        )
        assert_that(
            routed["rejected"] | beam.Map(lambda j: json.loads(j)["record_id"]),
            equal_to(["bad"]),
            label="rejected",
        )
