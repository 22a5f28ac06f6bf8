"""``adapter runs show`` as text: the run's fields, its child runs, the timeline drawn from
:class:`~adapter.cli._timeline.Span` s in at most :data:`TIMELINE_WIDTH` columns, and the
tracebacks recorded with its failures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from ..core import serde
from ..core.events import Event
from ..runtime import parent_of
from ..world import RunRecord
from ._render import (
    compact_json,
    console,
    format_duration,
    indented,
    local,
    run_duration,
    short_name,
    status_text,
)
from ._timeline import Span

TIMELINE_WIDTH = 100
"""Every timeline line fits in this many columns, whatever the names and errors."""
BAR_WIDTH = 24
_GAP = "  "
_MIN_NAME = 8
OUTCOME_STYLES = {
    "completed": ("✔", "green"),
    "received": ("✔", "green"),
    "failed": ("✖", "red"),
    "retrying": ("↻", "yellow"),
    "running": ("▶", "cyan"),
    "pending": ("…", "yellow"),
    "sleeping": ("◷", "cyan"),
    "waiting": ("◌", "cyan"),
    "conflict": ("✖", "red"),
    "disposed": ("⊘", "magenta"),
    "unfinished": ("⊘", "magenta"),
}


def print_run(
    record: RunRecord,
    events: Sequence[Event],
    spans: Sequence[Span],
    children: Sequence[RunRecord],
    now: datetime,
) -> None:
    """Print a run: fields, child runs, timeline and tracebacks."""
    out = console()
    took = format_duration(run_duration(record, now))
    fields: list[tuple[str, Text | str]] = [
        ("Run", record.run_id),
        ("Workflow", record.workflow_name),
        ("Status", status_text(record.status)),
        ("Deployment", record.deployment_id),
    ]
    if record.stuck is not None:
        stuck = record.stuck
        fields.append(
            (
                "Stuck",
                Text(
                    f"since {local(stuck.since)} ({stuck.kind}): {stuck.reason}; recover with "
                    f"`adapter runs retry {record.run_id}` (or `adapter runs redrive` once "
                    "the cause is gone)",
                    style="yellow",
                ),
            )
        )
    parent = parent_of(record)
    if parent:
        fields.append(("Parent", f"{parent[0]} (spawned by its {parent[1]})"))
    fields.append(("Created", local(record.created_at)))
    if record.started_at:
        fields.append(("Started", local(record.started_at)))
    if record.completed_at:
        fields.append(("Ended", f"{local(record.completed_at)} (took {took})"))
    else:
        fields.append(("Age", f"{took} so far"))
    fields.append(("Input", compact_json(serde.to_plain(record.input))))
    if record.status == "completed":
        fields.append(("Output", compact_json(serde.to_plain(record.output))))
    if record.error is not None:
        fields.append(("Error", Text(f"{record.error.type}: {record.error.message}", style="red")))
    for label, value in fields:
        # Long values stay on one line when piped (soft wrap), so they remain greppable.
        shown = Text(value) if isinstance(value, str) else value
        out.print(Text(f"{label:<12}", style="bold") + shown, soft_wrap=True)

    out.print()
    if children:
        out.print(Text(f"Child runs ({len(children)})", style="bold"))
        table = Table(box=None, show_header=False, pad_edge=False)
        steps = {span.correlation_id: short_name(span.name) for span in spans}
        for child in children:
            spawned_by = (parent_of(child) or ("", ""))[1]
            table.add_row(
                "  " + child.run_id,
                Text(child.workflow_name),
                status_text(child.status),
                Text(f"from {spawned_by} ({steps.get(spawned_by, '?')})", style="dim"),
            )
        out.print(table)
    else:
        out.print(Text("Child runs: none", style="bold"))

    out.print()
    out.print(Text(f"Timeline ({len(events)} events, {took})", style="bold"))
    if spans:
        for line in timeline_lines(record, spans, now):
            out.print(line, soft_wrap=True)
    else:
        out.print("  (no steps, sleeps or hooks yet)")

    stacks = tracebacks(record, spans)
    if stacks:
        out.print()
        out.print(Text("Tracebacks", style="bold"))
        for title, stack in stacks:
            out.print(Text(f"  {title}"), soft_wrap=True)
            out.print(indented(stack, 4), soft_wrap=True)


def timeline_lines(
    record: RunRecord, spans: Sequence[Span], now: datetime, width: int = TIMELINE_WIDTH
) -> list[Text]:
    """One line per span (offset, bar, duration, kind, name, count, outcome) and, under a
    span with a detail, one more line for it; none wider than ``width`` columns."""
    origin = record.created_at
    total = max(((record.completed_at or now) - origin).total_seconds(), 1e-6)
    rows = [_cells(span, origin, now) for span in spans]
    offset_w = max(len(row[0]) for row in rows)
    duration_w = max(len(row[1]) for row in rows)
    kind_w = max(len(span.kind) for span in spans)
    count_w = max(len(row[2]) for row in rows)
    outcome_w = max(cell_len(_outcome(span).plain) for span in spans)
    fixed = offset_w + BAR_WIDTH + duration_w + kind_w + count_w + outcome_w + 6 * len(_GAP)
    name_w = min(max(cell_len(s.label) for s in spans), max(_MIN_NAME, width - fixed))
    lines = []
    for span, (offset, duration, count) in zip(spans, rows, strict=True):
        line = Text(offset.rjust(offset_w) + _GAP)
        line.append_text(_bar(span, origin, total, now))
        line.append(_GAP + duration.rjust(duration_w) + _GAP + span.kind.ljust(kind_w) + _GAP)
        line.append(_fit(span.label, name_w).ljust(name_w) + _GAP + count.ljust(count_w) + _GAP)
        line.append_text(_outcome(span))
        line.rstrip()
        lines.append(line)
        if span.detail:
            indent = " " * (offset_w + len(_GAP)) + "└ "
            room = width - len(indent)
            lines.append(Text(indent + _fit(span.detail, room), style="dim"))
    return lines


def _cells(span: Span, origin: datetime, now: datetime) -> tuple[str, str, str]:
    offset = f"+{format_duration((span.start - origin).total_seconds())}"
    duration = format_duration(((span.end or now) - span.start).total_seconds())
    if span.end is None:
        duration += "…"
    unit = "payload" if span.kind == "hook" else "attempt"
    count = "" if span.kind == "sleep" else f"{span.attempts} {unit}{'s' * (span.attempts != 1)}"
    return offset, duration, count


def _outcome(span: Span) -> Text:
    symbol, style = OUTCOME_STYLES.get(span.outcome, ("?", "white"))
    return Text(f"{symbol} {span.outcome}", style=style)


def _fit(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` columns with an ellipsis."""
    flat = " ".join(text.split())
    if cell_len(flat) <= width:
        return flat
    while flat and cell_len(flat) > width - 1:
        flat = flat[:-1]
    return flat + "…"


def _bar(span: Span, origin: datetime, total: float, now: datetime) -> Text:
    end = span.end or now
    first = int((span.start - origin).total_seconds() / total * BAR_WIDTH)
    last = int(-(-(end - origin).total_seconds() / total * BAR_WIDTH // 1))
    first = min(max(first, 0), BAR_WIDTH - 1)
    last = min(max(last, first + 1), BAR_WIDTH)
    style = OUTCOME_STYLES.get(span.outcome, ("", "white"))[1]
    bar = Text("·" * first, style="dim")
    bar.append("█" * (last - first), style=style)
    bar.append("·" * (BAR_WIDTH - last), style="dim")
    return bar


def tracebacks(record: RunRecord, spans: Sequence[Span]) -> list[tuple[str, str]]:
    """``(title, stack)`` of each failing step's latest error, then of the run's own."""
    found = []
    for span in spans:
        if span.error is not None and span.error.stack:
            attempt = span.error.attempt or span.attempts
            title = f"step {span.label} ({span.correlation_id}), attempt {attempt}:"
            found.append((title, span.error.stack))
    if record.error is not None and record.error.stack:
        found.append((f"run {record.run_id}:", record.error.stack))
    return found
