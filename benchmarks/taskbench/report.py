"""The printed tables: per model and arm the summary and the failure causes, then every task's outcome."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from taskbench.record import CAUSES, RunRecord


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "-"


def _mean(values: Sequence[float]) -> str:
    return f"{statistics.fmean(values):,.0f}" if values else "-"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row))
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def summary_rows(records: list[RunRecord]) -> list[list[str]]:
    rows = []
    for arm in ("agent", "baseline"):
        mine = [r for r in records if r.arm == arm]
        if not mine:
            continue
        solved = [r for r in mine if r.passed]
        rows.append([arm, f"{len(solved)}/{len(mine)}", _median([r.wall_s for r in mine]),
                     _median([r.wall_s for r in solved]), _mean([r.usage.prompt_tokens for r in mine]),
                     _mean([r.usage.completion_tokens for r in mine]),
                     f"{statistics.fmean(r.tool_calls for r in mine):.1f}" if arm == "agent" else "-",
                     f"{statistics.fmean(r.usage.requests for r in mine):.1f}"])
    return rows


def cause_rows(records: list[RunRecord]) -> list[list[str]]:
    rows = []
    for arm in ("agent", "baseline"):
        mine = [r for r in records if r.arm == arm]
        if mine:
            rows.append([arm, *(str(sum(r.cause == cause for r in mine)) for cause in CAUSES)])
    return rows


def speed_line(records: list[RunRecord]) -> str:
    """The server's throughput over the run: contention on a shared machine shows up here first."""
    prompt_n = sum(r.usage.prompt_processed for r in records)
    prompt_ms = sum(r.usage.prompt_ms for r in records)
    out_n = sum(r.usage.completion_tokens for r in records)
    out_ms = sum(r.usage.predicted_ms for r in records)
    loads = [r.load_1m for r in records if r.load_1m is not None]
    parts = []
    if prompt_ms:
        parts.append(f"prompt {prompt_n / prompt_ms * 1000:.0f} tokens/s")
    if out_ms:
        parts.append(f"generation {out_n / out_ms * 1000:.1f} tokens/s")
    if loads:
        parts.append(f"host load average (1 min) at task start: median {statistics.median(loads):.1f}, "
                     f"max {max(loads):.1f}")
    timeouts = sum(r.cause == "timeout" for r in records)
    if timeouts:
        parts.append(f"{timeouts} timeout(s)")
    return "server speed: " + ", ".join(parts) if parts else "server speed: no timings reported"


def model_report(model: str, records: list[RunRecord], *, n_ctx: int, seed: int, threads: int) -> str:
    tasks = sorted({r.task for r in records})
    header = f"model {model}: {len(tasks)} task(s), n_ctx {n_ctx}, temperature 0, seed {seed}, {threads} thread(s)"
    summary = _table(["arm", "passed", "median s/task", "median s/solved", "prompt tok/task",
                      "completion tok/task", "tool calls/task", "requests/task"], summary_rows(records))
    causes = _table(["failures", *CAUSES], cause_rows(records))
    return "\n\n".join([header, summary, causes, speed_line(records)])


def task_table(records: list[RunRecord]) -> str:
    """One row per task, one column per model and arm: PASS or the cause, and the wall time."""
    columns = list(dict.fromkeys((r.model, r.arm) for r in records))  # in the order they ran
    by_key = {(r.model, r.arm, r.task): r for r in records}
    order: list[tuple[str, str]] = []
    for r in records:
        if (r.task, r.kind) not in order:
            order.append((r.task, r.kind))
    rows = []
    for task, kind in order:
        row = [task, kind]
        for model, arm in columns:
            record = by_key.get((model, arm, task))
            row.append("" if record is None else
                       f"{'PASS' if record.passed else record.cause} {record.wall_s:.0f}s")
        rows.append(row)
    names = [f"{model.split(':')[-1]} {arm}" for model, arm in columns]
    return _table(["task", "kind", *names], rows)


def details(records: list[RunRecord]) -> str:
    """What went wrong in each failed run, one line each."""
    lines = [f"{r.model.split(':')[-1]} {r.arm:<8} {r.task:<22} {r.cause}: {r.detail}"
             for r in records if not r.passed]
    return "\n".join(lines) if lines else "no failures"
