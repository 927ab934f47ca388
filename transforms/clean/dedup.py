"""Exact and near-duplicate removal across a whole job, deterministic under any bundling.

- Exact: documents whose text is equal after lower-casing and removing whitespace,
  punctuation, symbols and controls share a 128-bit xxh3 key; the smallest doc_id of each
  key is kept, the others count ``dropped_duplicate``.
- Near: one-permutation MinHash (``transforms.clean.minhash``) over shingles of ``shingle``
  words; of ``shingle`` characters for scripts without spaces and for protein residues. The
  signature is cut into ``bands`` bands, and each band value is a Beam
  key. In each band group, members are visited by doc_id; a member whose estimated Jaccard
  with an earlier kept member is >= ``threshold`` is marked (candidates are verified on the
  full signature, so a chance band collision drops nothing). A document marked in any band
  counts ``dropped_near_duplicate``; a document in both counts as exact only.
The marks are joined back to the documents by doc_id, so only (key, id, signature) tuples
are grouped by band, and the documents themselves are shuffled once.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass

import apache_beam as beam
import numpy as np
import xxhash
from apache_beam.io.filesystems import FileSystems

from schemas.document import PROTEIN
from transforms.clean import minhash
from transforms.clean.minhash import DedupText, dedup_text
from transforms.read.rawdoc import RawDoc
from transforms.shared.accounting import BeamCount, Count, dropped
from transforms.shared.exclusions import DROPPED_TAG, KeepDropped, WriteDropped, dropped_row
from transforms.shared.spill import DeleteWhenDone, GroupByKeyThroughFiles

DUPLICATE, NEAR_DUPLICATE = "duplicate", "near_duplicate"
DROPPED_DUPLICATE = dropped(DUPLICATE)
DROPPED_NEAR_DUPLICATE = dropped(NEAR_DUPLICATE)
EXACT, NEAR = "exact", "near"
BANDS_TAG = "bands"


@dataclass(frozen=True)
class DedupConfig:
    exact: bool = True
    near: bool = True
    num_perm: int = 128
    bands: int = 16
    threshold: float = 0.8
    shingle: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_perm % self.bands or not 0 < self.bands < 256:
            raise ValueError(f"num_perm {self.num_perm} must split into 1..255 equal bands")


def dedup_words(doc: RawDoc) -> list[str]:
    """Lower-cased words with punctuation, symbols and whitespace removed."""
    return dedup_text(doc.paragraphs).words()


def exact_key(doc: RawDoc, text: DedupText | None = None) -> bytes:
    """128-bit key of the text with case, whitespace, punctuation and symbols ignored."""
    text = dedup_text(doc.paragraphs) if text is None else text
    # The little-endian code points: the same bytes, so the same key, on every machine.
    return xxhash.xxh3_128_digest(np.ascontiguousarray(text.chars).data)


def shingle_hashes(doc: RawDoc, cfg: DedupConfig, text: DedupText | None = None) -> np.ndarray:
    """Sorted unique uint64 hashes of the document's shingles (empty for a document without
    text): by character for protein residues, else from its dedup text."""
    if doc.source == PROTEIN:
        return minhash.residue_shingles("".join(doc.paragraphs), cfg.shingle, cfg.seed)
    text = dedup_text(doc.paragraphs) if text is None else text
    return minhash.text_shingles(text, cfg.shingle, cfg.seed)


def minhash_signature(hashes: np.ndarray, cfg: DedupConfig) -> np.ndarray:
    """(num_perm,) uint32 MinHash signature of ``shingle_hashes``' output."""
    return minhash.signature(hashes, cfg.num_perm, cfg.seed)


def band_keys(signature: np.ndarray, cfg: DedupConfig) -> list[bytes]:
    rows = cfg.num_perm // cfg.bands
    return [bytes([i]) + signature[i * rows : (i + 1) * rows].tobytes() for i in range(cfg.bands)]


def exact_matches(doc_ids: Iterable[str]) -> list[tuple[str, str]]:
    """(loser, kept id): all ids of one exact-key group but the smallest, which is kept."""
    ordered = sorted(set(doc_ids))
    return [(doc_id, ordered[0]) for doc_id in ordered[1:]]


def exact_losers(doc_ids: Iterable[str]) -> list[str]:
    return [loser for loser, _ in exact_matches(doc_ids)]


def near_matches(members: Iterable[tuple[str, bytes]], threshold: float) -> list[tuple[str, str]]:
    """(loser, kept id it matched). Greedy over one band group in doc_id order: a member
    within ``threshold`` (estimated Jaccard) of an earlier kept member is a loser (matched to
    the most similar, the smallest id on a tie); otherwise it is kept."""
    ordered = sorted(set(members))
    if len(ordered) < 2:
        return []
    sigs = np.stack([np.frombuffer(sig, dtype=np.uint32) for _, sig in ordered])
    kept = np.zeros(len(ordered), dtype=bool)
    kept[0] = True
    kept_ids = [ordered[0][0]]  # in index order, as sigs[kept] rows are
    losers = []
    for i in range(1, len(ordered)):
        similarity = (sigs[kept] == sigs[i]).mean(axis=1)
        best = int(similarity.argmax())
        if similarity[best] >= threshold:
            losers.append((ordered[i][0], kept_ids[best]))
        else:
            kept[i] = True
            kept_ids.append(ordered[i][0])
    return losers


def near_losers(members: Iterable[tuple[str, bytes]], threshold: float) -> list[str]:
    return [loser for loser, _ in near_matches(members, threshold)]


def _canonical(docs: list[RawDoc]) -> list[RawDoc]:
    # Two records with one id are a reader's mistake; keep one deterministically.
    return sorted(docs, key=lambda d: (d.paragraphs, d.title or ""))


def resolve(doc_id: str, docs: list[RawDoc], marks: Iterable[str], count: Count) -> RawDoc | None:
    """One doc_id's documents and marks -> the document to keep, or None (counted)."""
    marks = set(marks)
    if not docs:
        return None
    docs = _canonical(docs)
    for _ in docs[1:]:
        count(DROPPED_DUPLICATE)
    if EXACT in marks:
        count(DROPPED_DUPLICATE)
        return None
    if NEAR in marks:
        count(DROPPED_NEAR_DUPLICATE)
        return None
    return docs[0]


def duplicate_drops(
    doc_id: str, docs: list[RawDoc], marks: Iterable[tuple[str, str]]
) -> list[tuple[RawDoc, tuple[str, ...], str]]:
    """(document, reasons, duplicate_of) for each record ``resolve`` drops: the deciding
    reason first, then near_duplicate where an exact duplicate was also marked near."""
    if not docs:
        return []
    docs = _canonical(docs)
    # A second record with the same id duplicates the first.
    drops: list[tuple[RawDoc, tuple[str, ...], str]] = [
        (doc, (DUPLICATE,), doc_id) for doc in docs[1:]
    ]
    matched: dict[str, str] = {}  # kind -> the smallest kept id matched (one per band)
    for kind, kept_id in marks:
        matched[kind] = min(kept_id, matched.get(kind, kept_id))
    if EXACT in matched:
        also = (NEAR_DUPLICATE,) if NEAR in matched else ()
        drops.append((docs[0], (DUPLICATE, *also), matched[EXACT]))
    elif NEAR in matched:
        drops.append((docs[0], (NEAR_DUPLICATE,), matched[NEAR]))
    return drops


class _DedupKeysFn(beam.DoFn):
    """RawDoc -> (exact key, doc_id) and, on BANDS_TAG, (band key, (doc_id, signature))."""

    def __init__(self, cfg: DedupConfig) -> None:
        self.cfg = cfg

    def process(self, doc: RawDoc):
        text = None
        if self.cfg.exact or doc.source != PROTEIN:
            text = dedup_text(doc.paragraphs)
        if self.cfg.exact:
            yield exact_key(doc, text), doc.doc_id
        if not self.cfg.near:
            return
        hashes = shingle_hashes(doc, self.cfg, text)
        if len(hashes):
            signature = minhash_signature(hashes, self.cfg)
            sig = signature.tobytes()
            for key in band_keys(signature, self.cfg):
                yield beam.pvalue.TaggedOutput(BANDS_TAG, (key, (doc.doc_id, sig)))


# A mark is (loser id, (kind, kept id it duplicates)); the kept id costs a few bytes per
# duplicate and tells --keep_dropped what a dropped document duplicated.
def _mark_exact(group: tuple[bytes, Iterable[str]]) -> list[tuple[str, tuple[str, str]]]:
    return [(loser, (EXACT, kept)) for loser, kept in exact_matches(group[1])]


def _mark_near(group: tuple[bytes, Iterable], threshold: float) -> list[tuple[str, tuple]]:
    return [(loser, (NEAR, kept)) for loser, kept in near_matches(group[1], threshold)]


class _ResolveFn(beam.DoFn):
    """(doc_id, tagged docs and marks) -> the document to keep; with ``keep``, the dropped
    ones (sampled) on DROPPED_TAG as dropped rows."""

    def __init__(self, keep: KeepDropped | None = None) -> None:
        self.keep = keep

    def setup(self) -> None:
        self.count = BeamCount()

    def process(self, item):
        doc_id, tagged = item
        docs = [value for tag, value in tagged if tag == _DOC]
        marks = [value for tag, value in tagged if tag != _DOC]
        doc = resolve(doc_id, docs, [kind for kind, _ in marks], self.count)
        if doc is not None:
            yield doc
        if self.keep is not None and self.keep.keeps(doc_id):
            for dropped, reasons, duplicate_of in duplicate_drops(doc_id, docs, marks):
                row = dropped_row(dropped, "dedup", reasons, duplicate_of)
                yield beam.pvalue.TaggedOutput(DROPPED_TAG, row)


_DOC, _MARK = "doc", "mark"  # what a value in the join by doc_id is


class Deduplicate(beam.PTransform):
    """RawDoc -> RawDoc, one per exact/near-duplicate cluster.
    Counters: dropped_duplicate, dropped_near_duplicate.

    Every grouping (exact keys, bands, the join of marks to documents) goes through spill
    files under ``temp_dir`` (default a local temporary folder; deleted once every document
    is resolved), so memory holds one group at a time, not the corpus. With ``keep``
    (--keep_dropped), the dropped duplicates go to ``keep.output_dir/dedup`` with the id they
    duplicated (transforms/shared/exclusions.py)."""

    def __init__(
        self,
        cfg: DedupConfig = DedupConfig(),
        temp_dir: str | None = None,
        keep: KeepDropped | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.temp_dir = temp_dir
        self.keep = keep  # --keep_dropped: write the duplicates under keep.output_dir/dedup

    def expand(self, docs):
        cfg = self.cfg
        if not (cfg.exact or cfg.near):
            return docs
        temp_dir = self.temp_dir or tempfile.mkdtemp(prefix="bertcorpus-spill-")
        keys = docs | "DedupKeys" >> beam.ParDo(_DedupKeysFn(cfg)).with_outputs(
            BANDS_TAG, main="exact"
        )
        marks = []
        if cfg.exact:
            marks.append(
                keys.exact
                | "GroupExact" >> GroupByKeyThroughFiles(FileSystems.join(temp_dir, "exact"))
                | "ExactLosers" >> beam.FlatMap(_mark_exact)
            )
        if cfg.near:
            marks.append(
                keys[BANDS_TAG]
                | "GroupBand" >> GroupByKeyThroughFiles(FileSystems.join(temp_dir, "bands"))
                | "NearLosers" >> beam.FlatMap(_mark_near, cfg.threshold)
            )
        all_marks = marks[0] if len(marks) == 1 else tuple(marks) | "AllMarks" >> beam.Flatten()
        by_id = docs | "ById" >> beam.Map(lambda d: (d.doc_id, (_DOC, d)))
        tagged = all_marks | "TagMarks" >> beam.Map(lambda kv: (kv[0], (_MARK, kv[1])))
        joined = (by_id, tagged) | "JoinMarks" >> GroupByKeyThroughFiles(
            FileSystems.join(temp_dir, "join")
        )
        if self.keep is None:
            kept = joined | "Resolve" >> beam.ParDo(_ResolveFn())
        else:
            resolved = joined | "Resolve" >> beam.ParDo(_ResolveFn(self.keep)).with_outputs(
                DROPPED_TAG, main="kept"
            )
            kept = resolved.kept
            _ = resolved[DROPPED_TAG] | "DedupDropped" >> WriteDropped(self.keep, "dedup")
        _ = kept | "DeleteSpill" >> DeleteWhenDone(temp_dir)
        return kept
