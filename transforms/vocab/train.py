"""Train a tokenizer from aggregated (word, count) pairs: WordPiece, SentencePiece, residues.

The vocab job counts words in Beam; training sees only the top words with their counts, never
the raw text. Every trainer returns a ``tokenizers.Tokenizer`` with BERT's normaliser,
pre-tokeniser and [CLS]/[SEP] template, ready for ``tokenizer_dir.save_tokenizer_dir``.

Counts. ``tokenizers`` has no public API to train from counts (huggingface/tokenizers#760),
so ``train_wordpiece`` feeds each word ``count`` times through a whitespace-split iterator:
exact for integer counts, and linear in the total count. ``quantize_counts`` scales all counts
by one factor so the total stays under a budget; BPE/WordPiece merge choices depend only on
count *ratios*, so this changes the result only through rounding (and drops words whose
scaled count rounds to 0: the rarest ones, whose characters are kept via ``char_forms``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping

from schemas.special_tokens import SPECIAL_TOKENS, UNK
from transforms.shared.alphabets import RARE_RESIDUES, STANDARD_RESIDUES, UNKNOWN_RESIDUE
from transforms.vocab.config import MILLI, VocabConfig
from transforms.vocab.tokenizer_dir import (
    WORDPIECE_PREFIX,
    bert_normalizer,
    bert_post_processor,
    register_special_tokens,
    wordpiece_tokenizer,
)

METASPACE = "\u2581"  # SentencePiece's word-start marker
# Cleaning maps the ambiguous/rare residues to X; the tokenizer does the same.
RESIDUE_VOCAB = (*SPECIAL_TOKENS, *STANDARD_RESIDUES, UNKNOWN_RESIDUE)
_REPEAT_CHUNK = 1 << 16  # words per yielded string: bounds memory for very frequent words


def quantize_counts(
    weighted: Iterable[tuple[str, float]], max_total: int
) -> tuple[list[tuple[str, int]], float]:
    """Integer counts ``round(c * scale)``; returns (pairs with count > 0, scale).

    The scale lifts the rarest word to a count of 1 (smoothing gives fractional counts) unless
    that would push the total over ``max_total``; then it shrinks the total to ``max_total``.
    """
    weighted = [(w, c) for w, c in weighted if c > 0]
    if not weighted:
        return [], 1.0
    total = sum(c for _, c in weighted)
    scale = min(max(1.0, 1.0 / min(c for _, c in weighted)), max_total / total)
    kept = [(w, round(c * scale)) for w, c in weighted]
    return [(w, c) for w, c in kept if c > 0], scale


def char_forms(words: Iterable[str]) -> list[str]:
    """Every initial char and ``##``-continuation char of ``words``, in code-point order."""
    words = list(words)
    # Sets of chars built from joined strings: the per-char work stays in C.
    continuing = set("".join([w[1:] for w in words]))
    forms = {w[0] for w in words} | {WORDPIECE_PREFIX + c for c in continuing}
    return sorted(forms, key=lambda f: (ord(f[-1]), len(f)))


def _repeated(word_counts: Iterable[tuple[str, int]]) -> Iterator[str]:
    for word, count in word_counts:
        while count > 0:
            n = min(count, _REPEAT_CHUNK)
            yield (word + " ") * n
            count -= n


def train_wordpiece(
    word_counts: list[tuple[str, int]],
    vocab_size: int,
    *,
    lowercase: bool,
    extra_chars: Iterable[str] = (),
):
    """WordPiece (HF WordPieceTrainer) on integer word counts -> BERT tokenizer.

    The trainer assigns ids to continuation chars in hash-map order and breaks ties between
    equally frequent pairs by id, so it is not deterministic by itself. Registering every
    char form up front, sorted, fixes all ids and makes training reproducible. ``extra_chars``
    (char forms of words not trained on) keep rare characters out of [UNK].
    """
    from tokenizers import Tokenizer, pre_tokenizers, trainers
    from tokenizers.models import WordPiece

    forms = char_forms([w for w, _ in word_counts])
    forms = sorted(set(forms) | set(extra_chars), key=lambda f: (ord(f[-1]), len(f)))
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=0,
        show_progress=False,
        special_tokens=[*SPECIAL_TOKENS, *forms],
        continuing_subword_prefix=WORDPIECE_PREFIX,
    )
    scratch = Tokenizer(WordPiece(unk_token=UNK, continuing_subword_prefix=WORDPIECE_PREFIX))
    scratch.pre_tokenizer = pre_tokenizers.WhitespaceSplit()  # words are already normalised
    ordered = sorted(word_counts)  # order does not change the result; keeps runs comparable
    scratch.train_from_iterator(_repeated(ordered), trainer=trainer)
    return wordpiece_tokenizer(scratch.get_vocab(with_added_tokens=False), lowercase)


def _metaspace_tokenizer(model, lowercase: bool):
    """BERT normaliser + BERT words, each prefixed with the SentencePiece word marker."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers

    tok = Tokenizer(model)
    tok.normalizer = bert_normalizer(lowercase)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.BertPreTokenizer(),
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    register_special_tokens(tok)
    tok.post_processor = bert_post_processor(tok)
    return tok


def train_sentencepiece(
    word_counts: list[tuple[str, int]],
    vocab_size: int,
    *,
    model_type: str,
    lowercase: bool,
    char_coverage: float = 1.0,
    seed: int = 0,
):
    """SentencePiece unigram/BPE trained on ``word<TAB>count`` rows -> tokenizers model.

    Words are already BERT-normalised, so SentencePiece's own normalisation is off
    (``identity``); each word becomes one SentencePiece sentence with a leading ``▁``.
    """
    import sentencepiece as spm

    spm.set_random_generator_seed(seed)
    with tempfile.TemporaryDirectory(prefix="bertcorpus-spm-") as tmp:
        tsv = os.path.join(tmp, "words.tsv")
        with open(tsv, "w", encoding="utf-8") as f:
            f.writelines(f"{w}\t{c}\n" for w, c in sorted(word_counts))
        spm.SentencePieceTrainer.train(
            input=tsv,
            input_format="tsv",
            model_prefix=os.path.join(tmp, "sp"),
            model_type=model_type,
            vocab_size=vocab_size,
            hard_vocab_limit=False,
            character_coverage=char_coverage,
            normalization_rule_name="identity",
            add_dummy_prefix=True,
            pad_id=0,
            pad_piece=SPECIAL_TOKENS[0],
            unk_id=1,
            unk_piece=SPECIAL_TOKENS[1],
            bos_id=-1,
            eos_id=-1,
            control_symbols=list(SPECIAL_TOKENS[2:]),
            num_threads=1,  # one thread: reproducible pieces and scores
            minloglevel=2,
        )
        sp = spm.SentencePieceProcessor(model_file=os.path.join(tmp, "sp.model"))
    pieces = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    return _metaspace_tokenizer(_sentencepiece_model(pieces, model_type), lowercase)


def _sentencepiece_model(pieces: list[tuple[str, float]], model_type: str):
    from tokenizers.models import BPE, Unigram

    unk_id = [p for p, _ in pieces].index(UNK)
    if model_type == "unigram":
        return Unigram(pieces, unk_id=unk_id, byte_fallback=False)
    vocab = {piece: i for i, (piece, _) in enumerate(pieces)}
    return BPE(vocab, bpe_merges(vocab), unk_token=UNK, fuse_unk=True)


def bpe_merges(vocab: dict[str, int]) -> list[tuple[str, str]]:
    """Merges implied by a SentencePiece BPE vocab: a piece's splits into two pieces, ordered
    by the piece's rank (SentencePiece adds pieces in merge order), then by the parts' ranks."""
    merges = []
    for piece, rank in vocab.items():
        if piece in SPECIAL_TOKENS:
            continue
        splits = [
            (vocab[piece[:i]], vocab[piece[i:]], piece[:i], piece[i:])
            for i in range(1, len(piece))
            if piece[:i] in vocab and piece[i:] in vocab
        ]
        merges += [(rank, a, b, left, right) for a, b, left, right in sorted(splits)]
    return [(left, right) for *_, left, right in sorted(merges)]


def residue_tokenizer():
    """Fixed amino-acid tokenizer: one token per residue, U/Z/O/B -> X, no training."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel

    tok = Tokenizer(WordLevel({t: i for i, t in enumerate(RESIDUE_VOCAB)}, unk_token=UNK))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Replace(c, UNKNOWN_RESIDUE) for c in RARE_RESIDUES]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex("."), "isolated")]
    )
    tok.decoder = decoders.Fuse()
    register_special_tokens(tok)
    tok.post_processor = bert_post_processor(tok)
    return tok


def residues_of(text: str) -> list[str]:
    """The 'words' of a protein sequence for counting: its residues, mapped like the tokenizer."""
    table = str.maketrans(dict.fromkeys(RARE_RESIDUES, UNKNOWN_RESIDUE))
    return list("".join(text.split()).translate(table))


def train_from_selection(selection: Mapping, cfg: VocabConfig) -> dict:
    """``SelectTrainingWords`` output -> {"tokenizer_json", "training", "language_stats"}."""
    milli = selection["words"]
    counts, scale = quantize_counts(((w, m / MILLI) for w, m in milli), cfg.max_train_count)
    if cfg.model == "residues":
        tok = residue_tokenizer()
    elif cfg.model == "wordpiece":
        extra = selection["char_forms"]
        tok = train_wordpiece(counts, cfg.vocab_size, lowercase=cfg.lowercase, extra_chars=extra)
    else:
        tok = train_sentencepiece(
            counts,
            cfg.vocab_size,
            model_type=cfg.model,
            lowercase=cfg.lowercase,
            char_coverage=cfg.char_coverage,
            seed=cfg.seed,
        )
    training = {
        "distinct_words": len(milli),
        "trained_words": len(counts),
        "trained_word_count": sum(c for _, c in counts),
        "count_scale": scale,
        "alphabet_char_forms": len(selection["char_forms"]),
    }
    return {
        "tokenizer_json": tok.to_str(),
        "training": training,
        "language_stats": selection["language_stats"],
        "training_chars": selection["training_chars"],
    }
