"""Fixtures for fine-tuning tests: a real WordPiece tokenizer folder (bert-base-uncased's
vocabulary from ../shared/data) for ``random:tiny:TOK_DIR`` encoders, and a tiny HF BERT folder.

    from tests.finetune_fixtures import bert_tok_dir  # noqa: F401  (pytest fixture)
"""

from __future__ import annotations

from pathlib import Path

import pytest

UNCASED_VOCAB = "vocab/bert-base-uncased-vocab_from_all-MiniLM-L6-v2.txt"


@pytest.fixture(scope="session")
def bert_tok_dir(shared_data: Path, tmp_path_factory) -> str:
    from transforms.vocab.tokenizer_dir import tokenizer_from_vocab

    out = tmp_path_factory.mktemp("tok") / "bert-uncased"
    return tokenizer_from_vocab(str(shared_data / UNCASED_VOCAB), str(out), lowercase=True)


def tiny_hf_folder(path: Path, vocab_txt: Path, *, hidden: int = 32, layers: int = 2) -> str:
    """A random transformers BERT folder (weights + config + vocab.txt only), as
    ``save_pretrained`` writes it: what a downloaded checkpoint looks like."""
    import shutil

    import torch
    from transformers import BertConfig, BertForPreTraining

    vocab_size = sum(1 for _ in open(vocab_txt, encoding="utf-8"))
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=4 * hidden,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    BertForPreTraining(config).save_pretrained(path)
    shutil.copyfile(vocab_txt, path / "vocab.txt")
    return str(path)
