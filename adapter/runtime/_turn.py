"""One workflow turn: load the log, replay, record what is new, dispatch it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from ..core import CreateHook, ScheduleStep, StartTimer, TurnOutcome, WorkflowTurn, error_info
from ..core.errors import ConflictError, NotFoundError
from ..core.events import (
    Event,
    HookCreated,
    HookCreatedData,
    HookDisposed,
    RunCompleted,
    RunCompletedData,
    RunFailed,
    RunFailedData,
    RunStarted,
    StepCreated,
    StepCreatedData,
    WaitCompleted,
    WaitCreated,
    WaitCreatedData,
)
from ..core.messages import StepMessage, WorkflowMessage
from ..world import (
    TERMINAL_STATUSES,
    AppendBatch,
    HookRecord,
    HookWrite,
    Outgoing,
    RunRecord,
    RunUpdate,
    Unit,
)
from ._runtime import MAX_CONFLICT_RETRIES

if TYPE_CHECKING:
    from ._runtime import Runtime

logger = logging.getLogger(__name__)


class _Common(TypedDict):
    """The fields every event of one turn shares."""

    run_id: str
    created_at: datetime


def run_workflow_turn(rt: Runtime, message: WorkflowMessage, *, redelivered: bool = False) -> None:
    """Advance one run as far as its log allows.

    Safe to run twice or concurrently for the same run: appends are conditional on the
    log's last seq, and a lost race reloads the log and decides again.

    Args:
        redelivered: The message was delivered before and not acknowledged, so an
            earlier turn may have recorded work and died before sending its messages:
            they are sent again (duplicates are harmless).
    """
    now = rt.clock()
    if message.resume_at is not None and message.resume_at > now:
        # A timer hop: SQS delays stop at 15 minutes, so pass the message on.
        rt.send(
            timer_message(
                rt, message.run_id, message.deployment_id, message.timer, message.resume_at
            )
        )
        return
    advance(rt, message.run_id, redelivered=redelivered)


Lead = Callable[[RunRecord, list[Event]], Event | None]


def advance(
    rt: Runtime, run_id: str, *, redelivered: bool = False, lead: Lead | None = None
) -> None:
    """Replay the run, record what is new and dispatch it, retrying lost races.

    Args:
        redelivered: See :func:`run_workflow_turn`.
        lead: Builds an event to record first, in the same write, from the fresh run
            and log (a step attempt's outcome), or returns ``None`` when it must not be
            recorded any more (someone else moved the step on). The decision that
            follows is made with that event already in the log.
    """
    conflicts: set[str] = set()
    fresh = False  # decide from what this process last saw; an append proves it current
    for _ in range(MAX_CONFLICT_RETRIES * 2):
        run, events = rt.history(run_id, fresh=fresh)
        first = None
        if run is not None and not run.ended and lead is not None:
            first = lead(run, events)
        if run is None or run.ended or (lead is not None and first is None):
            if not fresh:
                fresh = True  # nothing to do? make sure with a real read
                continue
            if run is None:
                logger.warning("message for unknown run %s dropped", run_id)
            return
        leading = [first] if first is not None else []
        seen = replace(run, last_seq=run.last_seq + len(leading))
        now = rt.clock()
        outcome, turn = _replay(rt, seen, events + leading, now)
        kept = False
        try:
            plan = _plan(rt, seen, outcome, conflicts, now)
            units = ([Unit(leading)] if leading else []) + plan.batch.units
            batch = AppendBatch(units=units, run_update=plan.batch.run_update)
            if units:
                rt.append(run_id, run.last_seq, batch)
            # What the turn saw is in the log now: keep it for the next message.
            kept = _keep(rt, run_id, turn, batch)
        except ConflictError as exc:
            _send_committed(rt, batch, plan.outgoing, exc.committed_seq, run.last_seq)
            if exc.reason == "hook" and exc.detail:
                conflicts.add(exc.detail)  # record the hook as conflicting, then retry
            logger.debug(
                "run %s: lost a race at seq %d (%s); deciding again",
                run_id,
                run.last_seq,
                exc.reason,
            )
            fresh = True
            continue
        finally:
            if turn is not None and not kept:
                turn.close()
        if not units:
            if not fresh:
                fresh = True
                continue
            if redelivered:
                _resend_open_work(rt, run, outcome)
            return
        _log_outcome(run, outcome)
        rt.send(*plan.outgoing)
        if redelivered:
            # An earlier delivery may have recorded part of this (a turn written in
            # several transactions) and died before sending anything.
            _resend_open_work(rt, run, outcome)
            redelivered = False
        if not plan.again:
            return
        lead = None  # recorded; replay once more for what it unblocked
    raise ConflictError(f"run {run_id}: gave up after {MAX_CONFLICT_RETRIES} attempts")


def _replay(
    rt: Runtime, run: RunRecord, events: list[Event], now: datetime
) -> tuple[TurnOutcome, WorkflowTurn | None]:
    """The outcome of the log so far, and the turn if its workflow is still suspended."""
    try:
        definition = rt.deployments.require(run.deployment_id).get_workflow(run.workflow_name)
    except NotFoundError as exc:
        return TurnOutcome("failed", error=error_info(exc)), None
    turn = rt.live_turns.take(run.run_id, events, definition)
    if turn is None:
        started_at = now if run.status == "pending" else None  # run_started gets this time
        turn = WorkflowTurn(definition, events, webhook_base_url=rt.api_url, started_at=started_at)
    try:
        outcome = turn.advance(events[len(turn.delivered) :])
    except BaseException:
        turn.close()
        raise
    if outcome.status != "suspended":
        turn.close()
        return outcome, None
    return outcome, turn


def _keep(rt: Runtime, run_id: str, turn: WorkflowTurn | None, batch: AppendBatch) -> bool:
    update = batch.run_update
    if turn is None or (update is not None and update.status in TERMINAL_STATUSES):
        return False
    rt.live_turns.keep(run_id, turn)
    return True


@dataclass
class _Plan:
    batch: AppendBatch = field(default_factory=AppendBatch)
    outgoing: list[Outgoing] = field(default_factory=list)
    again: bool = False  # recorded something the code reacts to: replay once more


def _plan(
    rt: Runtime, run: RunRecord, outcome: TurnOutcome, conflicts: set[str], now: datetime
) -> _Plan:
    """Turn the engine's outcome into events, item changes and messages."""
    plan = _Plan()
    seq = run.last_seq

    def next_seq() -> int:
        nonlocal seq
        seq += 1
        return seq

    started_at = None
    if run.status == "pending":
        started_at = now
        plan.batch.add([RunStarted(run_id=run.run_id, seq=next_seq(), created_at=now)])
    common: _Common = {"run_id": run.run_id, "created_at": now}
    if outcome.status == "suspended":
        for command in outcome.commands:
            cid = command.correlation_id
            if isinstance(command, ScheduleStep):
                data = StepCreatedData(step_name=command.step_name, input=command.input)
                plan.batch.add(
                    [StepCreated(**common, seq=next_seq(), correlation_id=cid, data=data)]
                )
                plan.outgoing.append(rt.step_message(run, cid))
            elif isinstance(command, StartTimer):
                data_w = WaitCreatedData(resume_at=command.resume_at)
                plan.batch.add(
                    [WaitCreated(**common, seq=next_seq(), correlation_id=cid, data=data_w)]
                )
                plan.outgoing.append(
                    timer_message(rt, run.run_id, run.deployment_id, cid, command.resume_at)
                )
            elif isinstance(command, CreateHook):
                conflict = (
                    f"hook token {command.token!r} is already held by another running run"
                    if command.token in conflicts
                    else None
                )
                data_h = HookCreatedData(
                    token=command.token, metadata=command.metadata, conflict=conflict
                )
                hooks = (
                    []
                    if conflict
                    else [HookWrite(HookRecord(command.token, run.run_id, cid, run.deployment_id))]
                )
                plan.again = plan.again or conflict is not None  # the awaiting code fails next
                plan.batch.add(
                    [HookCreated(**common, seq=next_seq(), correlation_id=cid, data=data_h)],
                    hooks=hooks,
                )
        for cid, resume_at in outcome.timers:
            if resume_at <= now:
                plan.batch.add([WaitCompleted(**common, seq=next_seq(), correlation_id=cid)])
                plan.again = True
        if started_at:
            plan.batch.run_update = RunUpdate(status="running", started_at=started_at)
        return plan
    if outcome.status == "completed":
        plan.batch.add(
            [RunCompleted(**common, seq=next_seq(), data=RunCompletedData(output=outcome.output))]
        )
        plan.batch.run_update = RunUpdate(
            status="completed",
            started_at=started_at,
            completed_at=now,
            output=outcome.output,
            has_output=True,
        )
    else:
        assert outcome.error is not None
        plan.batch.add(
            [RunFailed(**common, seq=next_seq(), data=RunFailedData(error=outcome.error))]
        )
        plan.batch.run_update = RunUpdate(
            status="failed", started_at=started_at, completed_at=now, error=outcome.error
        )
    for event, write in dispose_hooks(run, outcome.hooks, next_seq, now):
        plan.batch.add([event], hooks=[write])
    return plan


def dispose_hooks(
    run: RunRecord, hooks: list[tuple[str, str]], next_seq: Callable[[], int], now: datetime
) -> list[tuple[Event, HookWrite]]:
    """``hook_disposed`` events and token releases for a run that ended."""
    return [
        (
            HookDisposed(run_id=run.run_id, seq=next_seq(), correlation_id=cid, created_at=now),
            HookWrite(HookRecord(token, run.run_id, cid, run.deployment_id), delete=True),
        )
        for cid, token in hooks
    ]


def timer_message(
    rt: Runtime, run_id: str, deployment_id: str, timer: str | None, resume_at: datetime
) -> Outgoing:
    delay = rt.delay_seconds(resume_at)
    message = WorkflowMessage(
        run_id=run_id, deployment_id=deployment_id, timer=timer, resume_at=resume_at
    )
    return Outgoing(message, delay)


def _send_committed(
    rt: Runtime,
    batch: AppendBatch,
    outgoing: list[Outgoing],
    committed_seq: int | None,
    expected_seq: int,
) -> None:
    """A batch too big for one transaction failed after its first ones committed: what
    they recorded is in the log for good, so send its messages now. The next decision
    will not record it again, and so would never send them."""
    if committed_seq is None or committed_seq <= expected_seq:
        return
    recorded = {e.correlation_id for e in batch.events if e.seq <= committed_seq}
    due = [out for out in outgoing if _target(out) in recorded]
    if due:
        rt.send(*due)


def _target(out: Outgoing) -> str | None:
    message = out.message
    return message.correlation_id if isinstance(message, StepMessage) else message.timer


def _resend_open_work(rt: Runtime, run: RunRecord, outcome: TurnOutcome) -> None:
    """Re-send the messages an earlier, crashed turn may have recorded but not sent."""
    resend(rt, run, outcome.in_flight, outcome.timers)


def resend(
    rt: Runtime, run: RunRecord, steps: list[str], timers: list[tuple[str, datetime]]
) -> None:
    """Send again the messages of these recorded steps and timers (after a redelivery)."""
    outgoing = [rt.step_message(run, cid) for cid in steps]
    outgoing += [timer_message(rt, run.run_id, run.deployment_id, cid, at) for cid, at in timers]
    if outgoing:
        logger.info(
            "run %s: re-sending %d message(s) after a redelivery", run.run_id, len(outgoing)
        )
        rt.send(*outgoing)


def _log_outcome(run: RunRecord, outcome: TurnOutcome) -> None:
    extra = {"run_id": run.run_id, "workflow": run.workflow_name}
    if outcome.status == "suspended":
        logger.info(
            "run %s: recorded %d new command(s)", run.run_id, len(outcome.commands), extra=extra
        )
    elif outcome.status == "completed":
        logger.info("run %s completed", run.run_id, extra=extra)
    else:
        assert outcome.error is not None
        logger.warning(
            "run %s failed: %s: %s",
            run.run_id,
            outcome.error.type,
            outcome.error.message,
            extra=extra,
        )
