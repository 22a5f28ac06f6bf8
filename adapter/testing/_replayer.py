"""``replay``: does changed workflow code still replay a recorded run? (No AWS.)

Like Temporal's ``Replayer``: export a run's events (``adapter runs events RUN_ID
--json``, ``GET /runs/{runId}/events`` or ``LocalRuntime.events``), change the code, and
replay the log through the new code in a unit test. The replay engine Lambda runs
decides, turn by turn, exactly as it would for a live run; nothing is executed: a step
recorded in the log returns its recorded outcome, a step not recorded is only reported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..core import (
    Command,
    CreateHook,
    Registry,
    RunState,
    ScheduleStep,
    StartTimer,
    WorkflowDefinition,
    WorkflowTurn,
    default_registry,
    serde,
)
from ..core.errors import NonDeterminismError
from ..core.events import ErrorInfo, Event, EventBase, parse_event

EventSource = str | os.PathLike[str] | Mapping[str, Any] | Iterable[Event | Mapping[str, Any]]
"""What :func:`replay` reads events from: see :func:`load_events`."""

# Payload fields the HTTP API and the CLI show as plain JSON (``serde.to_plain``).
_PLAIN_FIELDS = ("input", "result", "output", "payload", "metadata")
_CREATED = frozenset({"step_created", "wait_created", "hook_created"})
_ENDED = frozenset({"completed", "failed"})


@dataclass(frozen=True)
class ReplayResult:
    """What replaying a log through the workflow code gave.

    Attributes:
        run_id: The replayed run.
        workflow_name: The name of the workflow the code was replayed with.
        status: ``"completed"``, ``"failed"`` (the code raised) or ``"suspended"`` (it
            waits on something the log has not recorded yet).
        output: The workflow's return value, when completed.
        error: Why the workflow failed, when failed.
        commands: What the code asks for next that the log has not recorded: the steps
            it would schedule, timers it would start, hooks it would create.
        recorded_status: The run's status by the log (``"running"`` for a run in flight).
        events: How many events were replayed.
    """

    run_id: str
    workflow_name: str
    status: Literal["completed", "failed", "suspended"]
    output: Any = None
    error: ErrorInfo | None = None
    commands: list[Command] = field(default_factory=list)
    recorded_status: str = "running"
    events: int = 0


def replay(
    events: EventSource,
    workflow: Callable[..., Any] | WorkflowDefinition | str | None = None,
    *,
    registry: Registry | None = None,
) -> ReplayResult:
    """Replay a recorded run through (possibly changed) workflow code.

    Example::

        from adapter.testing import replay

        def test_v2_still_replays_runs_in_flight():
            replay(Path("tests/logs/order-1.json"), process_order)  # raises if not

    Args:
        events: The run's events, in any shape :func:`load_events` reads: ``Event``
            models, the ``{"events": [...]}`` document ``adapter runs events RUN_ID
            --raw`` (payloads typed) or ``--json`` (payloads as plain JSON) prints, its
            list, a path to a file holding either, or the one-event-per-line output of
            ``--follow --json``.
        workflow: The ``@workflow`` function (or its registered name) to replay with;
            by default the workflow the log names, looked up in ``registry``.
        registry: Where to look names up (the default registry when omitted).

    Returns:
        What the replay gave, when the code replays the log.

    Raises:
        NonDeterminismError: the code no longer matches the log: it asks for another
            step (or sleep or hook) than the one recorded at that point, it no longer
            asks for one the log recorded, or it ends otherwise than the log recorded.
            The message names the seq, what was recorded and what the code did.
        WorkflowNotRegisteredError: ``workflow`` names no registered workflow.
        ValueError: ``events`` is not one run's log starting with ``run_created``.
    """
    log, plain = _load(events)
    definition = _definition(workflow, log, registry or default_registry)
    turn = WorkflowTurn(definition, log)
    try:
        outcome = turn.advance(log)
        refused = turn.refused
        if isinstance(refused, NonDeterminismError):
            raise refused
        requested = turn.requested
        seen = len(turn.delivered)
    finally:
        turn.close()
    recorded = RunState.fold(log)
    for event in log[seen:]:
        if event.type in _CREATED and event.correlation_id not in requested:
            raise _diverged(
                event,
                f"the workflow now {_ending(outcome.status)} before requesting it",
                expected=_name(event),
            )
    _check_ending(recorded, log, outcome.status, outcome.commands, outcome.error, plain=plain)
    return ReplayResult(
        run_id=log[0].run_id,
        workflow_name=definition.name,
        status=outcome.status,
        output=serde.from_json(outcome.output) if outcome.status == "completed" else None,
        error=outcome.error,
        commands=list(outcome.commands),
        recorded_status=recorded.status,
        events=len(log),
    )


def load_events(source: EventSource) -> list[Event]:
    """Read one run's events, in seq order, from what :func:`replay` accepts.

    ``source`` is a list of ``Event`` models or of event dicts, either as the HTTP API
    and the CLI's ``--json`` show them (camelCase, payloads as plain JSON) or as
    ``Event.model_dump(mode="json")`` gives them; the ``{"events": [...]}`` document;
    JSON text; or a path to a file holding JSON or JSON lines.

    From the API's shape, payloads come back as the plain JSON it shows: a step result
    that was a pydantic model or a ``datetime`` reaches the replayed code as a dict or a
    string. ``Event`` models (``LocalRuntime.events``) and the stored shape
    (``adapter runs events RUN_ID --raw``) keep every type.

    Raises:
        ValueError: not one run's log, or not readable as events.
    """
    return _load(source)[0]


def _load(source: EventSource) -> tuple[list[Event], bool]:
    """The events, and whether any came with plain (untyped) payloads."""
    raw: Any = source
    if isinstance(source, os.PathLike) or (
        isinstance(source, str) and not source.lstrip().startswith(("[", "{"))
    ):
        raw = _read_json(Path(source).read_text(encoding="utf-8"), str(source))
    elif isinstance(source, str):
        raw = _read_json(source, "the JSON text")
    if isinstance(raw, Mapping):
        if "events" not in raw:
            raise ValueError('expected a list of events or a {"events": [...]} document')
        raw = raw["events"]
    items = list(raw)
    plain = any(isinstance(item, Mapping) and "runId" in item for item in items)
    events = sorted((_event(item) for item in items), key=lambda e: e.seq)
    if not events or events[0].type != "run_created":
        raise ValueError("a run's log starts with its run_created event (seq 1)")
    run_ids = {e.run_id for e in events}
    if len(run_ids) > 1:
        raise ValueError(f"the events belong to {len(run_ids)} runs: pass one run's log")
    seqs = [e.seq for e in events]
    if len(set(seqs)) != len(seqs):
        raise ValueError("the log holds two events with the same seq")
    return events, plain


def _read_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:  # `adapter runs events RUN_ID --follow --json`: one event per line
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where} is neither JSON nor JSON lines: {exc}") from None


def _event(item: Any) -> Event:
    if isinstance(item, EventBase):
        return item  # type: ignore[return-value]  # every EventBase made here is an Event
    if not isinstance(item, Mapping):
        raise ValueError(f"not an event: {item!r:.80}")
    if "runId" not in item:
        return parse_event(dict(item))
    data = dict(item.get("data") or {})
    for key in _PLAIN_FIELDS:
        if key in data:
            # Plain JSON, tags already dropped: encoded again, it decodes to itself.
            data[key] = serde.to_json(data[key], what=f"event {key}")
    return parse_event(
        {
            "run_id": item["runId"],
            "seq": item["seq"],
            "type": item["type"],
            "correlation_id": item.get("correlationId"),
            "created_at": item["createdAt"],
            "data": data,
        }
    )


def _definition(
    workflow: Callable[..., Any] | WorkflowDefinition | str | None,
    log: list[Event],
    registry: Registry,
) -> WorkflowDefinition:
    if isinstance(workflow, WorkflowDefinition):
        return workflow
    if workflow is None:
        created = log[0]
        assert created.type == "run_created"
        return registry.get_workflow(created.data.workflow_name)
    if isinstance(workflow, str):
        return registry.get_workflow(workflow)
    definition = getattr(workflow, "__adapter_workflow__", None)
    if not isinstance(definition, WorkflowDefinition):
        raise TypeError(f"{workflow!r} is not a @workflow function (decorate it or pass its name)")
    return definition


def _check_ending(
    recorded: RunState,
    log: list[Event],
    status: str,
    commands: list[Command],
    error: ErrorInfo | None,
    *,
    plain: bool,
) -> None:
    """A log that recorded how the run ended must end the same way in the replay."""
    if recorded.status not in _ENDED or (recorded.error is not None and recorded.error.kind):
        return  # in flight, cancelled from outside, or failed by the runtime, not the code
    end = next(e for e in reversed(log) if e.type in ("run_completed", "run_failed"))
    if status == recorded.status:
        return
    if status == "suspended":
        asks = _describe(commands[0]) if commands else "still waits on what the log finished"
        did = f"asks for {asks}" if commands else asks
    elif status == "failed":
        assert error is not None
        did = f"fails with {error.type}: {error.message}"
        if plain:
            did += (
                " (these events show payloads as plain JSON, without their types: export "
                "them with `adapter runs events RUN_ID --raw`)"
            )
    else:
        did = "completes"
    raise _diverged(end, f"replaying it, the workflow now {did}", expected=end.type, actual=did)


def _diverged(
    event: Event, what: str, *, expected: str, actual: str | None = None
) -> NonDeterminismError:
    where = f" as {event.correlation_id}" if event.correlation_id else ""
    return NonDeterminismError(
        f"replay mismatch at seq {event.seq}: the log recorded {expected}{where}, but {what}: "
        "the changed code would not replay this run",
        expected=expected,
        actual=actual,
        seq=event.seq,
        correlation_id=event.correlation_id,
    )


def _ending(status: str) -> str:
    return {"completed": "returns", "failed": "fails"}.get(status, "stops")


def _name(event: Event) -> str:
    if event.type == "step_created":
        return f"step {event.data.step_name!r}"
    return "a sleep" if event.type == "wait_created" else "a hook"


def _describe(command: Command) -> str:
    if isinstance(command, ScheduleStep):
        return f"step {command.step_name!r} ({command.correlation_id})"
    if isinstance(command, StartTimer):
        return f"a sleep until {command.resume_at.isoformat()} ({command.correlation_id})"
    assert isinstance(command, CreateHook)
    return f"a hook ({command.correlation_id})"
