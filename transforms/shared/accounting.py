"""Record accounting: counters, the stats.json ledger and the dead-letter record.

Every job keeps one ledger per run: ``input = emitted + sum(dropped_*) + failed``.
Pure functions take a ``count`` callback: tests pass a CounterDict, Beam DoFns a BeamCount.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

from schemas.run_record import STATS_FILE

NAMESPACE = "bertcorpus"
INPUT = "input"
EMITTED = "emitted"
FAILED = "failed"
DROPPED_PREFIX = "dropped_"
REJECTED_TAG = "rejected"
REJECTED_DIR = "rejected"

Count = Callable[..., None]  # count(name: str, n: int = 1)


class CounterDict(collections.Counter):
    """A Count for tests and in-process use: ``count("dropped_short")``."""

    def __call__(self, name: str, n: int = 1) -> None:
        self[name] += n


class BeamCount:
    """A Count backed by Beam metrics; create it in ``DoFn.setup`` (metrics are per-process)."""

    def __init__(self, namespace: str = NAMESPACE) -> None:
        self._namespace = namespace
        self._counters: dict = {}

    def __call__(self, name: str, n: int = 1) -> None:
        counter = self._counters.get(name)
        if counter is None:
            from apache_beam.metrics import Metrics

            counter = self._counters[name] = Metrics.counter(self._namespace, name)
        counter.inc(n)


class DropRecorder:
    """A Count that also notes which ``dropped_*`` counters the current record incremented,
    so the step's shell can say why a document left (``--keep_dropped``). Only wrapped
    around a step's count when that flag is on: with it off a step counts exactly as before.
    """

    def __init__(self, count: Count) -> None:
        self._count = count
        self._reasons: list[str] = []

    def __call__(self, name: str, n: int = 1) -> None:
        self._count(name, n)
        if name.startswith(DROPPED_PREFIX):
            self._reasons.append(name.removeprefix(DROPPED_PREFIX))

    def take(self) -> tuple[str, ...]:
        """The drop reasons noted since the last call, in the order they were counted."""
        reasons, self._reasons = tuple(self._reasons), []
        return reasons


@dataclass(frozen=True)
class Rejected:
    """A dead-letter entry: what was rejected, from where, and why."""

    source_file: str
    record_id: str
    reason: str  # the counter suffix, e.g. "malformed_xml" for failed/dropped_malformed_xml
    detail: str = ""
    excerpt: str = ""

    def to_json(self) -> str:
        row = asdict(self)
        row["excerpt"] = row["excerpt"][:500]
        row["detail"] = row["detail"][:2000]
        return json.dumps(row, ensure_ascii=False, sort_keys=True)


def dropped(reason: str) -> str:
    return DROPPED_PREFIX + reason


# A record with nothing left to keep: no text after reading, no words, no tokens.
DROPPED_EMPTY = dropped("empty")


def ledger(counters: Mapping[str, int]) -> dict:
    """Summarise counters into the balance every job must satisfy."""
    drops = {k: int(v) for k, v in sorted(counters.items()) if k.startswith(DROPPED_PREFIX)}
    total_in = int(counters.get(INPUT, 0))
    emitted = int(counters.get(EMITTED, 0))
    failed = int(counters.get(FAILED, 0))
    accounted = emitted + sum(drops.values()) + failed
    return {
        "input": total_in,
        "emitted": emitted,
        "dropped": drops,
        "failed": failed,
        "balanced": total_in == accounted,
        "unaccounted": total_in - accounted,
    }


def counters_from_result(result, namespace: str = NAMESPACE) -> dict[str, int]:
    """Committed (or attempted, where the runner has no committed) counter values by name."""
    from apache_beam.metrics.metric import MetricsFilter

    out: dict[str, int] = collections.Counter()
    query = result.metrics().query(MetricsFilter().with_namespace(namespace))
    for res in query["counters"]:
        value = res.committed if res.committed is not None else res.attempted
        out[res.key.metric.name] += int(value or 0)
    return dict(sorted(out.items()))


def write_stats(output_dir: str, counters: Mapping[str, int], **extra: object) -> dict:
    """Write ``stats.json`` (counters, ledger, extras) next to a job's output; return it."""
    from apache_beam.io.filesystems import FileSystems

    stats = {"counters": dict(sorted(counters.items())), "ledger": ledger(counters), **extra}
    path = FileSystems.join(output_dir, STATS_FILE)
    with FileSystems.create(path) as f:
        f.write(json.dumps(stats, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n")
    return stats
