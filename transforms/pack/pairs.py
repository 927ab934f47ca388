"""Tokenised documents -> pretraining examples: NSP / SOP sentence pairs or single segments.

Follows google-research/bert ``create_instances_from_document``: sentences accumulate into a
chunk up to a target length (with ``short_seq_prob`` a random shorter one), A is a random
prefix of the chunk's sentences, B the rest (or, for an NSP negative, a run of sentences from
another document, after which the chunk's unused sentences are put back), and the longer
segment is truncated from a random end. Differences, all to keep labels balanced and output
reproducible: the target length is redrawn per example (google draws once per document); a
one-sentence chunk chosen as a true pair is split at a random token instead of always
becoming an NSP negative; negatives never come from the same document. Segments are token
ranges of a document's flat id array, so no step touches tokens one at a time in Python.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from schemas.document import PROTEIN
from schemas.example import NO_PAIR, PAIR_IS_NEXT, PAIR_RANDOM_NEXT, SOP_IN_ORDER, SOP_SWAPPED
from transforms.pack.config import Instance, PackConfig, Segment
from transforms.pack.tokenize import TokenizedDoc
from transforms.shared.accounting import Count

NSP_FORCED_NEXT = "nsp_forced_next"  # no other document in the bucket to draw B from
SPLIT_SENTENCE = "split_sentence"  # a one-sentence chunk split at a token to form A, B
CHUNKS_SKIPPED = "chunks_skipped"  # a one-token chunk that cannot form a pair
PROTEIN_CROPPED = "protein_cropped"


def target_length(max_num_tokens: int, short_seq_prob: float, rng: random.Random) -> int:
    """Usually fill the sequence; with ``short_seq_prob`` pick a shorter target, as google
    does, so the model also sees short inputs."""
    if short_seq_prob > 0 and rng.random() < short_seq_prob:
        return rng.randint(2, max(2, max_num_tokens))
    return max_num_tokens


def truncation_plan(
    len_a: int, len_b: int, max_num_tokens: int, rng: random.Random
) -> tuple[int, int, int, int]:
    """Tokens to drop (a_front, a_back, b_front, b_back): google's truncate_seq_pair in O(1).

    google removes one token at a time from the longer segment (B on ties), each from the
    front or back with probability 1/2; the totals follow in closed form and the front share
    of k removals is Binomial(k, 1/2), the popcount of k random bits.
    """
    excess = len_a + len_b - max_num_tokens
    if excess <= 0:
        return 0, 0, 0, 0
    gap = min(excess, abs(len_a - len_b))
    drop_a = gap if len_a > len_b else 0
    drop_b = gap if len_a <= len_b else 0
    rest = excess - gap
    drop_b += (rest + 1) // 2
    drop_a += rest // 2
    a_front = rng.getrandbits(drop_a).bit_count() if drop_a else 0
    b_front = rng.getrandbits(drop_b).bit_count() if drop_b else 0
    return a_front, drop_a - a_front, b_front, drop_b - b_front


def _random_b(
    docs: Sequence[TokenizedDoc], index: int, target_b: int, rng: random.Random
) -> Segment:
    """A run of sentences of another document, from a random sentence, up to ``target_b``."""
    other = rng.randrange(len(docs) - 1)
    other += other >= index
    doc = docs[other]
    off = doc.sent_offsets
    start = rng.randrange(doc.num_sentences)
    end = int(np.searchsorted(off, off[start] + max(1, target_b), side="left"))
    end = min(max(end, start + 1), doc.num_sentences)
    return doc, int(off[start]), int(off[end])


def _split_one(doc: TokenizedDoc, lo: int, hi: int, rng: random.Random) -> tuple[Segment, Segment]:
    cut = rng.randint(lo + 1, hi - 1)
    return (doc, lo, cut), (doc, cut, hi)


def create_pair_instances(
    docs: Sequence[TokenizedDoc],
    index: int,
    cfg: PackConfig,
    rng: random.Random,
    count: Count,
) -> list[Instance]:
    """NSP or SOP instances from ``docs[index]``; NSP negatives come from the other ``docs``."""
    doc = docs[index]
    off = doc.sent_offsets
    max_num = cfg.max_seq_len - 3
    target = target_length(max_num, cfg.short_seq_prob, rng)
    out: list[Instance] = []
    chunk_start = 0
    i = 0
    while i < doc.num_sentences:
        if i == doc.num_sentences - 1 or off[i + 1] - off[chunk_start] >= target:
            instance, i = _pair_step(docs, index, chunk_start, i, target, cfg, rng, count)
            if instance is not None:
                out.append(instance)
            chunk_start = i + 1
            target = target_length(max_num, cfg.short_seq_prob, rng)
        i += 1
    return out


def _pair_step(
    docs: Sequence[TokenizedDoc],
    index: int,
    chunk_start: int,
    last: int,
    target: int,
    cfg: PackConfig,
    rng: random.Random,
    count: Count,
) -> tuple[Instance | None, int]:
    """(the pair of the chunk of sentences ``chunk_start..last`` of ``docs[index]``, or None
    when it cannot form one; the chunk's real last sentence). A is a random prefix of the
    chunk, B the rest or, for an NSP negative, a run of another document, and then the chunk's
    unused sentences are put back."""
    doc, off, nsp = docs[index], docs[index].sent_offsets, cfg.pair_task == "nsp"
    max_num = cfg.max_seq_len - 3
    n_chunk = last + 1 - chunk_start
    a_end = chunk_start + (rng.randint(1, n_chunk - 1) if n_chunk >= 2 else 1)
    lo, mid, hi = int(off[chunk_start]), int(off[a_end]), int(off[last + 1])
    can_split = n_chunk >= 2 or hi - lo >= 2
    if nsp and _nsp_negative(len(docs), can_split, rng, count):
        b = _random_b(docs, index, target - (mid - lo), rng)
        return _truncated((doc, lo, mid), b, PAIR_RANDOM_NEXT, max_num, rng), a_end - 1
    if not can_split:
        count(CHUNKS_SKIPPED)
        return None, last
    if n_chunk >= 2:
        a, b = (doc, lo, mid), (doc, mid, hi)
    else:
        count(SPLIT_SENTENCE)
        a, b = _split_one(doc, lo, hi, rng)
    label = PAIR_IS_NEXT
    if not nsp:
        label = SOP_SWAPPED if rng.random() < 0.5 else SOP_IN_ORDER
        if label == SOP_SWAPPED:
            a, b = b, a
    return _truncated(a, b, label, max_num, rng), last


def _nsp_negative(num_docs: int, can_split: bool, rng: random.Random, count: Count) -> bool:
    """Whether B comes from another document: half the time, never without another document,
    and always (where there is one) when the chunk cannot be split into A and B."""
    is_random = rng.random() < 0.5
    if is_random and num_docs < 2:
        count(NSP_FORCED_NEXT)
        is_random = False
    if not is_random and not can_split:
        is_random = num_docs >= 2
    return is_random


def _truncated(a: Segment, b: Segment, label: int, max_num: int, rng: random.Random) -> Instance:
    af, ab, bf, bb = truncation_plan(a[2] - a[1], b[2] - b[1], max_num, rng)
    return Instance((a[0], a[1] + af, a[2] - ab), (b[0], b[1] + bf, b[2] - bb), label)


def create_single_instances(
    doc: TokenizedDoc, cfg: PackConfig, rng: random.Random, count: Count
) -> list[Instance]:
    """One-segment examples (RoBERTa DOC-SENTENCES: never crossing a document boundary).

    Whole sentences fill up to the target; a sentence longer than the target is cut into
    target-sized pieces. Protein documents give one example each, cropped at a random offset.
    """
    max_num = cfg.max_seq_len - 2
    n = doc.num_tokens
    if doc.source == PROTEIN:
        if n <= max_num:
            return [Instance((doc, 0, n), None, NO_PAIR)]
        count(PROTEIN_CROPPED)
        start = rng.randint(0, n - max_num)
        return [Instance((doc, start, start + max_num), None, NO_PAIR)]
    out: list[Instance] = []
    target = target_length(max_num, cfg.short_seq_prob, rng)
    c = 0  # start of the example being filled
    sent_start = 0
    for end in doc.sent_offsets[1:].tolist():
        if end - c > target:
            if sent_start > c:
                out.append(Instance((doc, c, sent_start), None, NO_PAIR))
                c = sent_start
                target = target_length(max_num, cfg.short_seq_prob, rng)
            while end - c > target:
                out.append(Instance((doc, c, c + target), None, NO_PAIR))
                c += target
                target = target_length(max_num, cfg.short_seq_prob, rng)
        sent_start = end
    if c < n:
        out.append(Instance((doc, c, n), None, NO_PAIR))
    return out
