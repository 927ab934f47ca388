"""The deterministic Beam shard sink and reader, and counter collection, on DirectRunner."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from schemas.document import DOCUMENT_SCHEMA, Doc
from schemas.hashing import bucket_of
from schemas.shards import open_shard_set
from transforms.shared.accounting import EMITTED, INPUT, BeamCount, counters_from_result, ledger
from transforms.shared.shardio import ReadShardSet, WriteShards


class _CountFn(beam.DoFn):
    def setup(self):
        self.count = BeamCount()

    def process(self, doc):
        self.count(INPUT)
        self.count(EMITTED)
        yield doc


def _docs(n):
    return [Doc(f"d{i}", "text", "en", ((f"Sentence {i}.",),)) for i in range(n)]


def _run(out: str, workers: int) -> dict:
    flags = ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
    with beam.Pipeline(options=PipelineOptions(flags if workers > 1 else [])) as p:
        (
            p
            | beam.Create(_docs(200))
            | beam.ParDo(_CountFn())
            | beam.Map(
                lambda d: ((f"docs-{bucket_of(d.doc_id, 4):05d}", None), (d.doc_id, d.to_row()))
            )
            | WriteShards(out, schema=DOCUMENT_SCHEMA)
        )
    return counters_from_result(p.result)


@pytest.mark.parametrize("workers", [1, 2])
def test_write_read_and_count(tmp_path, workers):
    counters = _run(str(tmp_path / "out"), workers)
    assert counters == {INPUT: 200, EMITTED: 200}
    assert ledger(counters)["balanced"]
    manifest, tables = open_shard_set(str(tmp_path / "out"), schema=DOCUMENT_SCHEMA)
    assert manifest["num_rows"] == 200 and len(manifest["shards"]) == 4
    ids = sorted(r["doc_id"] for t in tables for r in t.to_pylist())
    assert ids == sorted(f"d{i}" for i in range(200))

    from apache_beam.testing.util import assert_that, equal_to

    with beam.Pipeline() as p:
        got = (
            p
            | ReadShardSet([str(tmp_path / "out")], schema=DOCUMENT_SCHEMA)
            | beam.Map(lambda r: r["doc_id"])
        )
        assert_that(got, equal_to([f"d{i}" for i in range(200)]))


def test_byte_identical_across_worker_counts(tmp_path):
    _run(str(tmp_path / "one"), 1)
    _run(str(tmp_path / "two"), 2)
    one, _ = open_shard_set(str(tmp_path / "one"), schema=DOCUMENT_SCHEMA)
    two, _ = open_shard_set(str(tmp_path / "two"), schema=DOCUMENT_SCHEMA)
    assert [s["sha256"] for s in one["shards"]] == [s["sha256"] for s in two["shards"]]
