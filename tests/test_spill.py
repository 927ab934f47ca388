"""Grouping through spill files: every record comes back once, in sort order, whatever the
buffer budget (one run or many), and the bytes read never depend on file names."""

from __future__ import annotations

import pickle
import random

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from transforms.shared import spill
from transforms.shared.spill import (
    GroupThroughFiles,
    delete_temp_dir,
    read_partition,
    read_segment,
    write_run,
)


def _records(n: int, seed: int = 0) -> list[tuple]:
    rng = random.Random(seed)
    return [
        (f"p{rng.randrange(5)}", (f"key-{i:05d}", {"i": i, "b": bytes([i % 256])}))
        for i in range(n)
    ]


def test_write_run_segments_hold_each_partition_sorted(tmp_path):

    recs = [(p, k, pickle.dumps((k, v))) for p, (k, v) in _records(200)]
    segments = dict(write_run(str(tmp_path / "a.run"), recs))
    assert sorted(segments) == sorted({p for p, _, _ in recs})
    for partition, segment in segments.items():
        keys = [k for k, _, _ in read_segment(segment)]
        assert keys == sorted(k for p, k, _ in recs if p == partition)


@pytest.mark.parametrize("fan_in", [2, 128])  # 2: merged in passes through new run files
def test_merge_of_many_runs_equals_one_sort(tmp_path, monkeypatch, fan_in):
    monkeypatch.setattr(spill, "MAX_FAN_IN", fan_in)

    records = _records(300)
    by_partition: dict[str, list] = {}
    for run in range(6):  # six runs, each sorted, partitions interleaved across them
        chunk = records[run::6]
        recs = [(p, k, pickle.dumps((k, v))) for p, (k, v) in chunk]
        for p, seg in write_run(str(tmp_path / f"r{run}.run"), recs):
            by_partition.setdefault(p, []).append(seg)
    for partition, segments in by_partition.items():
        merged = list(read_partition(reversed(segments)))  # segment order must not matter
        expected = sorted((k, v) for p, (k, v) in records if p == partition)
        assert merged == expected


def test_truncated_run_names_the_file(tmp_path):

    path = str(tmp_path / "t.run")
    ((_, segment),) = write_run(path, [("p", "k", pickle.dumps(("k", "x" * 100)))])
    with open(path, "r+b") as f:
        f.truncate(50)
    with pytest.raises(OSError, match="t.run"):
        list(read_segment(segment))


@pytest.mark.parametrize("budget", [1, 1 << 20])  # a run per record, or one run per bundle
def test_group_through_files_in_a_pipeline(tmp_path, budget):
    records = _records(120, seed=1)
    expected = {}
    for p, (k, v) in records:
        expected.setdefault(p, []).append((k, v))
    expected_rows = [(p, sorted(kv)) for p, kv in expected.items()]
    temp = str(tmp_path / "spill")
    with beam.Pipeline() as p:
        grouped = (
            p
            | beam.Create(records)
            | GroupThroughFiles(temp, budget_bytes=budget)
            | beam.Map(lambda kv: (kv[0], list(read_partition(kv[1]))))
        )
        assert_that(grouped, equal_to(expected_rows))
    delete_temp_dir(None, temp)
    assert not (tmp_path / "spill").exists()
