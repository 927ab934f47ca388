"""Large groupings through files: sorted spill runs, then one partition at a time.

Beam's local runners hold a GroupByKey's whole output in memory, so grouping a corpus by
shard or NSP bucket needs memory in proportion to the corpus. ``GroupThroughFiles`` groups
through files instead, with bounded memory on any runner:

1. ``_SpillFn`` buffers (partition, (sort key, value)) records up to ``budget_bytes``, then
   writes them as one run file sorted by (partition, sort key) and emits, per partition in it,
   only a small (partition, Segment) record: the file and the byte range that partition holds.
2. A GroupByKey of those small records: (partition, [Segment, ...]).
3. ``read_partition`` merges a partition's segments (each already sorted) into one stream in
   (sort key, payload bytes) order, holding one record per segment, never the partition.

The order is a function of the records alone, never of bundling, worker count or file names,
so outputs built from it are byte-identical on 1 or N workers. Run files get bundle-unique
names under ``temp_dir``: a retried bundle writes new files and the runner drops the failed
attempt's records, so stale files are never read; the caller deletes ``temp_dir`` when done.
I/O goes through Beam's FileSystems, so ``temp_dir`` may be local or gs:// (Dataflow).
"""

from __future__ import annotations

import heapq
import itertools
import pickle
import shutil
import uuid
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from schemas.hashing import stable_hash

RUN_SUFFIX = ".run"
DEFAULT_BUDGET_BYTES = 64 << 20
_RECORD_OVERHEAD = 120  # bytes of Python objects per buffered record besides its payload
_LEN = 4  # little-endian length prefix of each pickled (sort key, value) payload
MAX_FAN_IN = 128  # segments merged at once: open files and read buffers per merge

# (run file path, first byte, end byte) of one partition's records in one run file
Segment = tuple[str, int, int]


def write_run(path: str, records: list[tuple[Hashable, Any, bytes]]) -> list[tuple[Any, Segment]]:
    """Write ``records`` (partition, sort key, payload) sorted by (partition, key, payload)
    to ``path``; returns each partition's Segment, in partition order."""
    records.sort(key=lambda r: (_order(r[0]), r[1], r[2]))
    segments: list[tuple[Any, Segment]] = []
    offset = 0
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        start, current = 0, None
        for partition, _, payload in records:
            if partition != current:
                if current is not None:
                    segments.append((current, (path, start, offset)))
                current, start = partition, offset
            f.write(len(payload).to_bytes(_LEN, "little"))
            f.write(payload)
            offset += _LEN + len(payload)
        if current is not None:
            segments.append((current, (path, start, offset)))
    return segments


def _order(partition: Any) -> tuple[str, str]:
    """A total order over partition keys of mixed types (int buckets, (name, bin) tuples)."""
    return type(partition).__name__, repr(partition)


def read_segment(segment: Segment) -> Iterator[tuple[Any, bytes, Any]]:
    """(sort key, payload, value) of each record of one segment, in file order."""
    path, start, end = segment
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.seek(start)
        position = start
        while position < end:
            size = int.from_bytes(f.read(_LEN), "little")
            payload = f.read(size)
            if len(payload) != size:
                raise OSError(f"spill run {path}: truncated at byte {position}")
            key, value = pickle.loads(payload)
            position += _LEN + size
            yield key, payload, value


def _merged(segments: list[Segment]) -> Iterator[tuple[Any, bytes, Any]]:
    streams = [read_segment(s) for s in segments]
    return heapq.merge(*streams, key=lambda r: (r[0], r[1]))


def _merge_into_run(segments: list[Segment]) -> Segment:
    """Merge ``segments`` into one new run file beside the first: one segment instead of many."""
    path = f"{segments[0][0]}.merged-{uuid.uuid4().hex}{RUN_SUFFIX}"
    size = 0
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        for _, payload, _ in _merged(segments):
            f.write(len(payload).to_bytes(_LEN, "little"))
            f.write(payload)
            size += _LEN + len(payload)
    return path, 0, size


def read_partition(segments: Iterable[Segment]) -> Iterator[tuple[Any, Any]]:
    """(sort key, value) of every record of one partition, sorted by (key, payload bytes):
    a k-way merge of sorted segments that holds one record per segment in memory. More than
    MAX_FAN_IN segments (a large corpus: many runs) are first merged in passes of MAX_FAN_IN,
    so open files and read buffers stay bounded too."""
    ordered = sorted(set(segments))
    while len(ordered) > MAX_FAN_IN:
        groups = [ordered[i : i + MAX_FAN_IN] for i in range(0, len(ordered), MAX_FAN_IN)]
        ordered = [_merge_into_run(g) if len(g) > 1 else g[0] for g in groups]
    for key, _, value in _merged(ordered):
        yield key, value


class _SpillFn(beam.DoFn):
    """(partition, (sort key, value)) -> (partition, Segment), one run file per full buffer."""

    def __init__(self, temp_dir: str, budget_bytes: int) -> None:
        self.temp_dir = temp_dir
        self.budget_bytes = budget_bytes

    def start_bundle(self) -> None:
        self._bundle = uuid.uuid4().hex  # bundle-unique: a retry never overwrites a read file
        self._runs = 0
        self._records: list[tuple[Hashable, Any, bytes]] = []
        self._bytes = 0

    def process(self, element) -> Iterator[tuple[Any, Segment]]:
        partition, (key, value) = element
        payload = pickle.dumps((key, value), protocol=pickle.HIGHEST_PROTOCOL)
        self._records.append((partition, key, payload))
        self._bytes += len(payload) + _RECORD_OVERHEAD
        if self._bytes >= self.budget_bytes:
            yield from self._flush()

    def finish_bundle(self):
        from apache_beam.transforms.window import GlobalWindow
        from apache_beam.utils.windowed_value import WindowedValue

        window = GlobalWindow()
        for kv in self._flush():
            yield WindowedValue(kv, window.max_timestamp(), [window])

    def _flush(self) -> list[tuple[Any, Segment]]:
        if not self._records:
            return []
        name = f"{self._bundle}-{self._runs:05d}{RUN_SUFFIX}"
        segments = write_run(FileSystems.join(self.temp_dir, name), self._records)
        self._runs += 1
        self._records, self._bytes = [], 0
        return segments


class GroupThroughFiles(beam.PTransform):
    """(partition, (sort key, value)) -> (partition, [Segment]); read each group with
    ``read_partition``. Memory per bundle: ``budget_bytes`` of buffered records.

    Sort keys must be comparable within a partition; values picklable.
    """

    def __init__(self, temp_dir: str, *, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        super().__init__()
        self.temp_dir = temp_dir
        self.budget_bytes = budget_bytes

    def expand(self, keyed):
        return (
            keyed
            | "SpillRuns" >> beam.ParDo(_SpillFn(self.temp_dir, self.budget_bytes))
            | "GroupSegments" >> beam.GroupByKey()
        )


def _regroup(item: tuple[int, Iterable[Segment]]) -> Iterator[tuple[Any, list]]:
    for key, records in itertools.groupby(read_partition(item[1]), key=lambda kv: kv[0]):
        yield key, [value for _, value in records]


def _keyed(kv: tuple[Any, Any], partitions: int) -> tuple[int, tuple[Any, Any]]:
    return stable_hash(repr(kv[0])) % partitions, kv


class GroupByKeyThroughFiles(beam.PTransform):
    """(key, value) -> (key, [values]), like GroupByKey, with memory for one group at a time
    rather than all of them. Keys must be orderable; each group's values come in the order
    of their pickled bytes, so it is the same on every runner.

    Takes one PCollection or a tuple of them (a join): each input is spilled where it is
    produced, so only the small segment records are flattened. (A Flatten of the inputs
    themselves would make the local runner hold them all in memory as the next stage's input.)
    """

    def __init__(self, temp_dir: str, *, partitions: int = 64) -> None:
        super().__init__()
        self.temp_dir = temp_dir
        self.partitions = partitions

    def expand(self, pairs):
        inputs = pairs if isinstance(pairs, tuple) else (pairs,)
        spilled = [
            pc
            | f"Partition{i}" >> beam.Map(_keyed, self.partitions)
            | f"SpillRuns{i}" >> beam.ParDo(_SpillFn(self.temp_dir, DEFAULT_BUDGET_BYTES))
            for i, pc in enumerate(inputs)
        ]
        segments = spilled[0] if len(spilled) == 1 else tuple(spilled) | "All" >> beam.Flatten()
        return segments | "GroupSegments" >> beam.GroupByKey() | "Regroup" >> beam.FlatMap(_regroup)


class DeleteWhenDone(beam.PTransform):
    """Delete ``temp_dir`` once every element of the input exists: the input is the output of
    the last step that reads it, and a global count cannot finish before that step has."""

    def __init__(self, temp_dir: str) -> None:
        super().__init__()
        self.temp_dir = temp_dir

    def expand(self, done):
        return (
            done
            | "Count" >> beam.combiners.Count.Globally()
            | "Delete" >> beam.Map(delete_temp_dir, self.temp_dir)
        )


def delete_temp_dir(_: object, temp_dir: str) -> None:
    """Remove ``temp_dir`` and everything under it. Sequence it after the last reader: its
    first argument is that reader's output."""
    if "://" not in temp_dir or temp_dir.startswith("file://"):
        shutil.rmtree(temp_dir.removeprefix("file://"), ignore_errors=True)
        return
    matched = FileSystems.match([FileSystems.join(temp_dir, "**")])[0].metadata_list
    if matched:
        FileSystems.delete([m.path for m in matched])
