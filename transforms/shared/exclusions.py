"""The exclusion writer (``pipeline.clean --keep_dropped``): documents a cleaning rule dropped,
kept as Arrow shards with the reason, so what each rule removed can be audited.

Why it looks like this:
- Each step writes its own drops, as DataTrove's filters take an ``exclusion_writer``:
  ``OUTPUT/dropped/<step>/dropped-NNNNN.arrow`` plus ``manifest.json``, written by the same
  sorted, spilled ``WriteShards`` as the documents. Rows are spilled where the step produces
  them (a Flatten of every step's drops would make the local runner hold them in memory), and
  each file is sorted by doc_id, so the bytes are the same on 1 or N workers.
- Rows are ``DOCUMENT_SCHEMA`` plus the columns below. A document is written as it entered
  the step that dropped it: normalised text from quality on; for ``empty_after_normalize``
  the text before normalisation (afterwards nothing is left); after language identification
  ``lang`` is the identified language (for ``wrong_lang``: the one it was dropped for), before
  it the source's hint or "und". Text is not yet split into sentences at any drop site, so
  each paragraph is one "sentence".
- ``drop_reason`` is the rule that decided; ``other_drop_reasons`` only rules that were
  actually evaluated and also fired (quality stops at its first failing rule, so it has none;
  dedup knows when an exact duplicate was a near duplicate too); ``duplicate_of`` is the doc_id
  an exact or near duplicate matched (the group's kept one, which a later rule may still
  drop; its own id for a second record with one id).
- ``fraction`` < 1 keeps a sample chosen by a seeded stable hash of the doc_id: the same
  documents on every run, runner and worker count.
- Drops inside the readers (wiki redirects and other namespaces, records empty after markup
  removal) are pages, not documents, and are only counted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from schemas.document import DOCUMENT_SCHEMA, Doc
from schemas.hashing import bucket_of, stable_hash
from transforms.shared.accounting import DROPPED_PREFIX, BeamCount
from transforms.shared.shardio import WriteShards

DROPPED_DIR = "dropped"  # under a clean job's output
DROPPED_TAG = "dropped"  # the tagged output of a step's dropped documents
WRITTEN_PREFIX = "keep_dropped_"  # counter per reason: dropped documents written
SHARD_PREFIX = "dropped-"

DROP_REASON = "drop_reason"
OTHER_DROP_REASONS = "other_drop_reasons"
DROP_STEP = "drop_step"
DUPLICATE_OF = "duplicate_of"

DROPPED_DOCUMENT_SCHEMA = pa.schema(
    [
        *DOCUMENT_SCHEMA,
        pa.field(DROP_REASON, pa.string(), nullable=False),  # counter suffix: too_short, ...
        pa.field(OTHER_DROP_REASONS, pa.list_(pa.string()), nullable=False),
        pa.field(DROP_STEP, pa.string(), nullable=False),  # normalize, quality, langid, ...
        pa.field(DUPLICATE_OF, pa.string()),  # dedup drops only
    ],
    metadata={b"schema_name": b"bertcorpus.dropped_document", b"schema_version": b"1"},
)


@dataclass(frozen=True)
class KeepDropped:
    """Where and how many dropped documents to write; ``None`` in CleanConfig: none."""

    output_dir: str  # OUTPUT/dropped
    fraction: float = 1.0  # of the dropped documents, chosen by a seeded hash of doc_id
    seed: int = 0
    num_shards: int = 16  # per step

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise ValueError(f"keep_dropped fraction must be in (0, 1], got {self.fraction}")

    def keeps(self, doc_id: str) -> bool:
        """Whether ``doc_id`` is in the sample: a pure function of (seed, doc_id)."""
        if self.fraction >= 1.0:
            return True
        return stable_hash(self.seed, "keep_dropped", doc_id) < self.fraction * 2.0**64


def dropped_row(doc, step: str, reasons: tuple[str, ...], duplicate_of: str | None = None) -> dict:
    """A RawDoc (each paragraph one "sentence": not split yet) or Doc -> a
    DROPPED_DOCUMENT_SCHEMA row."""
    as_doc = doc if isinstance(doc, Doc) else doc.to_doc(tuple((p,) for p in doc.paragraphs))
    row = as_doc.to_row()
    row[DROP_REASON] = reasons[0]
    row[OTHER_DROP_REASONS] = list(reasons[1:])
    row[DROP_STEP] = step
    row[DUPLICATE_OF] = duplicate_of
    return row


class _ShardRowFn(beam.DoFn):
    """Dropped row -> WriteShards element; counts ``keep_dropped_<reason>`` (rows written)."""

    def __init__(self, num_shards: int) -> None:
        self.num_shards = num_shards

    def setup(self) -> None:
        self.count = BeamCount()

    def process(self, row: dict):
        self.count(WRITTEN_PREFIX + row[DROP_REASON])
        shard = f"{SHARD_PREFIX}{bucket_of(row['doc_id'], self.num_shards):05d}"
        yield (shard, None), (row["doc_id"], row)


class WriteDropped(beam.PTransform):
    """Dropped rows of one step -> ``keep.output_dir/<step>/`` (shards + manifest.json)."""

    def __init__(self, keep: KeepDropped, step: str) -> None:
        super().__init__()
        self.keep = keep
        self.step = step

    def expand(self, rows):
        config = json.dumps({"step": self.step, **asdict(self.keep)}, sort_keys=True)
        return (
            rows
            | "ToShardRows" >> beam.ParDo(_ShardRowFn(self.keep.num_shards))
            | "WriteShards"
            >> WriteShards(
                FileSystems.join(self.keep.output_dir, self.step),
                schema=DROPPED_DOCUMENT_SCHEMA,
                manifest_fields={"config": config},
            )
        )


def exclusion_stats(counters: Mapping[str, int], keep: KeepDropped | None) -> dict:
    """stats.json fields: where the dropped documents are, and per reason dropped vs written
    (reader-level reasons such as redirect are never written)."""
    if keep is None:
        return {}
    written = {
        name.removeprefix(WRITTEN_PREFIX): int(n)
        for name, n in counters.items()
        if name.startswith(WRITTEN_PREFIX)
    }
    by_reason = {
        name.removeprefix(DROPPED_PREFIX): {"dropped": int(n), "written": 0}
        for name, n in sorted(counters.items())
        if name.startswith(DROPPED_PREFIX)
    }
    for reason, n in written.items():
        by_reason.setdefault(reason, {"dropped": 0, "written": 0})["written"] = n
    return {
        "dropped_dir": keep.output_dir,
        "keep_dropped": keep.fraction,
        "dropped_written": sum(written.values()),
        "dropped_by_reason": by_reason,
    }
