"""The one fold of a run's event log: what the run, each step, wait and hook is doing.

Everything that needs to know "where is this run?" asks :class:`RunState`: the runtime
deciding whether a step may be claimed or which hooks to release, the stall checks,
the CLI's timeline and the HTTP API's ``GET /runs/{runId}/timeline``. The replay engine
delivers events to workflow code one at a time and keeps its own position, but what it
reports as still open comes from here too.

The fold is a pure function of the events (no AWS, no clock). It may be applied to a
whole log or, for one step, to that step's events only (:func:`step_state`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from .events import (
    ErrorInfo,
    Event,
    HookCreated,
    HookDisposed,
    HookReceived,
    RunCancelled,
    RunCompleted,
    RunCreated,
    RunFailed,
    RunResumed,
    RunStarted,
    StepCompleted,
    StepCreated,
    StepFailed,
    StepRetrying,
    StepStarted,
    WaitCompleted,
    WaitCreated,
)

AttemptOutcome = Literal["running", "completed", "failed", "retrying", "abandoned"]
StepStatus = Literal["created", "running", "retrying", "completed", "failed"]


@dataclass
class Attempt:
    """One attempt of a step: from its ``step_started`` to its outcome."""

    number: int
    started_at: datetime
    lease_until: datetime | None = None
    ended_at: datetime | None = None
    outcome: AttemptOutcome = "running"
    """``abandoned``: a later attempt started while this one had recorded nothing (its
    invocation died or timed out). Abandoned attempts do not count as failures."""
    error: ErrorInfo | None = None
    retry_at: datetime | None = None


@dataclass
class StepState:
    """A step of the run, folded from its events."""

    correlation_id: str
    step_name: str
    input: Any
    created_at: datetime
    created_seq: int
    status: StepStatus = "created"
    attempts: list[Attempt] = field(default_factory=list)
    result: Any = None
    error: ErrorInfo | None = None
    ended_at: datetime | None = None
    ended_seq: int | None = None

    kind = "step"

    @property
    def attempt(self) -> int:
        """The number of the latest attempt (0 before the first one started)."""
        return self.attempts[-1].number if self.attempts else 0

    @property
    def lease_until(self) -> datetime | None:
        """Until when the running attempt owns the step."""
        if self.status != "running" or not self.attempts:
            return None
        return self.attempts[-1].lease_until

    @property
    def retry_at(self) -> datetime | None:
        """When the step is due again, while it waits to be retried."""
        if self.status != "retrying" or not self.attempts:
            return None
        return self.attempts[-1].retry_at

    @property
    def failures(self) -> int:
        """Attempts that raised: what ``max_retries`` counts."""
        return sum(a.outcome in ("retrying", "failed") for a in self.attempts)

    @property
    def abandoned(self) -> int:
        """Attempts whose invocation died before recording anything."""
        return sum(a.outcome == "abandoned" for a in self.attempts)

    @property
    def ended(self) -> bool:
        return self.status in ("completed", "failed")


@dataclass
class WaitState:
    """A durable sleep (or asyncio timer) of the run."""

    correlation_id: str
    resume_at: datetime
    created_at: datetime
    created_seq: int
    completed_at: datetime | None = None

    kind = "wait"

    @property
    def ended(self) -> bool:
        return self.completed_at is not None


@dataclass
class HookState:
    """A hook of the run: its token and the payloads it received."""

    correlation_id: str
    token: str
    metadata: Any
    created_at: datetime
    created_seq: int
    conflict: str | None = None
    webhook: bool = False
    received_at: list[datetime] = field(default_factory=list)
    disposed_at: datetime | None = None

    kind = "hook"

    @property
    def payloads(self) -> int:
        return len(self.received_at)

    @property
    def holds_token(self) -> bool:
        """Whether this hook claimed its token and has not released it."""
        return self.conflict is None and self.disposed_at is None

    @property
    def ended(self) -> bool:
        return self.conflict is not None or self.disposed_at is not None


Item = StepState | WaitState | HookState


@dataclass
class ChildRun:
    """A run started from a step of this run (not in this log: read from storage)."""

    run_id: str
    workflow_name: str
    status: str
    spawned_by: str | None
    created_at: datetime
    completed_at: datetime | None = None


@dataclass
class RunState:
    """A run as its log tells it: status, output or error, and every step, wait and hook.

    Example::

        state = RunState.fold(events)
        for step in state.open_steps():
            print(step.step_name, step.status, step.attempt)
    """

    run_id: str = ""
    workflow_name: str = ""
    deployment_id: str = ""
    input: Any = None
    status: str = "pending"
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    output: Any = None
    error: ErrorInfo | None = None
    last_seq: int = 0
    steps: dict[str, StepState] = field(default_factory=dict)
    waits: dict[str, WaitState] = field(default_factory=dict)
    hooks: dict[str, HookState] = field(default_factory=dict)
    children: list[ChildRun] = field(default_factory=list)
    """Filled in by whoever reads storage (``GET /runs/{runId}/timeline``); empty here."""

    @classmethod
    def fold(cls, events: Iterable[Event]) -> RunState:
        """The state the events leave a run in."""
        state = cls()
        for event in events:
            state.apply(event)
        return state

    @property
    def ended(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    def apply(self, event: Event) -> None:
        """Move the state on by one event (events must come in seq order)."""
        self.last_seq = event.seq
        cid = event.correlation_id or ""
        at = event.created_at
        if isinstance(event, RunCreated):
            self.run_id = event.run_id
            self.workflow_name = event.data.workflow_name
            self.deployment_id = event.data.deployment_id
            self.input = event.data.input
            self.created_at = at
        elif isinstance(event, RunStarted):
            self.status, self.started_at = "running", at
        elif isinstance(event, RunCompleted):
            self.status, self.ended_at, self.output = "completed", at, event.data.output
        elif isinstance(event, RunFailed):
            self.status, self.ended_at, self.error = "failed", at, event.data.error
        elif isinstance(event, RunCancelled):
            self.status, self.ended_at = "cancelled", at
        elif isinstance(event, RunResumed):
            self.status, self.ended_at, self.error = "running", None, None
        elif isinstance(event, StepCreated):
            data = event.data
            self.steps[cid] = StepState(cid, data.step_name, data.input, at, event.seq)
        elif isinstance(event, WaitCreated):
            self.waits[cid] = WaitState(cid, event.data.resume_at, at, event.seq)
        elif isinstance(event, HookCreated):
            hook_data = event.data
            self.hooks[cid] = HookState(
                cid,
                hook_data.token,
                hook_data.metadata,
                at,
                event.seq,
                conflict=hook_data.conflict,
                webhook=hook_data.webhook,
            )
        elif isinstance(event, WaitCompleted):
            wait = self.waits.get(cid)
            if wait is not None and wait.completed_at is None:
                wait.completed_at = at
        elif isinstance(event, HookReceived):
            hook = self.hooks.get(cid)
            if hook is not None:
                hook.received_at.append(at)
        elif isinstance(event, HookDisposed):
            hook = self.hooks.get(cid)
            if hook is not None and hook.disposed_at is None:
                hook.disposed_at = at
        else:
            step = self.steps.get(cid)
            if step is not None:
                _apply_to_step(step, event)

    # --- what is open ------------------------------------------------------------------

    def open_steps(self) -> list[StepState]:
        """Steps created and not finished, in creation order."""
        return [s for s in self.steps.values() if not s.ended]

    def open_waits(self) -> list[WaitState]:
        """Sleeps not completed, in creation order."""
        return [w for w in self.waits.values() if not w.ended]

    def token_holders(self) -> list[HookState]:
        """Hooks holding their token (created without conflict, not disposed)."""
        return [h for h in self.hooks.values() if h.holds_token]

    def items(self) -> list[Item]:
        """Every step, wait and hook, in the order they were created."""
        every: list[Item] = [*self.steps.values(), *self.waits.values(), *self.hooks.values()]
        return sorted(every, key=lambda item: item.created_seq)


def _apply_to_step(step: StepState, event: Event) -> None:
    at = event.created_at
    if isinstance(event, StepStarted):
        if step.attempts and step.attempts[-1].outcome == "running":
            step.attempts[-1].outcome = "abandoned"
            step.attempts[-1].ended_at = at
        step.attempts.append(Attempt(event.data.attempt, at, event.data.lease_until))
        step.status = "running"
        return
    current = step.attempts[-1] if step.attempts else None
    if isinstance(event, StepRetrying):
        step.status = "retrying"
        if current is not None:
            current.outcome, current.ended_at = "retrying", at
            current.error, current.retry_at = event.data.error, event.data.retry_after
        return
    if isinstance(event, StepCompleted):
        step.status, step.result = "completed", event.data.result
    elif isinstance(event, StepFailed):
        step.status, step.error = "failed", event.data.error
    else:
        return
    step.ended_at, step.ended_seq = at, event.seq
    if current is not None and current.outcome == "running":
        current.outcome, current.ended_at = step.status, at
        current.error = step.error


def step_state(events: Sequence[Event], correlation_id: str) -> StepState | None:
    """The state of one step by the log, folding only that step's events.

    Everything about a step follows its ``step_created``: walking back to it costs the
    events since the step was created, not the whole log.
    """
    mine: list[Event] = []
    for event in reversed(events):
        if event.correlation_id == correlation_id:
            mine.append(event)
            if event.type == "step_created":
                break
    else:
        return None
    return RunState.fold(reversed(mine)).steps.get(correlation_id)
