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
import secrets
import traceback
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from . import serde
from ._commands import Command, CreateHook, ScheduleStep, StartTimer, TurnOutcome
from ._context import WorkflowMetadata, workflow_scope
from ._hooks import Hook, Webhook, check_token
from ._loop import WorkflowLoop
from ._mistakes import StepCall, install_io_audit, warn_unawaited
from ._registry import StepDefinition, WorkflowDefinition
from ._state import RunState
from .errors import (
    FatalError,
    HookConflictError,
    NonDeterminismError,
    SerializationError,
    StepFailedError,
    WorkflowContextError,
    _SuspendTurn,
)
from .events import ErrorInfo, Event, RunCreated

logger = logging.getLogger(__name__)

_MAX_STACK = 8000
_MAX_MESSAGE = 16_000


def error_info(exc: BaseException) -> ErrorInfo:
    """Describe an exception for the event log.

    The message and the stack are bounded: an exception may carry megabytes of text (a
    whole response body, say), and the error is recorded in an event and on the run
    item. What is cut is said, with how much.
    """
    try:
        message = str(exc)
    except Exception as failed:  # a __str__ that raises must not stop the recording
        message = f"<str() of the exception failed: {type(failed).__name__}>"
    stack = "".join(traceback.format_exception(exc))
    return ErrorInfo(
        type=type(exc).__name__,
        message=truncate(message, _MAX_MESSAGE),
        stack=truncate(stack, _MAX_STACK, keep_end=True),
    )


def truncate(text: str, limit: int, *, keep_end: bool = False) -> str:
    """``text`` cut to about ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    if keep_end:  # a traceback's last lines say where it failed
        return f"[... {cut} characters truncated]\n" + text[-limit:]
    return text[:limit] + f" [... {cut} characters truncated]"


def correlation_id(kind: str, index: int) -> str:
    """Correlation ids: the kind and the position in request order, e.g. ``step_3``."""
    return f"{kind}_{index}"


def _index_of(cid: str) -> int:
    return int(cid.rsplit("_", 1)[1])


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

    Args:
        workflow: The workflow to replay.
        history: The run's events in seq order, starting with ``run_created``.
        webhook_base_url: Where ``POST /hooks/{token}`` is served, for webhook URLs.
        started_at: When the log has no ``run_started`` yet, the time the runtime will
            record it with, so ``get_workflow_metadata().started_at`` is the same in
            every turn.
    """

    def __init__(
        self,
        workflow: WorkflowDefinition,
        history: Sequence[Event],
        *,
        webhook_base_url: str = "",
        started_at: datetime | None = None,
    ) -> None:
        if not history or not isinstance(history[0], RunCreated):
            raise ValueError("a run's history starts with run_created")
        created = history[0]
        install_io_audit()  # once per process: warns of I/O in workflow code
        self._workflow = workflow
        self._history = history
        self._created = created
        self._webhook_base_url = webhook_base_url
        self._now = created.created_at
        # typeshed marks all of AbstractEventLoop abstract; at runtime it is no ABC, and
        # what WorkflowLoop leaves out raises NotImplementedError, as asyncio's base does.
        self._loop = WorkflowLoop(created.created_at.timestamp(), timers=self)  # type: ignore[abstract]
        self._rng = _random.Random(created.run_id)
        self._counter = 0
        self._futures: dict[str, asyncio.Future[Any]] = {}
        self._hooks: dict[str, Hook[Any]] = {}
        self._requested: dict[str, Command] = {}
        self._recorded: dict[int, Event] = {}
        # The log as far as it is known, folded as events arrive: what is still open
        # is read from it, so deciding costs what is open, not the log.
        self.state = RunState()
        self._unrecorded: dict[str, Command] = {}  # requested, not in the log yet
        self._failure: BaseException | None = None
        self._closing = False
        self._main: asyncio.Task[Any] | None = None
        self.delivered: list[Event] = []
        """The events delivered so far (the log prefix this turn has seen)."""
        self._learn(history)
        started = next(
            (e.created_at for e in history if e.type == "run_started"),
            started_at or created.created_at,
        )
        self.metadata = WorkflowMetadata(
            workflow_name=workflow.name,
            run_id=created.run_id,
            started_at=started,
            deployment_id=created.data.deployment_id,
        )

    @property
    def workflow(self) -> WorkflowDefinition:
        """The workflow this turn runs."""
        return self._workflow

    @property
    def refused(self) -> BaseException | None:
        """The misuse that fails this run (a replay mismatch, say), even if code caught it."""
        return self._failure

    @property
    def requested(self) -> frozenset[str]:
        """Correlation ids of every step, wait and hook the code asked for so far."""
        return frozenset(self._requested)

    # --- WorkflowRuntime: what workflow code calls ---------------------------------------

    def call_step(
        self, step: StepDefinition, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> asyncio.Future[Any]:
        cid, recorded = self._request("step", step.name)
        # A recorded step's input is in the log: encoding it again on every replay
        # would make a turn's cost grow with the number of steps before it.
        tree = (
            recorded.data.input
            if recorded is not None
            else encode_input(args, kwargs, what=f"arguments of step {step.name!r}")
        )
        future = StepCall(step.name, loop=self._loop)
        self._futures[cid] = future
        self._ask(cid, ScheduleStep(cid, step.name, tree), recorded)
        return future

    def call_workflow(
        self, workflow: WorkflowDefinition, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> asyncio.Task[Any]:
        if self._closing:
            raise _SuspendTurn()
        # Inline composition: the child's body runs here, so its steps take correlation
        # ids from this run's counter and land in this run's log.
        return self._loop.create_task(workflow.fn(*args, **kwargs), name=workflow.name)

    def start_timer(self, resume_at: datetime) -> asyncio.Future[None]:
        """A durable timer: ``sleep()`` and asyncio's ``call_at``/``call_later`` use it."""
        cid, recorded = self._request("wait", "sleep")
        if recorded is not None:
            resume_at = recorded.data.resume_at  # the first execution decided it
        future: asyncio.Future[None] = self._loop.create_future()
        self._futures[cid] = future
        self._ask(cid, StartTimer(cid, resume_at), recorded)
        return future

    def create_hook(self, token: str | None, metadata: Any, *, webhook: bool) -> Hook[Any]:
        if token is not None:
            check_token(token)
        cid, recorded = self._request("hook", "hook")
        # Public only when the token is generated: a chosen one may be guessable.
        public = webhook and token is None
        if recorded is not None:
            token = recorded.data.token
        elif token is None:
            token = secrets.token_urlsafe(24)  # 192 bits
        hook: Hook[Any] = (
            Webhook(self._loop, cid, token, self._webhook_base_url, public=public)
            if webhook
            else Hook(self._loop, cid, token)
        )
        self._hooks[cid] = hook
        tree = (
            recorded.data.metadata
            if recorded is not None
            else serde.to_json(metadata, what="hook metadata")
        )
        self._ask(cid, CreateHook(cid, token, tree, webhook=public), recorded)
        return hook

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
        try:
            return self.advance(self._history)
        finally:
            self.close()

    def advance(self, events: Sequence[Event]) -> TurnOutcome:
        """Deliver ``events`` and return what comes next, keeping the workflow suspended.

        The first call takes the history from ``run_created`` on; each later call takes
        the events that follow those delivered before, so a turn kept between messages
        costs what is new, not the whole log again. :meth:`close` ends it.
        """
        self._learn(events)
        if self._main is None:
            args, kwargs = decode_input(self._created.data.input)
            with workflow_scope(self):
                self._main = self._loop.create_task(
                    self._workflow.fn(*args, **kwargs), name="workflow"
                )
            self.delivered.append(events[0])
            events = events[1:]
            self._loop.run_until_idle()
        for event in events:
            if self._main.done() or self._failure is not None:
                break
            self.delivered.append(event)
            self._deliver(event)
        return self._outcome(self._main)

    def _learn(self, events: Sequence[Event]) -> None:
        # What the log recorded at each position is known before the code asks for it:
        # a replayed request must take the recorded token or wake-up time, not a new one.
        for event in events:
            if event.seq <= self.state.last_seq:
                continue  # known already (a kept turn is handed the log from its start)
            self.state.apply(event)
            cid = event.correlation_id
            if event.type in _CREATED_KINDS and cid:
                self._recorded[_index_of(cid)] = event
                self._unrecorded.pop(cid, None)

    def _ask(self, cid: str, command: Command, recorded: Event | None) -> None:
        self._requested[cid] = command
        if recorded is None:
            self._unrecorded[cid] = command

    def _request(self, kind: str, name: str) -> tuple[str, Any]:
        if self._closing:
            raise _SuspendTurn()
        self._counter += 1
        recorded = self._recorded.get(self._counter)
        if recorded is not None:
            recorded_kind, recorded_name = _describe(recorded)
            if (recorded_kind, recorded_name) != (kind, name):
                raise self.refuse(
                    NonDeterminismError(
                        f"replay mismatch at position {self._counter}: the log recorded "
                        f"{recorded_kind} {recorded_name!r} as {recorded.correlation_id} "
                        f"(seq {recorded.seq}), but the workflow now asks for {kind} "
                        f"{name!r}: was the code changed while runs were in flight?",
                        expected=f"{recorded_kind} {recorded_name}",
                        actual=f"{kind} {name}",
                        seq=recorded.seq,
                        correlation_id=recorded.correlation_id,
                    )
                )
        return correlation_id(kind, self._counter), recorded

    def _deliver(self, event: Event) -> None:
        self._now = event.created_at
        self._loop.set_time(event.created_at.timestamp())
        cid = event.correlation_id or ""
        if event.type in _CREATED_KINDS:
            if cid not in self._requested:
                kind, name = _describe(event)
                self.refuse(
                    NonDeterminismError(
                        f"the log recorded {kind} {name!r} as {cid} (seq {event.seq}), but "
                        "the workflow code did not request it: was the code changed while "
                        "runs were in flight?",
                        expected=f"{kind} {name}",
                        actual=None,
                        seq=event.seq,
                        correlation_id=cid,
                    )
                )
            elif event.type == "hook_created" and event.data.conflict:
                self._hooks[cid]._fail(HookConflictError(event.data.conflict))
                self._loop.run_until_idle()
        elif event.type in ("step_completed", "step_failed", "wait_completed"):
            future = self._futures.get(cid)
            if future is None or future.done():
                return
            if event.type == "step_completed":
                try:
                    future.set_result(serde.from_json(event.data.result))
                except SerializationError as exc:
                    future.set_exception(exc)
            elif event.type == "step_failed":
                future.set_exception(failure_for(event.data.error))
            else:
                future.set_result(None)
            self._loop.run_until_idle()
        elif event.type == "hook_received":
            hook = self._hooks.get(cid)
            if hook is not None:
                hook._deliver(serde.from_json(event.data.payload))
                self._loop.run_until_idle()
        elif event.type == "hook_disposed":
            disposed = self._hooks.get(cid)
            if disposed is not None:
                # Released mid-run (a later hook of this run took its token): awaiting
                # it again could never be answered.
                token = self.state.hooks[cid].token if cid in self.state.hooks else "?"
                disposed._fail(
                    HookConflictError(
                        f"hook {cid} was disposed: a later hook of this run took its token "
                        f"{token!r}"
                    )
                )
                self._loop.run_until_idle()

    def _outcome(self, main: asyncio.Task[Any]) -> TurnOutcome:
        state = self.state
        hooks = [(h.correlation_id, h.token) for h in state.token_holders()]
        if self._failure is not None:
            return TurnOutcome("failed", error=error_info(self._failure), hooks=hooks)
        if main.done():
            warn_unawaited(self._workflow.name, self._futures.values())
            if main.cancelled():
                error = ErrorInfo(type="CancelledError", message="workflow task was cancelled")
                return TurnOutcome("failed", error=error, hooks=hooks)
            exc = main.exception()
            if exc is not None:
                return TurnOutcome("failed", error=error_info(exc), hooks=hooks)
            try:
                output = serde.to_json(
                    main.result(), what=f"return value of workflow {self._workflow.name!r}"
                )
            except SerializationError as err:
                return TurnOutcome("failed", error=error_info(err), hooks=hooks)
            return TurnOutcome("completed", output=output, hooks=hooks)
        commands = [c for cid, c in self._unrecorded.items() if not self._cancelled_timer(cid)]
        return TurnOutcome(
            "suspended",
            commands=commands,
            in_flight=[s.correlation_id for s in state.open_steps()],
            timers=[(w.correlation_id, w.resume_at) for w in state.open_waits()],
            hooks=hooks,
        )

    def _cancelled_timer(self, cid: str) -> bool:
        # A timer cancelled before it was recorded (a wait_for done in the same turn).
        future = self._futures.get(cid)
        return (
            isinstance(self._requested.get(cid), StartTimer)
            and future is not None
            and future.cancelled()
        )

    def close(self) -> None:
        """End the workflow's suspended coroutines (idempotent)."""
        # Drop them now, inside workflow scope and with new requests refused, so their
        # `finally` blocks cannot run later (at garbage collection, on another thread)
        # and call a step as if it were a plain function.
        if self._loop.is_closed():
            return
        self._closing = True
        with workflow_scope(self):
            for task in asyncio.all_tasks(self._loop):
                coro = task.get_coro()
                try:
                    coro.close()
                except (RuntimeError, _SuspendTurn, WorkflowContextError):
                    logger.debug("workflow code resisted closing in turn of %s", task)
        self._loop.close()


_CREATED_KINDS = frozenset({"step_created", "wait_created", "hook_created"})


def _describe(event: Event) -> tuple[str, str]:
    """The (kind, name) a ``*_created`` event recorded, for determinism checks."""
    if event.type == "step_created":
        return "step", event.data.step_name
    if event.type == "wait_created":
        return "wait", "sleep"
    return "hook", "hook"
