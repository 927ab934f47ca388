"""The compact table a job (or ``pipeline.corpus``) prints when it ends.

One row per stage: input, kept, dropped by reason, failed, tokens, seconds, throughput and the
output folder, read from the stage's ``stats.json`` ledger. Pure functions over plain dicts,
so the table is tested without running a pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

from transforms.shared.accounting import DROPPED_PREFIX

HEADERS = ("stage", "input", "kept", "dropped", "failed", "tokens", "seconds", "throughput")


@dataclass(frozen=True)
class StageRow:
    stage: str  # e.g. "clean books"
    output: str
    input: int
    kept: int
    dropped: dict[str, int]  # reason (without the dropped_ prefix) -> count
    failed: int
    tokens: int | None  # tokens written (shards); None where a stage writes no tokens
    seconds: float


def stage_row(stage: str, output: str, stats: dict, seconds: float) -> StageRow:
    """A row from a job's ``stats.json`` dict (its ledger and counters)."""
    ledger = stats.get("ledger") or {}
    counters = stats.get("counters") or {}
    dropped = {
        name.removeprefix(DROPPED_PREFIX): int(n)
        for name, n in (ledger.get("dropped") or {}).items()
        if n
    }
    tokens = counters.get("tokens_written")
    return StageRow(
        stage=stage,
        output=output,
        input=int(ledger.get("input", 0)),
        kept=int(ledger.get("emitted", 0)),
        dropped=dropped,
        failed=int(ledger.get("failed", 0)),
        tokens=None if tokens is None else int(tokens),
        seconds=seconds,
    )


def human(n: float) -> str:
    """12345 -> '12.3k'; short enough for a table cell, exact below 10,000."""
    for unit, scale, floor in (("G", 1e9, 1e9), ("M", 1e6, 1e6), ("k", 1e3, 1e4)):
        if abs(n) >= floor:
            return f"{n / scale:.1f}{unit}"
    return f"{n:.0f}" if float(n).is_integer() or abs(n) >= 100 else f"{n:.1f}"


def _dropped_cell(dropped: dict[str, int], limit: int = 3) -> str:
    if not dropped:
        return "0"
    top = sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0]))
    parts = [f"{reason} {human(n)}" for reason, n in top[:limit]]
    if len(top) > limit:
        parts.append(f"+{len(top) - limit} more")
    return f"{human(sum(dropped.values()))} ({', '.join(parts)})"


def _throughput(row: StageRow) -> str:
    if row.seconds <= 0:
        return "-"
    if row.tokens is not None:
        return f"{human(row.tokens / row.seconds)} tok/s"
    return f"{human(row.input / row.seconds)} docs/s"


def cells(row: StageRow) -> tuple[str, ...]:
    return (
        row.stage,
        human(row.input),
        human(row.kept),
        _dropped_cell(row.dropped),
        human(row.failed),
        "-" if row.tokens is None else human(row.tokens),
        f"{row.seconds:.1f}",
        _throughput(row),
    )


def format_table(rows: list[StageRow]) -> str:
    """The aligned table, then one ``output`` line per stage (paths are too long for a cell)."""
    table = [HEADERS, *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    lines = []
    for n, line in enumerate(table):
        lines.append(
            "  ".join(
                cell.ljust(w) if i in (0, 3) else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    width = max(len(r.stage) for r in rows) if rows else 0
    lines.extend(f"output  {r.stage.ljust(width)}  {r.output}" for r in rows)
    return "\n".join(lines)
