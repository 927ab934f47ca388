"""Batched tokenisation and word starts for whole-word masking, on the real BERT vocab."""

from __future__ import annotations

import numpy as np
import pytest

from transforms.pack.tokenize import (
    continuation_table,
    tokenize_docs,
    word_starts_from_word_ids,
)
from transforms.shared.accounting import EMITTED, FAILED, INPUT, CounterDict, ledger


@pytest.fixture(scope="module")
def bert_tokenizer(shared_data, tmp_path_factory):
    from transforms.vocab.tokenizer_dir import load_tokenizer, tokenizer_from_vocab

    out = tmp_path_factory.mktemp("tok")
    vocab = shared_data / "vocab" / "bert-base-uncased-vocab_from_all-MiniLM-L6-v2.txt"
    tokenizer_from_vocab(str(vocab), str(out), True)
    return str(out), load_tokenizer(str(out))


def test_word_starts_from_word_ids():
    wid = np.array([0, 0, 1, 0, 1, 1, np.nan, np.nan])
    got = word_starts_from_word_ids(wid, np.array([3, 5]))
    assert got.tolist() == [1, 0, 1, 1, 1, 0, 1, 1]


def test_tokenize_docs_exact(bert_tokenizer):
    _, tok = bert_tokenizer
    rows = [
        {"doc_id": "a", "source": "text", "paragraphs": [["Unaffable giants.", "Hi!"], []]},
        {"doc_id": "b", "source": "text", "paragraphs": [["   "]]},
        {"doc_id": "c", "source": "text"},  # malformed: no paragraphs
    ]
    count, rejected = CounterDict(), []
    (doc,) = tokenize_docs(rows, tok, continuation_table(tok), count, rejected=rejected)
    tokens = [tok.id_to_token(i) for i in doc.ids.tolist()]
    assert tokens == ["una", "##ffa", "##ble", "giants", ".", "hi", "!"]
    assert doc.word_start.tolist() == [1, 0, 0, 1, 1, 1, 1]
    assert doc.sent_offsets.tolist() == [0, 5, 7]
    assert count == {INPUT: 3, FAILED: 1, "dropped_empty": 1, "sentences": 2, "tokens": 7}
    assert len(rejected) == 1 and '"record_id": "c"' in rejected[0]
    count[EMITTED] += 1
    assert ledger(count)["balanced"]


def test_word_starts_from_prefixes_equal_word_ids(bert_tokenizer, shared_data):
    """WordPiece: the "##" table (fast path) gives exactly the Encodings' word ids."""
    _, tok = bert_tokenizer
    table = continuation_table(tok)
    assert table[tok.token_to_id("##ble")] and not table[tok.token_to_id("giants")]
    text = (shared_data / "books" / "fr_Voyage-au-Centre-de-la-Terre-.txt").read_text("utf-8-sig")
    text += (shared_data / "bert" / "sample_text.txt").read_text("utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip()][:3000]
    rows = [{"doc_id": "x", "source": "text", "paragraphs": [lines]}]
    (fast,) = tokenize_docs(rows, tok, table, CounterDict())
    (slow,) = tokenize_docs(rows, tok, None, CounterDict())
    assert fast.num_tokens > 50_000
    assert np.array_equal(fast.ids, slow.ids) and np.array_equal(
        fast.sent_offsets, slow.sent_offsets
    )
    assert np.array_equal(fast.word_start, slow.word_start)

    from tokenizers import Tokenizer, models, pre_tokenizers

    residues = "ACDEFGHIKLMNPQRSTVWYX"
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *residues])}
    prot = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    prot.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    assert continuation_table(prot) is None  # words come from the Split pre-tokenizer
    (doc,) = tokenize_docs(
        [{"doc_id": "p", "source": "protein", "paragraphs": [["MKVLA"]]}],
        prot,
        None,
        CounterDict(),
    )
    assert doc.ids.tolist() == [vocab[c] for c in "MKVLA"]
    assert doc.word_start.tolist() == [1] * 5
