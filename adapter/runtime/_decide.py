"""Decisions: from a run's record, its folded log and an intent, the writes and messages.

Pure functions: no storage, no queues, no clock of their own. Each intent (advance the
workflow, claim a step, record an attempt's outcome, end the run, deliver a hook
payload, wake a sleep, reopen a run) is decided here from what the log says, and the
result, a :class:`Decision`, is committed by :func:`adapter.runtime._commit.commit`,
which retries the decision when another writer got there first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from ..core import CreateHook, RunState, ScheduleStep, StartTimer, StepState, TurnOutcome
from ..core.events import (
    ErrorInfo,
    Event,
    HookCreated,
    HookCreatedData,
    HookDisposed,
    HookReceived,
    HookReceivedData,
    RunCancelled,
    RunCompleted,
    RunCompletedData,
    RunFailed,
    RunFailedData,
    RunStarted,
    StepCreated,
    StepCreatedData,
    StepStarted,
    StepStartedData,
    WaitCompleted,
    WaitCreated,
    WaitCreatedData,
)
from ..world import (
    AppendBatch,
    HookRecord,
    HookWrite,
    IdleMark,
    Outgoing,
    RunRecord,
    RunUpdate,
    Unit,
)
from ._messages import delay_until, step_message, timer_message, workflow_message

MAX_ABANDONED_ATTEMPTS = 5
"""A step whose invocation died this many times without recording anything (a crash,
a timeout, running out of memory) fails for good: retrying it forever would leave its
run running forever."""


@dataclass
class Decision:
    """What to record (``batch``) and send (``outgoing``) for one intent.

    Attributes:
        again: The recorded events unblock workflow code: decide once more.
        value: What the intent's caller gets back (a claimed attempt, a lease...).
        settle: Called once the decision is committed (``True``) or dropped.
    """

    batch: AppendBatch = field(default_factory=AppendBatch)
    outgoing: list[Outgoing] = field(default_factory=list)
    again: bool = False
    value: Any = None
    settle: Callable[[bool], None] | None = None

    @property
    def records(self) -> bool:
        """Whether there is anything to append."""
        return bool(self.batch.units)


class _Seqs:
    """The seqs of the events one decision appends, from the run's last one."""

    def __init__(self, last: int) -> None:
        self.last = last

    def __call__(self) -> int:
        self.last += 1
        return self.last


# --- a workflow turn ----------------------------------------------------------------------


def turn(
    run: RunRecord,
    outcome: TurnOutcome,
    state: RunState,
    conflicts: set[str],
    now: datetime,
    max_delay: int,
) -> Decision:
    """The events, item changes and messages a turn's outcome calls for.

    Args:
        run: The run as the log stands before this turn's events.
        outcome: What the replay engine decided.
        state: The folded log the outcome was decided from.
        conflicts: Tokens another run holds (learned from a lost append).
    """
    decision = Decision()
    batch = decision.batch
    seqs = _Seqs(run.last_seq)
    started_at = None
    if run.status == "pending":
        started_at = now
        batch.add([RunStarted(run_id=run.run_id, seq=seqs(), created_at=now)])
    if outcome.status == "suspended":
        holders = {h.token: h for h in state.token_holders()}
        claimed: dict[str, str] = {}  # token -> correlation id, by this turn
        for command in outcome.commands:
            cid = command.correlation_id
            if isinstance(command, ScheduleStep):
                data = StepCreatedData(step_name=command.step_name, input=command.input)
                batch.add(
                    [
                        StepCreated(
                            run_id=run.run_id,
                            seq=seqs(),
                            correlation_id=cid,
                            created_at=now,
                            data=data,
                        )
                    ]
                )
                decision.outgoing.append(step_message(run, cid))
            elif isinstance(command, StartTimer):
                data_w = WaitCreatedData(resume_at=command.resume_at)
                batch.add(
                    [
                        WaitCreated(
                            run_id=run.run_id,
                            seq=seqs(),
                            correlation_id=cid,
                            created_at=now,
                            data=data_w,
                        )
                    ]
                )
                decision.outgoing.append(
                    timer_message(
                        run.run_id, run.deployment_id, cid, command.resume_at, now, max_delay
                    )
                )
            elif isinstance(command, CreateHook):
                conflict = _hook(decision, run, command, holders, claimed, conflicts, seqs, now)
                decision.again = decision.again or conflict  # the awaiting code fails next
        for cid, resume_at in outcome.timers:
            if resume_at <= now:
                batch.add(
                    [
                        WaitCompleted(
                            run_id=run.run_id, seq=seqs(), correlation_id=cid, created_at=now
                        )
                    ]
                )
                decision.again = True
        if started_at:
            batch.run_update = RunUpdate(status="running", started_at=started_at)
        if not decision.again:
            batch.idle = idle_mark(outcome, now)
        return decision
    if outcome.status == "completed":
        batch.add(
            [
                RunCompleted(
                    run_id=run.run_id,
                    seq=seqs(),
                    created_at=now,
                    data=RunCompletedData(output=outcome.output),
                )
            ]
        )
        batch.run_update = RunUpdate(
            status="completed",
            started_at=started_at,
            completed_at=now,
            output=outcome.output,
            has_output=True,
        )
    else:
        assert outcome.error is not None
        batch.add(
            [
                RunFailed(
                    run_id=run.run_id,
                    seq=seqs(),
                    created_at=now,
                    data=RunFailedData(error=outcome.error),
                )
            ]
        )
        batch.run_update = RunUpdate(
            status="failed", started_at=started_at, completed_at=now, error=outcome.error
        )
    _dispose(decision, run, outcome.hooks, seqs, now)
    return decision


def _hook(
    decision: Decision,
    run: RunRecord,
    command: CreateHook,
    holders: dict[str, Any],
    claimed: dict[str, str],
    conflicts: set[str],
    seqs: _Seqs,
    now: datetime,
) -> bool:
    """Record one new hook; return whether it conflicts (its awaiting code then fails).

    A token belongs to one live hook. Another running run holding it is a conflict. A
    hook of this same run holding it hands it over once it has received a payload
    (the "ask again" pattern: the same approval token in a loop, or an inline child
    used twice): that hook is disposed in the same write. One that has received
    nothing yet is still waited on: two live hooks cannot share a token.
    """
    token, cid = command.token, command.correlation_id
    previous = holders.get(token)
    conflict: str | None = None
    if token in conflicts:
        conflict = f"hook token {token!r} is already held by another running run"
    elif token in claimed:
        conflict = (
            f"hook token {token!r} is already held by hook {claimed[token]} of this run, "
            "created in the same turn"
        )
    elif previous is not None and previous.payloads == 0:
        conflict = (
            f"hook token {token!r} is already held by hook {previous.correlation_id} of this "
            "run, which has not received a payload yet"
        )
    elif previous is not None:
        decision.batch.add(
            [
                HookDisposed(
                    run_id=run.run_id,
                    seq=seqs(),
                    correlation_id=previous.correlation_id,
                    created_at=now,
                )
            ]
        )
    data = HookCreatedData(
        token=token, metadata=command.metadata, conflict=conflict, webhook=command.webhook
    )
    record = HookRecord(token, run.run_id, cid, run.deployment_id, webhook=command.webhook)
    hooks = [] if conflict else [HookWrite(record)]
    if conflict is None:
        claimed[token] = cid
    decision.batch.add(
        [HookCreated(run_id=run.run_id, seq=seqs(), correlation_id=cid, created_at=now, data=data)],
        hooks=hooks,
    )
    return conflict is not None


def idle_mark(outcome: TurnOutcome, now: datetime) -> IdleMark | None:
    """The idle mark of a suspended run with no step in flight: when it wakes itself."""
    if outcome.in_flight or any(isinstance(c, ScheduleStep) for c in outcome.commands):
        return None
    moments = [at for _, at in outcome.timers if at > now]
    moments += [c.resume_at for c in outcome.commands if isinstance(c, StartTimer)]
    return IdleMark(until=min(moments) if moments else None)


def _dispose(
    decision: Decision,
    run: RunRecord,
    hooks: list[tuple[str, str]],
    seqs: _Seqs,
    now: datetime,
) -> None:
    """``hook_disposed`` for each hook of a run that ended, releasing each token once."""
    released: set[str] = set()
    for cid, token in hooks:
        writes = []
        if token not in released:
            released.add(token)
            record = HookRecord(token, run.run_id, cid, run.deployment_id)
            writes.append(HookWrite(record, delete=True))
        decision.batch.add(
            [HookDisposed(run_id=run.run_id, seq=seqs(), correlation_id=cid, created_at=now)],
            hooks=writes,
        )


# --- ending, reopening ----------------------------------------------------------------------


def end(
    run: RunRecord,
    state: RunState,
    status: Literal["cancelled", "failed"],
    error: ErrorInfo | None,
    now: datetime,
) -> Decision:
    """Cancel or fail a run that has not ended: the event, the item, its hooks released."""
    decision = Decision()
    seqs = _Seqs(run.last_seq)
    decision.batch.run_update = RunUpdate(status=status, completed_at=now, error=error)
    if error is None:
        decision.batch.add([RunCancelled(run_id=run.run_id, seq=seqs(), created_at=now)])
    else:
        data = RunFailedData(error=error)
        decision.batch.add([RunFailed(run_id=run.run_id, seq=seqs(), created_at=now, data=data)])
    holders = [(h.correlation_id, h.token) for h in state.token_holders()]
    _dispose(decision, run, holders, seqs, now)
    return decision


# --- hooks and sleeps from outside -----------------------------------------------------------


def hook_payload(run: RunRecord, correlation_id: str, payload: Any, now: datetime) -> Decision:
    """Record a payload for a hook of ``run`` and wake the run."""
    decision = Decision()
    event = HookReceived(
        run_id=run.run_id,
        seq=run.last_seq + 1,
        correlation_id=correlation_id,
        created_at=now,
        data=HookReceivedData(payload=payload),
    )
    decision.batch.add([event])
    decision.outgoing.append(workflow_message(run))
    return decision


def wake(run: RunRecord, state: RunState, now: datetime, correlation_id: str | None) -> Decision:
    """Complete the run's pending sleeps now (or only ``correlation_id``), as their
    timers would have: the workflow goes on as if they had ended."""
    decision = Decision()
    seqs = _Seqs(run.last_seq)
    woken = [
        w.correlation_id
        for w in state.open_waits()
        if correlation_id is None or w.correlation_id == correlation_id
    ]
    for cid in woken:
        decision.batch.add(
            [WaitCompleted(run_id=run.run_id, seq=seqs(), correlation_id=cid, created_at=now)]
        )
    if woken:
        decision.batch.touch_run = True  # the idle mark no longer holds
        decision.outgoing.append(workflow_message(run))
    decision.value = woken
    return decision


# --- steps ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """What a step message may do now.

    ``action`` is ``run`` (an attempt was claimed: ``attempt``), ``busy`` (another
    delivery holds the lease until ``until``), ``abandon`` (the step's invocations kept
    dying: fail it), or ``none`` (nothing to do: ended, or not due yet).
    """

    action: Literal["run", "busy", "abandon", "none"]
    step: StepState | None = None
    attempt: int = 0
    started_at: datetime | None = None
    until: datetime | None = None


def claim(
    run: RunRecord, step: StepState, now: datetime, lease_until: datetime, max_delay: int
) -> Decision:
    """Claim the next attempt of ``step`` if it is due, else say why not."""
    decision = Decision()
    if step.status == "running" and step.lease_until and step.lease_until > now:
        decision.value = Claim("busy", step, until=step.lease_until)
        return decision
    if step.status == "retrying" and step.retry_at and step.retry_at > now:
        delay = delay_until(step.retry_at, now, max_delay)
        decision.outgoing.append(step_message(run, step.correlation_id, delay))
        decision.value = Claim("none", step)
        return decision
    dead = step.abandoned + (1 if step.status == "running" else 0)
    if dead >= MAX_ABANDONED_ATTEMPTS:
        decision.value = Claim("abandon", step, attempt=step.attempt)
        return decision
    attempt = step.attempt + 1
    started = StepStarted(
        run_id=run.run_id,
        seq=run.last_seq + 1,
        correlation_id=step.correlation_id,
        created_at=now,
        data=StepStartedData(attempt=attempt, lease_until=lease_until),
    )
    decision.batch.add([started])
    decision.value = Claim("run", step, attempt=attempt, started_at=now)
    return decision


def stale_work(
    state: RunState,
    now: datetime,
    grace: timedelta,
    *,
    after_seq: int = 0,
    suspect: bool = False,
) -> tuple[list[StepState], list[tuple[str, datetime]]]:
    """Open work whose message may be lost: what to send again.

    A step created, or due for a retry, more than ``grace`` ago that no attempt took; a
    step whose attempt's lease ran out; a sleep ``grace`` past its moment. With
    ``suspect`` (this very message was delivered before, so the invocation that
    recorded the work may have died before sending anything) every step no attempt
    took and every sleep counts, due or not. Only work recorded after ``after_seq``
    counts (what one decision recorded, say).
    """
    if suspect:
        grace = timedelta(0)
    steps = [
        s
        for s in state.open_steps()
        if s.created_seq > after_seq
        and (
            (s.status == "created" and s.created_at + grace <= now)
            or (s.status == "retrying" and s.retry_at is not None and s.retry_at + grace <= now)
            or (s.status == "running" and s.lease_until is not None and s.lease_until <= now)
        )
    ]
    timers = [
        (w.correlation_id, w.resume_at)
        for w in state.open_waits()
        if w.created_seq > after_seq and (suspect or w.resume_at + grace <= now)
    ]
    return steps, timers


def resend(
    run: RunRecord,
    steps: list[StepState],
    timers: list[tuple[str, datetime]],
    now: datetime,
    max_delay: int,
) -> list[Outgoing]:
    """The messages of these steps and sleeps, sent again."""
    out = [step_message(run, s.correlation_id) for s in steps]
    out += [
        timer_message(run.run_id, run.deployment_id, cid, at, now, max_delay) for cid, at in timers
    ]
    return out


def with_leading(decision: Decision, leading: list[Event]) -> Decision:
    """``decision`` with ``leading`` recorded first, in the same write."""
    if leading:
        decision.batch = replace(decision.batch, units=[Unit(leading), *decision.batch.units])
    return decision
