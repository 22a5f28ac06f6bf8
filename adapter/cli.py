"""The ``adapter`` command: a local dev stack, and runs at your fingertips.

``adapter dev`` runs the whole stack on this machine (see :mod:`adapter.devstack`). The
other commands read and drive runs on any stack, local or on AWS, through the public
API (``start``, ``get_run``, ``list_runs``, ``resume_hook``, ``Run.cancel``) and the
runtime's event log, never through the HTTP API. They find the stack from, in order:

1. the ``ADAPTER_*`` environment variables (``AWS_ENDPOINT_URL``, a profile and a region
   as boto3 reads them), as set for your deployed stack or exported from ``adapter dev``;
2. else the ``.adapter-dev.json`` that ``adapter dev`` writes, looked up from the current
   directory upwards (or named by ``ADAPTER_DEV_FILE``);

and ``--endpoint-url``, ``--profile`` and ``--region`` override what those say. Every
read command takes ``--json`` and prints the same shapes as the HTTP API. Errors are one
line on stderr and exit status 1.
"""

from __future__ import annotations

import importlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from . import devstack

REQUIRED_ENV = ("ADAPTER_TABLE_NAME", "ADAPTER_WORKFLOW_QUEUE_URL", "ADAPTER_STEP_QUEUE_URL")
STATUS_STYLES = {
    "pending": ("○", "yellow"),
    "running": ("●", "cyan"),
    "completed": ("✔", "green"),
    "failed": ("✖", "red"),
    "cancelled": ("⊘", "magenta"),
}
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
BAR_WIDTH = 24

app = typer.Typer(
    name="adapter",
    help="Durable workflows for AWS Lambda: a local dev stack, and your runs at a glance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
runs_app = typer.Typer(help="List, inspect and cancel runs.", no_args_is_help=True)
hooks_app = typer.Typer(help="Resume hooks that runs wait on.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(hooks_app, name="hooks")


# --- options shared by the commands that talk to a stack --------------------------------

EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        help="AWS endpoint to use (a moto server, LocalStack…); default: AWS_ENDPOINT_URL.",
        show_default=False,
    ),
]
ProfileOpt = Annotated[
    str | None,
    typer.Option("--profile", help="AWS profile to use; default: AWS_PROFILE.", show_default=False),
]
RegionOpt = Annotated[
    str | None,
    typer.Option("--region", help="AWS region; default: AWS_DEFAULT_REGION.", show_default=False),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON (the HTTP API's shapes).")
]


@dataclass
class _Connection:
    endpoint_url: str | None = None
    profile: str | None = None
    region: str | None = None


@app.callback()
def _root(
    ctx: typer.Context,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
) -> None:
    """Durable workflows for AWS Lambda: a local dev stack, and your runs at a glance."""
    ctx.obj = _Connection(endpoint_url, profile, region)


class CliError(Exception):
    """A failure worded for the person at the terminal: printed as one line, exit 1."""


# --- output helpers ------------------------------------------------------------------------


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Piped or captured output gets a generous width, so tables are not squeezed into 80
    # columns and lines stay greppable.
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 160
    return Console(file=stream, width=width, soft_wrap=stderr, highlight=False)


def _fail(message: str, code: int = 1) -> NoReturn:
    line = " ".join(message.split())  # one line, whatever the exception's text looks like
    _console(stderr=True).print(Text("error: ", style="bold red") + Text(line))
    raise typer.Exit(code)


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def _status_text(status: str) -> Text:
    symbol, style = STATUS_STYLES.get(status, ("?", "white"))
    return Text(f"{symbol} {status}", style=style)


def format_duration(seconds: float) -> str:
    """``12ms``, ``1.25s``, ``2m03s``, ``1h02m``, ``3d04h``."""
    if seconds < 0:
        seconds = 0.0
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def _local(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _short_name(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _compact_json(value: Any, limit: int = 0) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if not limit or len(text) <= limit else text[: limit - 1] + "…"


# --- connecting to a stack -----------------------------------------------------------------


def configure(
    endpoint_url: str | None = None, profile: str | None = None, region: str | None = None
) -> str:
    """Point this process at a stack; return where its configuration came from.

    See the module docstring for the order. The environment runtime is rebuilt when
    anything changed, so the client API follows.

    Raises:
        CliError: no stack configured, an unreadable dev file, or an endpoint that
            refuses connections.
    """
    import boto3

    from .runtime import reset_env_runtime

    source = "environment"
    changed = False
    if not all(os.environ.get(key) for key in REQUIRED_ENV):
        found = devstack.find_dev_file()
        if found is None:
            missing = ", ".join(k for k in REQUIRED_ENV if not os.environ.get(k))
            raise CliError(
                f"no adapter stack configured ({missing} not set and no "
                f"{devstack.DEV_FILE_NAME} found from {Path.cwd()}): run `adapter dev` in "
                "your project, or set the ADAPTER_* variables to your stack's resources"
            )
        try:
            info = json.loads(found.read_text(encoding="utf-8"))
            env = {str(k): str(v) for k, v in info["env"].items()}
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            raise CliError(f"cannot read {found}: {exc}") from None
        # The dev file describes a moto stack: its fake credentials must win over a
        # profile from the shell, or boto3 would sign with (and leak) real ones.
        for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            os.environ.pop(key, None)
        os.environ.update(env)
        source = str(found)
        changed = True
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
        changed = True
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region
        changed = True
    if profile:
        os.environ["AWS_PROFILE"] = profile
        changed = True
    if changed:
        # A fresh default session: the old one may have resolved other credentials.
        if profile:
            boto3.setup_default_session(profile_name=profile)
        else:
            boto3.setup_default_session()
        reset_env_runtime()
    _check_endpoint(os.environ.get("AWS_ENDPOINT_URL"), source)
    return source


def _check_endpoint(url: str | None, source: str) -> None:
    # botocore retries a refused connection with backoff for several seconds before
    # giving up; one TCP connect tells the same thing at once.
    if not url:
        return
    parts = urlsplit(url)
    if not parts.hostname:
        raise CliError(f"invalid endpoint URL {url!r} (from {source})")
    if parts.hostname not in _LOCAL_HOSTS and not source.endswith(devstack.DEV_FILE_NAME):
        return  # a remote endpoint may sit behind a proxy only botocore knows about
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=3):
            pass
    except OSError as exc:
        raise CliError(
            f"cannot reach the endpoint {url} (from {source}): {exc.strerror or exc}; "
            "is `adapter dev` (or your local AWS emulator) running?"
        ) from None


_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


@contextmanager
def _stack(ctx: typer.Context, endpoint_url: str | None, profile: str | None) -> Iterator[None]:
    """Configure the connection, then turn every failure into one line on stderr."""
    root: _Connection = ctx.obj or _Connection()
    try:
        configure(endpoint_url or root.endpoint_url, profile or root.profile, root.region)
        yield
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:
        if os.environ.get("ADAPTER_DEBUG"):
            raise  # the traceback, for whoever debugs the CLI itself
        _fail(describe_error(exc))


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong and, where it helps, what to do."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    from .core.errors import AdapterError, RunNotFoundError

    if isinstance(exc, CliError):
        return str(exc)
    if isinstance(exc, RunNotFoundError):
        return f"no run with id {exc.run_id!r} (see `adapter runs ls`)"
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        endpoint = exc.kwargs.get("endpoint_url", "the AWS endpoint")
        return f"cannot reach {endpoint}: {exc}"
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found: configure them, or pass --profile"
    if isinstance(exc, NoRegionError):
        return "no AWS region configured: set AWS_DEFAULT_REGION or pass --region"
    if isinstance(exc, ProfileNotFound):
        return str(exc)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", str(exc))
        if code in ("ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue"):
            return f"{message} ({code}): do the ADAPTER_* variables name this stack's resources?"
        return f"AWS said {code}: {message}"
    if isinstance(exc, BotoCoreError):
        return f"AWS error: {exc}"
    if isinstance(exc, AdapterError):
        return str(exc)
    return f"{type(exc).__name__}: {exc} (set ADAPTER_DEBUG=1 for the traceback)"


# --- reading runs ---------------------------------------------------------------------------


def _record(run: Any) -> Any:
    # The RunRecord a Run handle already holds (list_runs and get_run fill it).
    return run.record()


def _run_json(record: Any) -> dict[str, Any]:
    from .runtime import run_json

    return run_json(record)


def _event_json(event: Any) -> dict[str, Any]:
    from .runtime import event_json

    return event_json(event)


def _history(run_id: str) -> tuple[Any, list[Any]]:
    from .core.errors import RunNotFoundError
    from .runtime import current_runtime

    record, events = current_runtime().history(run_id)
    if record is None:
        raise RunNotFoundError(run_id)
    return record, events


def _run_end(record: Any) -> datetime:
    return record.completed_at if record.completed_at else _now()


def _now() -> datetime:
    # The runtime's clock, not the wall clock: under LocalRuntime time is virtual, and a
    # running run's age must be measured on the clock that stamped its events.
    from .runtime import current_runtime

    try:
        return current_runtime().clock()
    except Exception:
        return datetime.now(UTC)


def _run_duration(record: Any) -> float:
    return float((_run_end(record) - record.created_at).total_seconds())


@dataclass
class Span:
    """One line of a run's timeline: a step, a sleep or a hook."""

    kind: str
    correlation_id: str
    name: str
    start: datetime
    end: datetime | None = None
    attempts: int = 0
    outcome: str = "pending"
    detail: str = ""

    def to_json(self, origin: datetime) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "correlationId": self.correlation_id,
            "name": self.name,
            "startOffset": (self.start - origin).total_seconds(),
            "duration": (self.end - self.start).total_seconds() if self.end else None,
            "attempts": self.attempts,
            "outcome": self.outcome,
            "detail": self.detail,
        }


def build_timeline(events: Sequence[Any]) -> list[Span]:
    """Fold a run's events into one span per step, sleep and hook, in the order they
    began. Spans still open when the run ended are marked ``unfinished``."""
    spans: dict[str, Span] = {}
    ended = False
    for event in events:
        cid = event.correlation_id or ""
        span = spans.get(cid)
        kind, data, at = event.type, event.data, event.created_at
        if kind == "step_created":
            spans[cid] = Span("step", cid, data.step_name, at)
        elif kind == "wait_created":
            # resume_at counts from the workflow's recorded now(), a moment before the
            # event's own timestamp: round so "5m" reads 5m00s, not 4m59s.
            requested = (data.resume_at - at).total_seconds()
            label = format_duration(round(requested) if requested >= 1 else requested)
            spans[cid] = Span("sleep", cid, f"sleep {label}", at, outcome="sleeping")
            spans[cid].detail = f"until {_local(data.resume_at)}"
        elif kind == "hook_created":
            spans[cid] = Span("hook", cid, f"hook {data.token}", at, outcome="waiting")
            if data.conflict:
                spans[cid].outcome, spans[cid].end = "conflict", at
                spans[cid].detail = f"token held by run {data.conflict}"
        elif kind in ("run_completed", "run_failed", "run_cancelled"):
            ended = True
        elif span is None:
            continue
        elif kind == "step_started":
            span.attempts = max(span.attempts, data.attempt)
            span.outcome = "running"
        elif kind == "step_retrying":
            span.outcome = "retrying"
            if data.error is not None:
                span.detail = f"{data.error.type}: {data.error.message}"
        elif kind == "step_completed":
            span.attempts = max(span.attempts, data.attempt)
            span.end, span.outcome = at, "completed"
            if span.detail:  # the last retry's error
                failed = span.attempts - 1
                span.detail = f"after {failed} failed attempt{'s' * (failed != 1)}, last: " + (
                    span.detail
                )
        elif kind == "step_failed":
            span.end, span.outcome = at, "failed"
            span.attempts = max(span.attempts, data.error.attempt or 0)
            span.detail = f"{data.error.type}: {data.error.message}"
        elif kind == "wait_completed":
            span.end, span.outcome, span.detail = at, "completed", ""
        elif kind == "hook_received":
            span.attempts += 1  # payloads received
            span.end, span.outcome = at, "received"
        elif kind == "hook_disposed" and span.end is None:
            span.end, span.outcome = at, "disposed"
    result = list(spans.values())
    if ended:
        for span in result:
            if span.end is None:
                span.outcome = "unfinished"
    return result


def _bar(span: Span, origin: datetime, total: float, now: datetime) -> Text:
    end = span.end or now
    first = int((span.start - origin).total_seconds() / total * BAR_WIDTH) if total else 0
    last = int(-(-(end - origin).total_seconds() / total * BAR_WIDTH // 1)) if total else 1
    first = min(max(first, 0), BAR_WIDTH - 1)
    last = min(max(last, first + 1), BAR_WIDTH)
    style = OUTCOME_STYLES.get(span.outcome, ("", "white"))[1]
    bar = Text("·" * first, style="dim")
    bar.append("█" * (last - first), style=style)
    bar.append("·" * (BAR_WIDTH - last), style="dim")
    return bar


def timeline_table(record: Any, spans: Sequence[Span]) -> Table:
    """The timeline as a borderless table: offset, bar, duration, kind, name, attempts,
    outcome, one line per span."""
    now = _now()
    origin = record.created_at
    total = max((_run_end(record) - origin).total_seconds(), 1e-6)
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
    for column in ("offset", "bar", "duration", "kind", "name", "attempts", "outcome"):
        table.add_column(
            column,
            no_wrap=True,
            justify="right" if column in ("offset", "duration") else "left",
        )
    for span in spans:
        duration = ((span.end or now) - span.start).total_seconds()
        unit = "payload" if span.kind == "hook" else "attempt"
        count = (
            "" if span.kind == "sleep" else f"{span.attempts} {unit}{'s' * (span.attempts != 1)}"
        )
        symbol, style = OUTCOME_STYLES.get(span.outcome, ("?", "white"))
        outcome = Text(f"{symbol} {span.outcome}", style=style)
        if span.detail:
            outcome.append(f"  {span.detail}", style="dim")
        table.add_row(
            f"+{format_duration((span.start - origin).total_seconds())}",
            _bar(span, origin, total, now),
            format_duration(duration) + ("" if span.end else "…"),
            span.kind,
            _short_name(span.name) if span.kind == "step" else span.name,
            count,
            outcome,
        )
    return table


def _activity(spans: Sequence[Span]) -> str:
    """What an unfinished run is doing now, for the --wait spinner."""
    open_spans = [s for s in spans if s.end is None]
    if not open_spans:
        return ""
    span = open_spans[-1]
    if span.kind == "step":
        return f"step {_short_name(span.name)} ({span.outcome}, attempt {max(span.attempts, 1)})"
    return f"{span.name} ({span.outcome})"


# --- commands: runs ----------------------------------------------------------------------------


@runs_app.command("ls")
def runs_ls(
    ctx: typer.Context,
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", help="Only runs of this workflow.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", "-s", help="Only runs with this status (pending, running, completed…)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 50,
    as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """List runs, newest first."""
    from .runtime import list_runs
    from .world import RUN_STATUSES

    if status is not None and status not in RUN_STATUSES:
        raise typer.BadParameter(f"must be one of {', '.join(RUN_STATUSES)}", param_hint="--status")
    with _stack(ctx, endpoint_url, profile):
        records = [
            _record(r) for r in list_runs(workflow_name=workflow, status=status, limit=limit)
        ]
        if as_json:
            _print_json({"runs": [_run_json(r) for r in records]})
            return
        console = _console()
        if not records:
            console.print("no runs" + (" matching the filters" if workflow or status else ""))
            return
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("RUN ID", "WORKFLOW", "STATUS", "DEPLOYMENT", "CREATED", "DURATION"):
            table.add_column(
                column, no_wrap=True, justify="right" if column == "DURATION" else "left"
            )
        for record in records:
            duration = format_duration(_run_duration(record)) + ("" if record.ended else "…")
            table.add_row(
                record.run_id,
                escape(record.workflow_name),
                _status_text(record.status),
                escape(record.deployment_id),
                _local(record.created_at),
                duration,
            )
        console.print(table)


@runs_app.command("show")
def runs_show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run id (wrun_…).")],
    as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Show a run: status, input, output or error, child runs and a timeline of its steps,
    sleeps and hooks."""
    with _stack(ctx, endpoint_url, profile):
        record, events = _history(run_id)
        spans = build_timeline(events)
        from .runtime import child_runs

        children = child_runs(run_id)
        if as_json:
            body = _run_json(record)
            body["children"] = [_run_json(child) for child in children]
            body["timeline"] = [span.to_json(record.created_at) for span in spans]
            _print_json(body)
            return
        _print_run(record, events, spans, children)


def _print_run(record: Any, events: Sequence[Any], spans: Sequence[Span], children: Any) -> None:
    from .core import serde
    from .runtime import parent_of

    console = _console()
    fields: list[tuple[str, Text | str]] = [
        ("Run", record.run_id),
        ("Workflow", record.workflow_name),
        ("Status", _status_text(record.status)),
        ("Deployment", record.deployment_id),
    ]
    parent = parent_of(record)
    if parent:
        fields.append(("Parent", f"{parent[0]} (spawned by its {parent[1]})"))
    fields.append(("Created", _local(record.created_at)))
    if record.started_at:
        fields.append(("Started", _local(record.started_at)))
    took = format_duration(_run_duration(record))
    if record.completed_at:
        fields.append(("Ended", f"{_local(record.completed_at)} (took {took})"))
    else:
        fields.append(("Age", f"{took} so far"))
    fields.append(("Input", _compact_json(serde.to_plain(record.input))))
    if record.status == "completed":
        fields.append(("Output", _compact_json(serde.to_plain(record.output))))
    if record.error is not None:
        fields.append(("Error", Text(f"{record.error.type}: {record.error.message}", style="red")))
    for label, value in fields:
        # Long values stay on one line when piped (soft wrap), so they remain greppable.
        shown = Text(value) if isinstance(value, str) else value
        console.print(Text(f"{label:<12}", style="bold") + shown, soft_wrap=True)

    console.print()
    if children:
        console.print(Text(f"Child runs ({len(children)})", style="bold"))
        table = Table(box=None, show_header=False, pad_edge=False)
        steps = {span.correlation_id: _short_name(span.name) for span in spans}
        for child in children:
            spawned_by = (parent_of(child) or ("", ""))[1]
            table.add_row(
                "  " + child.run_id,
                Text(child.workflow_name),
                _status_text(child.status),
                Text(f"from {spawned_by} ({steps.get(spawned_by, '?')})", style="dim"),
            )
        console.print(table)
    else:
        console.print(Text("Child runs: none", style="bold"))

    console.print()
    console.print(
        Text(
            f"Timeline ({len(events)} events, {format_duration(_run_duration(record))})",
            style="bold",
        )
    )
    if spans:
        console.print(timeline_table(record, spans))
    else:
        console.print("  (no steps, sleeps or hooks yet)")


@runs_app.command("events")
def runs_events(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run id (wrun_…).")],
    as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Print a run's event log, in order."""
    with _stack(ctx, endpoint_url, profile):
        record, events = _history(run_id)
        if as_json:
            _print_json({"events": [_event_json(e) for e in events]})
            return
        rows = [
            (
                str(event.seq),
                "+" + format_duration((event.created_at - record.created_at).total_seconds()),
                event.type,
                event.correlation_id or "",
                _event_json(event)["data"],
            )
            for event in events
        ]
        console = _console()
        # One event per line: the data column gets what the others leave, then an ellipsis.
        headers = ("SEQ", "OFFSET", "TYPE", "CORRELATION")
        fixed = sum(
            max([len(h)] + [len(row[i]) for row in rows]) + 2 for i, h in enumerate(headers)
        )
        room = max(20, console.width - fixed - 2)
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in (*headers, "DATA"):
            table.add_column(
                column, no_wrap=True, justify="right" if column in ("SEQ", "OFFSET") else "left"
            )
        for *cells, data in rows:
            table.add_row(*cells, Text(_compact_json(data, room) if data else ""))
        console.print(table)


@runs_app.command("cancel")
def runs_cancel(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run id (wrun_…).")],
    as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Cancel a run (a run that already ended is left as it is)."""
    from .runtime import get_run

    with _stack(ctx, endpoint_url, profile):
        run = get_run(run_id)
        before = run.status
        if before not in ("completed", "failed", "cancelled"):
            run.cancel()
        after = run.status
        if as_json:
            _print_json({"runId": run_id, "status": after})
        elif before == after and after != "cancelled":
            _console().print(Text(f"run {run_id} already {after}; nothing to cancel"))
        elif before == "cancelled":
            _console().print(Text(f"run {run_id} was already cancelled"))
        else:
            _console().print(Text(f"cancelled run {run_id} (was {before})"))


# --- commands: start, hooks ---------------------------------------------------------------------


def _parse_json(text: str, option: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not valid JSON: {exc}", param_hint=option) from None


def _ensure_registered(name: str) -> None:
    """Import the workflow's module so ``start`` can check the name (and so a typo fails
    here, not later in the worker). The module is the name minus its last parts."""
    from .core import default_registry

    if name in default_registry.workflow_names():
        return
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)  # a console script does not have the project on its path
    parts = name.split(".")
    for end in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:end])
        try:
            importlib.import_module(module)
            return
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue  # not a module: try a shorter prefix
            raise CliError(f"importing {module!r} for workflow {name!r} failed: {exc}") from exc
        except Exception as exc:
            raise CliError(
                f"importing {module!r} for workflow {name!r} failed: {type(exc).__name__}: {exc}"
            ) from exc


@app.command()
def start(
    ctx: typer.Context,
    workflow: Annotated[
        str, typer.Argument(help="Registered name, e.g. samples.orders.fulfill_order.")
    ],
    args: Annotated[str, typer.Option("--args", help="Positional arguments, a JSON array.")] = "[]",
    kwargs: Annotated[
        str | None, typer.Option("--kwargs", help="Keyword arguments, a JSON object.")
    ] = None,
    deployment_id: Annotated[
        str | None, typer.Option("--deployment-id", help="A version, an alias or 'latest'.")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option("--idempotency-key", help="Starting twice with one key gives the first run."),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the run until it ends, then print its result.")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="With --wait: give up after this many seconds."),
    ] = None,
    as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Start a run of WORKFLOW. With --wait, exit status 1 when the run fails or is cancelled."""
    from .core.errors import WorkflowNotRegisteredError
    from .runtime import start as start_run

    positional = _parse_json(args, "--args")
    if not isinstance(positional, list):
        raise typer.BadParameter("must be a JSON array", param_hint="--args")
    named = _parse_json(kwargs, "--kwargs") if kwargs is not None else None
    if named is not None and not isinstance(named, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--kwargs")
    with _stack(ctx, endpoint_url, profile):
        _ensure_registered(workflow)
        try:
            run = start_run(
                workflow,
                args=positional,
                kwargs=named,
                deployment_id=deployment_id,
                idempotency_key=idempotency_key,
            )
        except WorkflowNotRegisteredError as exc:
            raise CliError(
                f"{exc} (the CLI checks the name against the modules it can import: run it "
                "from your project's root)"
            ) from None
        if not wait:
            if as_json:
                _print_json({"runId": run.run_id, "status": run.status})
            else:
                _console().print(
                    Text(f"started run {run.run_id} of {run.workflow_name} ({run.status})\n")
                    + Text(f"follow it: adapter runs show {run.run_id}", style="dim")
                )
            return
        record = _follow(run, timeout, quiet=as_json)
    if as_json:
        _print_json(_run_json(record))
    else:
        _print_outcome(record)
    if record.status != "completed":
        raise typer.Exit(1)


def _follow(run: Any, timeout: float | None, quiet: bool) -> Any:
    """Wait for ``run`` to end, showing what it does meanwhile; return its record."""
    from .core.errors import RunTimeoutError, WorkflowRunCancelledError, WorkflowRunFailedError

    deadline = None if timeout is None else time.monotonic() + timeout
    console = _console(stderr=True)  # progress never mixes with the result on stdout
    with console.status(f"run {run.run_id}: starting", spinner="dots") as status:
        while True:
            began = time.monotonic()
            try:
                run.result(timeout=0.5)
                break
            except (WorkflowRunFailedError, WorkflowRunCancelledError):
                break
            except RunTimeoutError:
                pass
            record, events = _history(run.run_id)
            if record.ended:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise CliError(
                    f"run {run.run_id} is still {record.status} after {timeout:g}s; "
                    f"follow it with `adapter runs show {run.run_id}`"
                )
            if not quiet:
                activity = _activity(build_timeline(events))
                status.update(f"run {run.run_id}: {record.status}  {activity}")
            # A runtime that returns at once (nothing scheduled) must not spin the CPU.
            time.sleep(max(0.0, 0.2 - (time.monotonic() - began)))
    return _history(run.run_id)[0]


def _print_outcome(record: Any) -> None:
    from .core import serde

    console = _console()
    took = format_duration(_run_duration(record))
    line = Text(f"run {record.run_id} ") + _status_text(record.status) + Text(f" in {took}")
    console.print(line)
    if record.status == "completed":
        typer.echo(json.dumps(serde.to_plain(record.output), indent=2, default=str))
    elif record.error is not None:
        console.print(Text(f"{record.error.type}: {record.error.message}", style="red"))


@hooks_app.command("resume")
def hooks_resume(
    ctx: typer.Context,
    token: Annotated[str, typer.Argument(help="The hook's token.")],
    payload: Annotated[
        str, typer.Option("--payload", help="The payload to deliver, as JSON.")
    ] = "null",
    as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Deliver a payload to the hook holding TOKEN, resuming its run."""
    from .runtime import resume_hook

    value = _parse_json(payload, "--payload")
    with _stack(ctx, endpoint_url, profile):
        run_id = resume_hook(token, value)
        if as_json:
            _print_json({"runId": run_id})
        else:
            _console().print(Text(f"resumed run {run_id}"))


# --- command: dev -----------------------------------------------------------------------------


@app.command()
def dev(
    modules: Annotated[
        list[str] | None,
        typer.Argument(
            help="Workflow modules to load; default: \\[tool.adapter] modules in "
            "pyproject.toml, else the samples.",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int, typer.Option("--port", help="HTTP API port (0: any free port).")
    ] = devstack.DEFAULT_PORT,
    moto_port: Annotated[
        int, typer.Option("--moto-port", help="moto server port (0: any free port).")
    ] = devstack.DEFAULT_MOTO_PORT,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            help="Keep runs, queued messages and payloads there across restarts.",
            file_okay=False,
        ),
    ] = None,
    dev_file: Annotated[
        Path | None,
        typer.Option(
            "--dev-file",
            help=f"Where to write the connection file; default ./{devstack.DEV_FILE_NAME}.",
            dir_okay=False,
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Log each invocation and the runtime's activity."),
    ] = False,
) -> None:
    """Run the whole stack here: moto, a worker for both queues and the HTTP API.

    No Docker, no AWS account. Ctrl-C (or SIGTERM) stops everything.
    """
    import logging

    console = _console()
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("adapter").setLevel(logging.INFO if verbose else logging.WARNING)

    def out(line: str) -> None:
        console.print(Text(line), soft_wrap=True)

    try:
        stack = devstack.DevStack(
            modules,
            port=port,
            moto_port=moto_port,
            state_dir=state_dir,
            dev_file=dev_file,
            out=out,
        )
        code = stack.run()
    except devstack.DevStackError as exc:
        _fail(str(exc))
    except Exception as exc:
        _fail(f"the dev stack failed: {describe_error(exc)}")
    raise typer.Exit(code)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="adapter")


if __name__ == "__main__":
    main()
