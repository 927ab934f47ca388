"""Held-out evaluation of a trained tokenizer: UNK rate and fertility per language and source.

held-out doc rows -> spill files, by partition (they wait there, not in memory, until the
tokenizer is trained) -> per partition ((lang, source), (docs, words, subwords, unk_tokens,
unk_words, ...))
                  -> summed per key -> vocab_report.json "heldout" section
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping

import apache_beam as beam

from schemas.hashing import bucket_of
from schemas.special_tokens import UNK
from transforms.shared.spill import GroupThroughFiles, Segment, read_partition
from transforms.vocab.counting import doc_sentences
from transforms.vocab.tokenizer_dir import MAX_INPUT_CHARS_PER_WORD

EVAL_FIELDS = (
    "docs",
    "words",
    "subwords",
    "unk_tokens",
    "unk_words",
    "unk_words_too_long",  # longer than WordPiece's max_input_chars_per_word (BERT: 100)
    "unk_words_unseen_chars",  # holds a char that no training doc contains
)


def evaluate_doc(
    row: Mapping, tokenizer, unk_id: int, training_chars: Container[str] = ()
) -> tuple[int, ...]:
    """EVAL_FIELDS counts for one held-out doc under ``tokenizer``.

    Words are the tokenizer's own pre-tokens (``word_ids``), so fertility = subwords / words
    and a WordPiece word that cannot be spelled counts once in unk_words. Each [UNK] word is
    also put down to one cause when it has one that no vocabulary could fix: too long, or a
    (normalised) char absent from all training docs. The rest are the vocabulary's fault.
    """
    sentences = [s for s in doc_sentences(row) if s]
    words = subwords = unk_tokens = unk_words = too_long = unseen = 0
    encodings = tokenizer.encode_batch(sentences, add_special_tokens=False) if sentences else []
    for sentence, enc in zip(sentences, encodings, strict=True):
        words += len({w for w in enc.word_ids if w is not None})
        subwords += len(enc.ids)
        unk_spans: dict[int, tuple[int, int]] = {}
        for word_id, token_id, span in zip(enc.word_ids, enc.ids, enc.offsets, strict=True):
            if token_id == unk_id:
                unk_tokens += 1
                unk_spans.setdefault(word_id, span)
        unk_words += len(unk_spans)
        for start, end in unk_spans.values():
            word = sentence[start:end]
            word = tokenizer.normalizer.normalize_str(word) if tokenizer.normalizer else word
            word = word.strip()
            if len(word) > MAX_INPUT_CHARS_PER_WORD:
                too_long += 1
            elif any(c not in training_chars for c in word):
                unseen += 1
    return (1, words, subwords, unk_tokens, unk_words, too_long, unseen)


def sum_tuples(tuples: Iterable[tuple[int, ...]]) -> tuple[int, ...]:
    out = [0] * len(EVAL_FIELDS)
    for t in tuples:
        out = [a + b for a, b in zip(out, t, strict=True)]
    return tuple(out)


def eval_summary(totals: tuple[int, ...]) -> dict:
    """Counts plus unk_rate (UNK share of subwords), unk_word_rate, fertility and
    unk_word_rate_vocab (UNK words with no cause outside the vocabulary, per word)."""
    row: dict = dict(zip(EVAL_FIELDS, totals, strict=True))
    row["unk_rate"] = row["unk_tokens"] / row["subwords"] if row["subwords"] else 0.0
    row["unk_word_rate"] = row["unk_words"] / row["words"] if row["words"] else 0.0
    row["fertility"] = row["subwords"] / row["words"] if row["words"] else 0.0
    vocab_unk = row["unk_words"] - row["unk_words_unseen_chars"] - row["unk_words_too_long"]
    row["unk_word_rate_vocab"] = vocab_unk / row["words"] if row["words"] else 0.0
    return row


def heldout_report(per_key: Iterable[tuple[tuple[str, str], tuple[int, ...]]]) -> dict:
    """Summaries by language, by source, by "lang/source" and overall, from (lang, source) sums."""
    per_key = sorted(per_key)
    groups: dict[str, dict[str, list]] = {"by_language": {}, "by_source": {}, "by_lang_source": {}}
    for (lang, source), totals in per_key:
        groups["by_language"].setdefault(lang, []).append(totals)
        groups["by_source"].setdefault(source, []).append(totals)
        groups["by_lang_source"].setdefault(f"{lang}/{source}", []).append(totals)
    report: dict = {
        name: {key: eval_summary(sum_tuples(v)) for key, v in sorted(group.items())}
        for name, group in groups.items()
    }
    report["overall"] = eval_summary(sum_tuples(t for _, t in per_key))
    return report


HOLDOUT_PARTITIONS = 16  # evaluation tasks: enough to spread over workers


def _keyed(row: Mapping, partitions: int) -> tuple[int, tuple[str, Mapping]]:
    return bucket_of(row["doc_id"], partitions, seed="vocab-eval"), (row["doc_id"], row)


class _EvaluateFn(beam.DoFn):
    """(partition, spill segments) -> EVAL_FIELDS sums per (lang, source) of its docs. The
    tokenizer JSON arrives as a side input; it is parsed once per worker, not per doc."""

    def setup(self) -> None:
        self._json: str | None = None

    def process(self, item: tuple[int, Iterable[Segment]], trained: Mapping):
        if trained["tokenizer_json"] is not self._json:
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_str(trained["tokenizer_json"])
            unk_id = self._tokenizer.token_to_id(UNK)
            if unk_id is None:
                raise ValueError(f"trained tokenizer lacks {UNK}")
            self._unk_id: int = unk_id
            self._chars = frozenset(trained["training_chars"])
            self._json = trained["tokenizer_json"]
        sums: dict[tuple[str, str], list[tuple[int, ...]]] = {}
        for _, row in read_partition(item[1]):
            counts = evaluate_doc(row, self._tokenizer, self._unk_id, self._chars)
            sums.setdefault((row["lang"], row["source"]), []).append(counts)
        for key, tuples in sorted(sums.items()):
            yield key, sum_tuples(tuples)


class EvaluateHoldout(beam.PTransform):
    """Held-out doc rows -> one element: the heldout report dict (see ``heldout_report``).

    ``trained`` is the one-element PCollection of ``TrainTokenizer``. The rows go to spill
    files under ``temp_dir`` as they arrive (transforms/shared/spill.py): a step with a side
    input waits for it, and the local runner would hold everything it waits with in memory,
    i.e. the whole held-out sample, a fixed share of the corpus. The caller deletes
    ``temp_dir`` after the report is used.
    """

    def __init__(self, trained, temp_dir: str) -> None:
        super().__init__()
        self.trained = trained
        self.temp_dir = temp_dir

    def expand(self, rows):
        return (
            rows
            | "Partition" >> beam.Map(_keyed, HOLDOUT_PARTITIONS)
            | "Spill" >> GroupThroughFiles(self.temp_dir)
            | "Tokenize" >> beam.ParDo(_EvaluateFn(), beam.pvalue.AsSingleton(self.trained))
            | "SumPerLangSource" >> beam.CombinePerKey(sum_tuples)
            | "All" >> beam.combiners.ToList()
            | "Summarise" >> beam.Map(heldout_report)
        )


def vocab_report(trained: Mapping, heldout: Mapping, cfg, tokenizer) -> dict:
    """The vocab_report.json body (vocab_hash is added when the folder is written)."""
    from dataclasses import asdict

    from transforms.vocab.tokenizer_dir import special_token_ids

    return {
        "model": cfg.model,
        "vocab_size": tokenizer.get_vocab_size(),
        "requested_vocab_size": cfg.vocab_size,
        "lowercase": cfg.lowercase,
        "alpha": cfg.alpha,
        "languages": trained["language_stats"],
        "training": trained["training"],
        "heldout": heldout,
        "special_token_ids": special_token_ids(tokenizer),
        "config": asdict(cfg),
    }


def write_tokenizer_dir(trained: Mapping, heldout: Mapping, output_dir: str, cfg) -> str:
    """Write TOK_DIR (tokenizer files + vocab_report.json) to a local or remote folder."""
    from tokenizers import Tokenizer

    from transforms.shared.staging import staged_folder
    from transforms.vocab.tokenizer_dir import save_tokenizer_dir

    tokenizer = Tokenizer.from_str(trained["tokenizer_json"])
    report = vocab_report(trained, heldout, cfg, tokenizer)
    with staged_folder(output_dir) as folder:
        save_tokenizer_dir(
            tokenizer,
            folder,
            lowercase=cfg.lowercase,
            model_max_length=cfg.model_max_length,
            report=report,
        )
    return output_dir
