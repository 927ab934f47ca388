"""Tokenised documents -> EXAMPLE_SCHEMA rows: ``pack_documents`` (pure) and ``PackExamples``
(Beam: NSP buckets, spill, dead letters). How instances are cut is ``transforms.pack.pairs``.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator, Sequence

import apache_beam as beam

from schemas.document import PROTEIN
from schemas.example import (
    PAIR_IS_NEXT,
    PAIR_RANDOM_NEXT,
    SOP_IN_ORDER,
    SOP_SWAPPED,
)
from schemas.hashing import bucket_of, seeded_rng
from transforms.pack.config import PackConfig
from transforms.pack.example_rows import Vocab, compact_row, example_row, shard_key
from transforms.pack.pairs import create_pair_instances, create_single_instances
from transforms.pack.tokenize import TokenizedDoc
from transforms.shared.accounting import (
    EMITTED,
    FAILED,
    REJECTED_TAG,
    BeamCount,
    Count,
    CounterDict,
    Rejected,
    dropped,
)
from transforms.shared.spill import DeleteWhenDone, GroupThroughFiles, read_partition

DROPPED_TOO_SHORT = dropped("too_short")
EXAMPLES_WRITTEN = "examples_written"
TOKENS_WRITTEN = "tokens_written"
NSP_NEXT = "nsp_next"
NSP_RANDOM = "nsp_random"
SOP_IN_ORDER_COUNT = "sop_in_order"
SOP_SWAPPED_COUNT = "sop_swapped"
SINGLE_SEGMENT = "single_segment"


_LABEL_COUNTERS = {
    "nsp": {PAIR_IS_NEXT: NSP_NEXT, PAIR_RANDOM_NEXT: NSP_RANDOM},
    "sop": {SOP_IN_ORDER: SOP_IN_ORDER_COUNT, SOP_SWAPPED: SOP_SWAPPED_COUNT},
    "none": {},
}


def pack_documents(
    docs: Sequence[TokenizedDoc],
    cfg: PackConfig,
    vocab: Vocab,
    count: Count,
    *,
    owned: Sequence[int] | None = None,
) -> Iterator[tuple[tuple[str, int, int], dict]]:
    """(unique key, example row) for every document index in ``owned`` (default: all).

    ``docs`` is the NSP bucket (sorted by doc_id by the caller) that negatives come from.
    Ledger per owned document: emitted if it yields >= 1 example, else dropped_too_short.
    Info counters: examples_written, tokens_written and one per pair label.
    """
    label_counters = _LABEL_COUNTERS[cfg.pair_task]
    for index in range(len(docs)) if owned is None else owned:
        doc = docs[index]
        n_rows = 0
        for dupe in range(cfg.dupe_factor):
            rng = seeded_rng(cfg.seed, doc.doc_id, dupe)
            if cfg.pair_task == "none" or doc.source == PROTEIN:
                instances = create_single_instances(doc, cfg, rng, count)
            elif doc.num_tokens < 2:
                instances = []
            else:
                instances = create_pair_instances(docs, index, cfg, rng, count)
            for k, inst in enumerate(instances):
                key = (doc.doc_id, dupe, k)
                row = example_row(inst, vocab, cfg, key)
                count(label_counters.get(inst.pair_label, SINGLE_SEGMENT))
                count(TOKENS_WRITTEN, row["num_tokens"])
                n_rows += 1
                yield key, row
        count(EXAMPLES_WRITTEN, n_rows)
        count(EMITTED if n_rows else DROPPED_TOO_SHORT)


# --- Beam -----------------------------------------------------------------------------------

LENGTHS_NAMESPACE = "bertcorpus.lengths"  # counter per example length: the padding histogram


class _PackFn(beam.DoFn):
    """TokenizedDoc (sop/none) or (spill partition, [Segment]) (nsp) -> (shard key, (key, row)).

    A spill partition streams its NSP buckets one after another, each in doc_id order, so
    memory holds one bucket. Each document is packed into a local CounterDict first, so a
    document that fails adds nothing but ``failed`` and a dead letter.
    """

    def __init__(self, cfg: PackConfig, vocab: Vocab) -> None:
        self.cfg = cfg
        self.vocab = vocab

    def setup(self) -> None:
        self.count = BeamCount()
        self.count_length = BeamCount(LENGTHS_NAMESPACE)

    def process(self, element) -> Iterator:
        if isinstance(element, TokenizedDoc):
            yield from self._pack([element])
            return
        records = read_partition(element[1])  # sorted by (bucket, doc_id)
        for _, bucket in itertools.groupby(records, key=lambda kv: kv[0][0]):
            yield from self._pack([doc for _, doc in bucket])

    def _pack(self, docs: list[TokenizedDoc]) -> Iterator:
        for index in range(len(docs)):
            local = CounterDict()
            try:
                rows = list(pack_documents(docs, self.cfg, self.vocab, local, owned=[index]))
            except (ValueError, IndexError) as exc:
                self.count(FAILED)
                yield beam.pvalue.TaggedOutput(
                    REJECTED_TAG,
                    Rejected("", docs[index].doc_id, "pack_error", repr(exc)).to_json(),
                )
                continue
            for name, n in local.items():
                self.count(name, n)
            for key, row in rows:
                self.count_length(str(row["num_tokens"]))
                yield shard_key(key, row, self.cfg), (key, compact_row(row))


# NSP buckets spill into this many partitions (bucket mod N): enough to spread over workers,
# few enough that a spill run holds large segments rather than one tiny one per bucket.
SPILL_PARTITIONS = 64


def _bucket(doc: TokenizedDoc, num_buckets: int, seed: int) -> tuple[int, tuple]:
    bucket = bucket_of(doc.doc_id, num_buckets, seed=seed)
    return bucket % SPILL_PARTITIONS, ((bucket, doc.doc_id), doc)


class PackExamples(beam.PTransform):
    """TokenizedDoc -> (ShardKey, (unique key, EXAMPLE_SCHEMA row)) ready for WriteShards,
    plus dead letters (tag REJECTED_TAG).

    NSP groups documents into ``num_buckets`` seeded-random buckets so negatives are drawn
    from a bounded set of other documents; the grouping goes through spill files under
    ``temp_dir`` (default a local temporary folder; deleted once every bucket is packed), so
    memory holds one bucket, not the corpus. Counters: emitted, dropped_too_short, failed;
    info: examples_written, tokens_written, nsp_next/nsp_random/sop_*/single_segment, ...
    """

    def __init__(
        self, cfg: PackConfig, vocab: Vocab, *, num_buckets: int = 1, temp_dir: str | None = None
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.vocab = vocab
        self.num_buckets = num_buckets
        self.temp_dir = temp_dir

    def expand(self, docs):
        if self.cfg.pair_task == "nsp":
            temp_dir = self.temp_dir or tempfile.mkdtemp(prefix="bertcorpus-spill-")
            docs = (
                docs
                | "KeyByBucket" >> beam.Map(_bucket, self.num_buckets, self.cfg.seed)
                | "GroupBuckets" >> GroupThroughFiles(temp_dir)
            )
        packed = docs | "Pack" >> beam.ParDo(_PackFn(self.cfg, self.vocab)).with_outputs(
            REJECTED_TAG, main="examples"
        )
        if self.cfg.pair_task == "nsp":  # the buckets are read: free their disk now
            _ = packed.examples | "DeleteSpill" >> DeleteWhenDone(temp_dir)
        return packed
