"""A tokenizer folder (TOK_DIR): what the vocab job writes and the packing job reads.

Layout (loads with ``tokenizers.Tokenizer.from_file`` and
``transformers.BertTokenizerFast.from_pretrained``):
  tokenizer.json, vocab.txt, tokenizer_config.json, special_tokens_map.json, vocab_report.json

A Hugging Face tokenizer folder is a TOK_DIR too: ``tokenizer.json`` (what
``BertTokenizerFast.save_pretrained`` or ``trainer.export`` writes), or a slow BERT folder with
only ``vocab.txt`` + ``tokenizer_config.json``, rebuilt here with BERT's rules.
"""

from __future__ import annotations

import hashlib
import os

from schemas.cli import UserError
from schemas.special_tokens import CLS, MASK, PAD, SEP, SPECIAL_TOKENS, UNK

TOKENIZER_FILE = "tokenizer.json"
VOCAB_FILE = "vocab.txt"


class TokenizerDirError(UserError, RuntimeError):
    """A tokenizer folder cannot be read (a user error: one ``error:`` line)."""


def load_tokenizer(tok_dir: str):
    """The fast tokenizer of a TOK_DIR (imported lazily: heavy)."""
    from tokenizers import Tokenizer

    path = os.path.join(tok_dir, TOKENIZER_FILE)
    if os.path.exists(path):
        tok = Tokenizer.from_file(path)
    elif os.path.exists(os.path.join(tok_dir, VOCAB_FILE)):
        tok = wordpiece_tokenizer(
            read_vocab_txt(os.path.join(tok_dir, VOCAB_FILE)), _lowercase(tok_dir)
        )
    else:
        raise TokenizerDirError(
            f"{tok_dir}: no {TOKENIZER_FILE} or {VOCAB_FILE}; run pipeline.vocab first"
        )
    # A tokenizer.json saved by transformers may carry truncation/padding: either would
    # silently cut or pad the documents we encode.
    tok.no_truncation()
    tok.no_padding()
    return tok


def _lowercase(tok_dir: str) -> bool:
    """do_lower_case of a slow BERT folder (BertTokenizer's default: True); settings our
    WordPiece rebuild cannot follow are refused rather than tokenised differently."""
    import json

    path = os.path.join(tok_dir, TOKENIZER_CONFIG_FILE)
    config = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    if config.get("strip_accents") is not None or not config.get("tokenize_chinese_chars", True):
        raise TokenizerDirError(f"{path}: strip_accents/tokenize_chinese_chars not supported")
    return bool(config.get("do_lower_case", True))


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
    """sha256 over tokenizer.json: identifies the exact vocabulary + normalisation rules.
    A folder without one (vocab.txt only): over the tokenizer rebuilt from it."""
    h = hashlib.sha256()
    path = os.path.join(tok_dir, TOKENIZER_FILE)
    if not os.path.exists(path):
        h.update(load_tokenizer(tok_dir).to_str().encode())
        return h.hexdigest()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


# --- Writing a TOK_DIR -------------------------------------------------------------------------

TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"
REPORT_FILE = "vocab_report.json"
WORDPIECE_PREFIX = "##"
MAX_INPUT_CHARS_PER_WORD = 100  # BERT's WordpieceTokenizer default: longer words become [UNK]
DEFAULT_MODEL_MAX_LENGTH = 512


def read_vocab_txt(vocab_txt: str) -> dict[str, int]:
    """vocab.txt -> {token: id}, exactly as BERT's ``load_vocab`` (line index; last one wins)."""
    with open(vocab_txt, encoding="utf-8") as f:
        return {line.rstrip("\n"): i for i, line in enumerate(f.readlines())}


def bert_normalizer(lowercase: bool):
    """BERT's BasicTokenizer text rules: clean text, split CJK, lowercase (+strip accents)."""
    from tokenizers import normalizers

    # strip_accents=None: BERT strips accents exactly when it lowercases.
    return normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )


def bert_post_processor(tokenizer):
    """[CLS] A [SEP] / [CLS] A [SEP] B [SEP] with segment ids 0/1, ids looked up."""
    from tokenizers import processors

    cls_id, sep_id = tokenizer.token_to_id(CLS), tokenizer.token_to_id(SEP)
    if cls_id is None or sep_id is None:
        raise TokenizerDirError("tokenizer lacks [CLS] or [SEP]")
    return processors.TemplateProcessing(
        single=f"{CLS}:0 $A:0 {SEP}:0",
        pair=f"{CLS}:0 $A:0 {SEP}:0 $B:1 {SEP}:1",
        special_tokens=[(CLS, cls_id), (SEP, sep_id)],
    )


def register_special_tokens(tokenizer) -> None:
    """Mark the BERT specials as special added tokens (never split, never normalised).

    They must already be in the model's vocabulary: adding them here would give ids that
    vocab.txt does not list.
    """
    from tokenizers import AddedToken

    missing = [t for t in SPECIAL_TOKENS if t not in tokenizer.get_vocab(with_added_tokens=False)]
    if missing:
        raise TokenizerDirError(f"vocabulary lacks special tokens {missing}")
    tokenizer.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS]
    )


def wordpiece_tokenizer(vocab: dict[str, int], lowercase: bool):
    """A BERT WordPiece ``tokenizers.Tokenizer`` over ``vocab`` (same rules as BertTokenizer)."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import WordPiece

    tok = Tokenizer(
        WordPiece(
            vocab,
            unk_token=UNK,
            continuing_subword_prefix=WORDPIECE_PREFIX,
            max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD,
        )
    )
    tok.normalizer = bert_normalizer(lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    # No cleanup: decode(encode(text)) is then exactly the normalised text (words joined).
    tok.decoder = decoders.WordPiece(prefix=WORDPIECE_PREFIX, cleanup=False)
    register_special_tokens(tok)
    tok.post_processor = bert_post_processor(tok)
    return tok


def save_tokenizer_dir(
    tokenizer,
    out_dir: str,
    *,
    lowercase: bool,
    model_max_length: int = DEFAULT_MODEL_MAX_LENGTH,
    vocab_txt: str | None = None,
    report: dict | None = None,
) -> str:
    """Write a TOK_DIR for ``tokenizer``; return ``out_dir``.

    WordPiece folders declare ``BertTokenizer`` (transformers rebuilds it from vocab.txt and
    do_lower_case, which agree with tokenizer.json). Other models (SentencePiece unigram/BPE,
    residues) declare the generic fast tokenizer so transformers loads tokenizer.json as is.
    ``vocab_txt``: copy this file byte for byte instead of writing the vocab in id order.
    """
    import json
    import shutil

    os.makedirs(out_dir, exist_ok=True)
    special_token_ids(tokenizer)  # all five must exist
    tokenizer.save(os.path.join(out_dir, TOKENIZER_FILE))
    vocab_path = os.path.join(out_dir, VOCAB_FILE)
    if vocab_txt is not None:
        shutil.copyfile(vocab_txt, vocab_path)
    else:
        by_id = sorted(tokenizer.get_vocab(with_added_tokens=True).items(), key=lambda kv: kv[1])
        with open(vocab_path, "w", encoding="utf-8") as f:
            f.writelines(token + "\n" for token, _ in by_id)
    is_wordpiece = json.loads(tokenizer.model.__getstate__())["type"] == "WordPiece"
    specials = {"unk_token": UNK, "sep_token": SEP, "pad_token": PAD, "cls_token": CLS}
    specials["mask_token"] = MASK
    config = {
        "tokenizer_class": "BertTokenizer" if is_wordpiece else "PreTrainedTokenizerFast",
        "do_lower_case": lowercase,
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "model_max_length": model_max_length,
        "clean_up_tokenization_spaces": False,  # decode gives the normalised text back
        "model_input_names": ["input_ids", "token_type_ids", "attention_mask"],
        **specials,
    }
    _write_json(os.path.join(out_dir, TOKENIZER_CONFIG_FILE), config)
    _write_json(os.path.join(out_dir, SPECIAL_TOKENS_MAP_FILE), specials)
    if report is not None:
        report = {**report, "vocab_hash": tokenizer_hash(out_dir)}
        _write_json(os.path.join(out_dir, REPORT_FILE), report)
    return out_dir


def tokenizer_from_vocab(vocab_txt: str, out_dir: str, lowercase: bool) -> str:
    """Build a TOK_DIR from an existing WordPiece vocab.txt (e.g. a released BERT vocab).

    The result tokenises exactly as ``BertTokenizer(vocab=vocab_txt, do_lower_case=lowercase)``.
    Returns ``out_dir``.
    """
    tok = wordpiece_tokenizer(read_vocab_txt(vocab_txt), lowercase)
    return save_tokenizer_dir(tok, out_dir, lowercase=lowercase, vocab_txt=vocab_txt)


def _write_json(path: str, obj: dict) -> None:
    import json

    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
