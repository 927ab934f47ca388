"""A tokenizer folder (TOK_DIR): what the vocab job writes and the packing job reads.

Layout (loads with ``tokenizers.Tokenizer.from_file`` and
``transformers.BertTokenizerFast.from_pretrained``):
  tokenizer.json, vocab.txt, tokenizer_config.json, special_tokens_map.json, vocab_report.json
"""

from __future__ import annotations

import hashlib
import os

TOKENIZER_FILE = "tokenizer.json"
VOCAB_FILE = "vocab.txt"
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


class TokenizerDirError(RuntimeError):
    pass


def load_tokenizer(tok_dir: str):
    """The fast tokenizer of a TOK_DIR (imported lazily: heavy)."""
    from tokenizers import Tokenizer

    path = os.path.join(tok_dir, TOKENIZER_FILE)
    if not os.path.exists(path):
        raise TokenizerDirError(f"{tok_dir}: no {TOKENIZER_FILE}; run pipeline.vocab first")
    return Tokenizer.from_file(path)


def special_token_ids(tokenizer) -> dict[str, int]:
    """Ids of the BERT special tokens, looked up (never assumed); all must exist."""
    ids = {}
    for token in SPECIAL_TOKENS:
        token_id = tokenizer.token_to_id(token)
        if token_id is None:
            raise TokenizerDirError(f"tokenizer lacks special token {token}")
        ids[token] = token_id
    return ids


def tokenizer_hash(tok_dir: str) -> str:
    """sha256 over tokenizer.json: identifies the exact vocabulary + normalisation rules."""
    h = hashlib.sha256()
    with open(os.path.join(tok_dir, TOKENIZER_FILE), "rb") as f:
        h.update(f.read())
    return h.hexdigest()
