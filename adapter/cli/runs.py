"""``adapter runs``: list, inspect, follow, cancel runs and read their results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.segment import Segments
from rich.table import Table
from rich.text import Text

from ..core import serde
from ..core.durations import parse_duration
from ..core.errors import WorkflowRunCancelledError, WorkflowRunFailedError
from ..core.events import Event
from ..runtime import child_runs, event_json, get_run, page_runs, run_json
from ..world import RUN_STATUSES, STUCK, RunRecord
from . import _recover
from ._connection import connect, history, runtime_now
from ._errors import CliError
from ._follow import poll, wait_for_end
from ._options import (
    Command,
    EndpointOpt,
    Group,
    JsonOpt,
    ProfileOpt,
    RunIdArg,
    TimeoutOpt,
    WaitOpt,
)
from ._render import (
    compact_json,
    console,
    format_duration,
    indented,
    local,
    print_json,
    print_json_line,
    run_duration,
    status_text,
)
from ._show import print_run
from ._timeline import build_timeline

app = typer.Typer(
    cls=Group,
    help="List, inspect, follow, cancel, wake and recover runs.",
    no_args_is_help=True,
)
_STATUS_FILTERS = (*RUN_STATUSES, STUCK)

_MOMENT_HELP = (
    "an ISO date or time (2024-05-01, 2024-05-01T12:00Z; local time without a zone) "
    "or a duration ago (30m, 2h, 7d)"
)


# --- runs ls ----------------------------------------------------------------------------


@app.command("ls", cls=Command)
def runs_ls(
    ctx: typer.Context,
    workflow: Annotated[
        str | None,
        typer.Option("--workflow", "-w", metavar="NAME", help="Only runs of this workflow."),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            "-s",
            metavar="STATUS",
            help=f"Only runs with this status ({', '.join(RUN_STATUSES)}), or {STUCK}: "
            "runs that cannot advance on their own, with the reason.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="TIME", help=f"Only runs created then or later: {_MOMENT_HELP}."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="TIME", help="Only runs created before then (same forms)."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", metavar="N", min=1, max=1000, help="Runs per page.")
    ] = 50,
    cursor: Annotated[
        str | None,
        typer.Option(
            "--cursor",
            metavar="CURSOR",
            help="The next page: the cursor the previous page printed (same filters).",
        ),
    ] = None,
    as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """List runs, newest first, a page at a time.

    The next page's cursor goes to stderr (to "nextCursor" with --json)."""
    if status is not None and status not in _STATUS_FILTERS:
        raise typer.BadParameter(
            f"must be one of {', '.join(_STATUS_FILTERS)}", param_hint="--status"
        )
    since_at, until_at = _moment(since, "--since"), _moment(until, "--until")
    connect(ctx, endpoint_url, profile)
    now = runtime_now()
    first, last = _resolve(since_at, now), _resolve(until_at, now)
    if first is not None and last is not None and first >= last:
        raise typer.BadParameter("must be later than --since", param_hint="--until")
    try:
        records, next_cursor = page_runs(
            workflow_name=workflow,
            status=status,
            limit=limit,
            cursor=cursor,
            since=first,
            until=last,
        )
    except ValueError as exc:
        if cursor is None:
            raise
        raise typer.BadParameter(str(exc), param_hint="--cursor") from None
    if as_json:
        print_json({"runs": [run_json(r) for r in records], "nextCursor": next_cursor})
        return
    out = console()
    if not records:
        filtered = workflow or status or since or until or cursor
        out.print("no runs" + (" matching the filters" if filtered else ""))
        return
    _print_runs(out, records, now, reasons=status == STUCK)
    if next_cursor:
        console(stderr=True).print(
            Text(f"more runs: add --cursor {next_cursor} for the next page", style="dim")
        )


def _print_runs(
    out: Console, records: Sequence[RunRecord], now: datetime, *, reasons: bool
) -> None:
    """The runs, one row each; a stuck run's status says so, and with ``reasons`` (the
    ``--status stuck`` listing) each row has since when, and a line under it says why."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    columns = ["RUN ID", "WORKFLOW", "STATUS", "DEPLOYMENT", "CREATED", "DURATION"]
    if reasons:
        columns.append("STUCK SINCE")
    for column in columns:
        table.add_column(column, no_wrap=True, justify="right" if column == "DURATION" else "left")
    for record in records:
        duration = format_duration(run_duration(record, now)) + ("" if record.ended else "…")
        status = status_text(record.status)
        if record.stuck is not None:
            status.append(" (stuck)", style="bold yellow")
        row: list[Text | str] = [
            record.run_id,
            escape(record.workflow_name),
            status,
            escape(record.deployment_id),
            local(record.created_at),
            duration,
        ]
        if reasons:
            row.append(local(record.stuck.since) if record.stuck else "-")
        table.add_row(*row)
    if not reasons:
        out.print(table)
        return
    # One line per row (no column wraps), so each reason can go under its run, whole.
    header, *rows = out.render_lines(table, out.options, pad=False, new_lines=True)
    out.print(Segments(header))
    for record, line in zip(records, rows, strict=True):
        out.print(Segments(line))
        if record.stuck is not None:
            why = f"  └ {record.stuck.kind}: {record.stuck.reason}"
            out.print(Text(why, style="yellow"), soft_wrap=True)


def _moment(text: str | None, option: str) -> datetime | timedelta | None:
    """A ``--since``/``--until`` value: a moment, or a duration ago (resolved later, on
    the runtime's clock)."""
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"not a time {text!r}: use {_MOMENT_HELP}", param_hint=option
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()  # local time


def _resolve(value: datetime | timedelta | None, now: datetime) -> datetime | None:
    return now - value if isinstance(value, timedelta) else value


# --- runs show --------------------------------------------------------------------------


@app.command("show", cls=Command)
def runs_show(
    ctx: typer.Context,
    run_id: RunIdArg,
    as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Show a run: its fields, child runs, timeline and tracebacks.

    The timeline has one line per step, sleep and hook; the tracebacks are those recorded
    with its failures."""
    connect(ctx, endpoint_url, profile)
    record, events = history(run_id)
    spans = build_timeline(events)
    children = child_runs(run_id)
    if as_json:
        body = run_json(record)
        if record.error is not None and record.error.stack:
            body["error"]["stack"] = record.error.stack
        body["children"] = [run_json(child) for child in children]
        body["timeline"] = [span.to_json(record.created_at) for span in spans]
        print_json(body)
        return
    print_run(record, events, spans, children, runtime_now())


# --- runs events ------------------------------------------------------------------------


@app.command("events", cls=Command)
def runs_events(
    ctx: typer.Context,
    run_id: RunIdArg,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Keep printing new events until the run ends (with --json: one event per line).",
        ),
    ] = False,
    as_json: JsonOpt = False,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            help="JSON of the events as stored: payloads keep their types (datetimes, "
            "models, dataclasses), for adapter.testing.replay. Implies --json.",
        ),
    ] = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Print a run's event log, in order, with the traceback of each failure."""
    connect(ctx, endpoint_url, profile)
    record, events = history(run_id)
    view = _stored if raw else event_json
    if (as_json or raw) and not follow:
        print_json({"events": [view(e) for e in events]})
        return
    printer = _EventPrinter(record.created_at, events, view if as_json or raw else None)
    printer.print(events)
    if not follow:
        return
    if not record.ended:
        for _, events in poll(get_run(run_id)):
            printer.print([e for e in events if e.seq > printer.last_seq])


def _stored(event: Event) -> dict[str, Any]:
    """An event as stored, its payloads' serde type tags kept (``--raw``)."""
    return event.model_dump(mode="json")


class _EventPrinter:
    """Events one per line, under one header, in columns sized by the first batch;
    with ``as_json`` (how to show one event as JSON), one JSON object per line."""

    HEADERS = ("SEQ", "OFFSET", "TYPE", "CORRELATION")
    MIN_WIDTHS = (3, 6, 14, 11)

    def __init__(
        self,
        origin: datetime,
        first: Sequence[Event],
        as_json: Callable[[Event], dict[str, Any]] | None,
    ) -> None:
        self.origin = origin
        self.as_json = as_json
        self.last_seq = 0
        self.out = console()
        rows = [self._cells(event) for event in first]
        self.widths = [
            max([minimum, len(header)] + [len(row[i]) for row in rows])
            for i, (header, minimum) in enumerate(zip(self.HEADERS, self.MIN_WIDTHS, strict=True))
        ]
        self.header_printed = False

    def _cells(self, event: Event) -> tuple[str, ...]:
        offset = "+" + format_duration((event.created_at - self.origin).total_seconds())
        return (str(event.seq), offset, event.type, event.correlation_id or "")

    def _line(self, cells: Sequence[str]) -> str:
        seq, offset, kind, cid = cells
        w = self.widths
        return f"{seq.rjust(w[0])}  {offset.rjust(w[1])}  {kind.ljust(w[2])}  {cid.ljust(w[3])}  "

    def print(self, events: Sequence[Event]) -> None:
        for event in events:
            self.last_seq = event.seq
            if self.as_json is not None:
                print_json_line(self.as_json(event))
                continue
            body = event_json(event)
            if not self.header_printed:
                self.out.print(
                    Text(self._line(self.HEADERS) + "DATA", style="bold"), soft_wrap=True
                )
                self.header_printed = True
            data: dict[str, Any] = body["data"]
            error = data.get("error")
            stack = error.pop("stack", None) if isinstance(error, dict) else None
            prefix = self._line(self._cells(event))
            # One event per line: the data gets what the columns leave, then an ellipsis.
            room = max(20, self.out.width - len(prefix))
            line = Text(prefix) + Text(compact_json(data, room) if data else "")
            line.rstrip()
            self.out.print(line, soft_wrap=True)
            if stack:
                self.out.print(indented(stack, self.widths[0] + 2), soft_wrap=True)


# --- runs result, runs cancel -----------------------------------------------------------


@app.command("result", cls=Command)
def runs_result(
    ctx: typer.Context,
    run_id: RunIdArg,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = None,
    as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Print a completed run's output, as JSON.

    Exit status 1 when the run failed or was cancelled, or (without --wait) has not ended
    yet."""
    connect(ctx, endpoint_url, profile)
    run = get_run(run_id)
    record = run.record()
    if not record.ended:
        if not wait:
            raise CliError(
                f"run {run_id} is still {record.status}: it has no result yet "
                f"(pass --wait to wait for its end, or see `adapter runs show {run_id}`)",
                code="run_not_ended",
            )
        record = wait_for_end(run, timeout, quiet=as_json)
    print_result(record)


def print_result(record: RunRecord) -> None:
    """Print a completed run's output as JSON on stdout.

    Raises:
        WorkflowRunFailedError: the run failed (exit status 1).
        WorkflowRunCancelledError: the run was cancelled (exit status 1).
    """
    if record.status == "cancelled":
        raise WorkflowRunCancelledError(record.run_id)
    if record.status != "completed":
        error = record.error.model_dump() if record.error else {"type": "Error", "message": ""}
        raise WorkflowRunFailedError(record.run_id, error)
    print_json(serde.to_plain(record.output))


@app.command("cancel", cls=Command)
def runs_cancel(
    ctx: typer.Context,
    run_id: RunIdArg,
    as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Cancel a run (a run that already ended is left as it is)."""
    connect(ctx, endpoint_url, profile)
    run = get_run(run_id)
    before = run.status
    if before not in ("completed", "failed", "cancelled"):
        run.cancel()
    after = run.status
    if as_json:
        print_json({"runId": run_id, "status": after})
    elif before == after and after != "cancelled":
        console().print(Text(f"run {run_id} already {after}; nothing to cancel"))
    elif before == "cancelled":
        console().print(Text(f"run {run_id} was already cancelled"))
    else:
        console().print(Text(f"cancelled run {run_id} (was {before})"))


app.command("wake", cls=Command)(_recover.runs_wake)
app.command("retry", cls=Command)(_recover.runs_retry)
app.command("redrive", cls=Command)(_recover.runs_redrive)
