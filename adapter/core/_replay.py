"""The replay engine: one workflow turn as a pure function of the event log.

A turn starts the workflow coroutine on a fresh :class:`WorkflowLoop`, then feeds it
the recorded events one at a time in log order, running the loop until nothing is
ready after each. Steps the code asks for get correlation ids from a counter in
request order; a step already recorded returns its recorded outcome, a new one becomes
a command. When the log is used up the turn ends: the workflow finished (completed or
failed) or it waits on something, and the new commands are what the runtime must
record and dispatch. The engine never touches storage.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from . import serde
from ._context import WorkflowMetadata, workflow_scope
from ._loop import WorkflowLoop
from ._registry import StepDefinition, WorkflowDefinition
from .errors import (
    FatalError,
    NonDeterminismError,
    SerializationError,
    StepFailedError,
    WorkflowContextError,
    _SuspendTurn,
)
from .events import ErrorInfo, Event, RunCreated

logger = logging.getLogger(__name__)

_MAX_STACK = 8000


@dataclass(frozen=True)
class ScheduleStep:
    """Command: record ``step_created`` for this correlation id and dispatch the step."""

    correlation_id: str
    step_name: str
    input: Any


Command = ScheduleStep


@dataclass
class TurnOutcome:
    """What a turn decided.

    Attributes:
        status: ``"suspended"`` (waiting on steps), ``"completed"`` or ``"failed"``.
        commands: New things to record, in request order (only when suspended).
        output: The workflow's return value as a serde tree (when completed).
        error: Why the run failed (when failed).
        in_flight: Steps recorded as created but not yet finished.
    """

    status: Literal["suspended", "completed", "failed"]
    commands: list[Command] = field(default_factory=list)
    output: Any = None
    error: ErrorInfo | None = None
    in_flight: list[str] = field(default_factory=list)


def error_info(exc: BaseException) -> ErrorInfo:
    """Describe an exception for the event log."""
    stack = "".join(traceback.format_exception(exc))[-_MAX_STACK:]
    return ErrorInfo(type=type(exc).__name__, message=str(exc), stack=stack)


def step_correlation_id(index: int) -> str:
    return f"step_{index}"


def _index_of(correlation_id: str) -> int:
    return int(correlation_id.rsplit("_", 1)[1])


def decode_input(tree: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Split a recorded ``{"args", "kwargs"}`` input back into call arguments."""
    value = serde.from_json(tree)
    return tuple(value.get("args", ())), dict(value.get("kwargs", {}))


def encode_input(args: Sequence[Any], kwargs: dict[str, Any] | None, *, what: str) -> Any:
    """Record call arguments as one serde tree."""
    return serde.to_json({"args": list(args), "kwargs": dict(kwargs or {})}, what=what)


def failure_for(info: ErrorInfo) -> Exception:
    """The exception a workflow receives for a step that failed for good."""
    step_name = info.step_name or "?"
    attempt = info.attempt or 1
    if info.fatal:
        return FatalError(
            info.message, step_name=step_name, attempt=attempt, original_type=info.type
        )
    return StepFailedError(step_name, attempt, info.type, info.message)


class WorkflowTurn:
    """Replays one run's history through its workflow and decides what comes next.

    Example::

        outcome = WorkflowTurn(registry.get_workflow(name), events).run()
        if outcome.status == "suspended":
            record(outcome.commands)
    """

    def __init__(self, workflow: WorkflowDefinition, history: Sequence[Event]) -> None:
        if not history or not isinstance(history[0], RunCreated):
            raise ValueError("a run's history starts with run_created")
        created = history[0]
        self._workflow = workflow
        self._history = history
        self._created = created
        self._now = created.created_at
        self._loop = WorkflowLoop(created.created_at.timestamp())
        self._rng = _random.Random(created.run_id)
        self._counter = 0
        self._futures: dict[str, asyncio.Future[Any]] = {}
        self._requested: dict[str, Command] = {}
        self._recorded: dict[int, tuple[str, str]] = {}
        self._finished: set[str] = set()
        self._failure: BaseException | None = None
        self._closing = False
        for event in history:
            if event.type == "step_created":
                self._recorded[_index_of(event.correlation_id or "")] = (
                    "step",
                    event.data.step_name,
                )
        started = next((e.created_at for e in history if e.type == "run_started"), self._now)
        self.metadata = WorkflowMetadata(
            workflow_name=workflow.name,
            run_id=created.run_id,
            started_at=started,
            deployment_id=created.data.deployment_id,
        )

    # --- WorkflowRuntime: what workflow code calls ---------------------------------------

    def call_step(
        self, step: StepDefinition, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> asyncio.Future[Any]:
        if self._closing:
            raise _SuspendTurn()
        self._counter += 1
        correlation_id = step_correlation_id(self._counter)
        self._check_recorded(self._counter, "step", step.name)
        tree = encode_input(args, kwargs, what=f"arguments of step {step.name!r}")
        future: asyncio.Future[Any] = self._loop.create_future()
        self._futures[correlation_id] = future
        self._requested[correlation_id] = ScheduleStep(correlation_id, step.name, tree)
        return future

    def call_workflow(
        self, workflow: WorkflowDefinition, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> asyncio.Task[Any]:
        if self._closing:
            raise _SuspendTurn()
        # Inline composition: the child's body runs here, so its steps take correlation
        # ids from this run's counter and land in this run's log.
        return self._loop.create_task(workflow.fn(*args, **kwargs), name=workflow.name)

    def now(self) -> datetime:
        return self._now

    def random(self) -> float:
        return self._rng.random()

    def refuse(self, error: BaseException) -> BaseException:
        """Remember a misuse so the run fails even if workflow code catches the error."""
        if self._failure is None:
            self._failure = error
        return error

    # --- the turn --------------------------------------------------------------------------

    def run(self) -> TurnOutcome:
        """Replay the history and return what comes next."""
        args, kwargs = decode_input(self._created.data.input)
        with workflow_scope(self):
            main = self._loop.create_task(self._workflow.fn(*args, **kwargs), name="workflow")
        try:
            self._loop.run_until_idle()
            for event in self._history[1:]:
                if main.done() or self._failure is not None:
                    break
                self._deliver(event)
            return self._outcome(main)
        finally:
            self._close()

    def _deliver(self, event: Event) -> None:
        self._now = event.created_at
        self._loop.set_time(event.created_at.timestamp())
        correlation_id = event.correlation_id or ""
        if event.type == "step_created":
            if correlation_id not in self._requested:
                self.refuse(
                    NonDeterminismError(
                        f"the log recorded step {event.data.step_name!r} as {correlation_id}, "
                        "but the workflow code did not request it: was the code changed "
                        "while runs were in flight?",
                        expected=event.data.step_name,
                        actual=None,
                    )
                )
        elif event.type == "step_completed":
            self._finished.add(correlation_id)
            future = self._futures.get(correlation_id)
            if future is not None and not future.done():
                try:
                    future.set_result(serde.from_json(event.data.result))
                except SerializationError as exc:
                    future.set_exception(exc)
                self._loop.run_until_idle()
        elif event.type == "step_failed":
            self._finished.add(correlation_id)
            future = self._futures.get(correlation_id)
            if future is not None and not future.done():
                future.set_exception(failure_for(event.data.error))
                self._loop.run_until_idle()

    def _check_recorded(self, index: int, kind: str, name: str) -> None:
        recorded = self._recorded.get(index)
        if recorded is not None and recorded != (kind, name):
            raise self.refuse(
                NonDeterminismError(
                    f"replay mismatch at position {index}: the log recorded "
                    f"{recorded[0]} {recorded[1]!r}, but the workflow now asks for "
                    f"{kind} {name!r}: was the code changed while runs were in flight?",
                    expected=f"{recorded[0]} {recorded[1]}",
                    actual=f"{kind} {name}",
                )
            )

    def _outcome(self, main: asyncio.Task[Any]) -> TurnOutcome:
        if self._failure is not None:
            return TurnOutcome("failed", error=error_info(self._failure))
        if main.done():
            if main.cancelled():
                return TurnOutcome(
                    "failed", error=ErrorInfo(type="CancelledError", message="workflow cancelled")
                )
            exc = main.exception()
            if exc is not None:
                return TurnOutcome("failed", error=error_info(exc))
            try:
                output = serde.to_json(
                    main.result(), what=f"return value of workflow {self._workflow.name!r}"
                )
            except SerializationError as err:
                return TurnOutcome("failed", error=error_info(err))
            return TurnOutcome("completed", output=output)
        recorded_ids = {step_correlation_id(i) for i in self._recorded}
        commands = [c for cid, c in self._requested.items() if cid not in recorded_ids]
        in_flight = sorted(recorded_ids - self._finished, key=_index_of)
        return TurnOutcome("suspended", commands=commands, in_flight=in_flight)

    def _close(self) -> None:
        # Drop the suspended coroutines now, inside workflow scope and with new requests
        # refused, so their `finally` blocks cannot run later (at garbage collection, on
        # another thread) and call a step as if it were a plain function.
        self._closing = True
        with workflow_scope(self):
            for task in asyncio.all_tasks(self._loop):
                coro = task.get_coro()
                try:
                    coro.close()  # type: ignore[union-attr]
                except (RuntimeError, _SuspendTurn, WorkflowContextError):
                    logger.debug("workflow code resisted closing in turn of %s", task)
        self._loop.close()
