"""One workflow turn: load the log, replay, record what is new, dispatch it."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from ..core import RunState, TurnOutcome, WorkflowTurn, error_info
from ..core.errors import NotFoundError
from ..core.events import Event
from ..core.messages import WorkflowMessage
from ..world import TERMINAL_STATUSES, RunRecord
from . import _decide as decide
from ._commit import Attempt, commit
from ._services import TURN_SEGMENT, Services

logger = logging.getLogger(__name__)

Lead = Callable[[RunRecord, list[Event]], Event | None]

PAUSE_LIMIT = timedelta(seconds=2)
"""A timer that arrives this early is waited out where it landed (SQS delays are whole
seconds: a timer is sent to arrive at most a second early, never late)."""


def run_workflow_turn(
    services: Services, message: WorkflowMessage, *, redelivered: bool = False
) -> None:
    """Advance one run as far as its log allows.

    Safe to run twice or concurrently for the same run: appends are conditional on the
    log's last seq, and a lost race reloads the log and decides again.

    Args:
        redelivered: A hint that the message was delivered before: an earlier turn may
            have recorded work and died before sending its messages. Whether or not it
            is set, work whose message is overdue is sent again when a turn finds
            nothing new to record (see ``_decide.stale_work``).
    """
    if message.resume_at is not None and not _timer_due(services, message):
        return
    advance(services, message.run_id, redelivered=redelivered)


def _timer_due(services: Services, message: WorkflowMessage) -> bool:
    """Whether a timer message is due now; if not, pass it on (or drop it)."""
    assert message.resume_at is not None
    now = services.clock()
    if message.resume_at <= now:
        return True
    if message.resume_at - now <= PAUSE_LIMIT:
        services.pause_until(message.resume_at)
        return True
    # A hop: SQS delays stop at 15 minutes. Only for a run that still waits.
    run = services.journal.known(message.run_id) or services.world.get_run(message.run_id)
    if run is None or run.ended:
        logger.info(
            "timer %s of run %s dropped: the run is %s",
            message.timer,
            message.run_id,
            "unknown" if run is None else run.status,
        )
        return False
    services.dispatch.send(
        services.dispatch.timer(
            message.run_id, message.deployment_id, message.timer, message.resume_at
        )
    )
    return False


def advance(
    services: Services, run_id: str, *, redelivered: bool = False, lead: Lead | None = None
) -> None:
    """Replay the run, record what is new and dispatch it, retrying lost races.

    Args:
        redelivered: See :func:`run_workflow_turn`.
        lead: Builds an event to record first, in the same write, from the fresh run
            and log (a step attempt's outcome), or returns ``None`` when it must not be
            recorded any more (someone else moved the step on). The decision that
            follows is made with that event already in the log.
    """
    with services.trace(TURN_SEGMENT, {"run_id": run_id}):
        while True:
            decider = functools.partial(_decide_turn, services, lead=lead, redelivered=redelivered)
            decision = commit(services, run_id, decider)
            if decision is None or not decision.records:
                return
            if isinstance(decision.value, TurnOutcome):
                _log_outcome(run_id, decision.value)
            if not decision.again:
                return
            lead, redelivered = None, False  # recorded; replay again for what it unblocked


def _decide_turn(
    services: Services,
    run: RunRecord | None,
    events: list[Event],
    attempt: Attempt,
    *,
    lead: Lead | None,
    redelivered: bool,
) -> decide.Decision | None:
    if run is None:
        if attempt.fresh:
            logger.warning("message for unknown run dropped")
        return None
    if run.ended:
        return None
    leading: list[Event] = []
    if lead is not None:
        first = lead(run, events)
        if first is None:
            return None
        leading = [first]
    seen = replace(run, last_seq=run.last_seq + len(leading))
    log = events + leading
    now = services.clock()
    outcome, live = _replay(services, seen, log, now)
    # A finished workflow needs no fold: what it holds is in its outcome.
    state = live.state if live is not None else RunState()
    decision = decide.turn(
        seen, outcome, state, attempt.conflicts, now, services.dispatch.max_delay
    )
    decide.with_leading(decision, leading)
    if live is not None:
        decision.settle = _keeper(services, run.run_id, live, decision)
    if decision.records:
        decision.value = outcome
        if redelivered:
            # An earlier delivery may have recorded part of this (a turn written in
            # several transactions) and died before sending anything: whatever no
            # attempt took yet is sent again, due or not.
            _add_stale(services, seen, state, decision, now, suspect=True)
    elif attempt.fresh:
        _add_stale(services, seen, state, decision, now, suspect=redelivered)
    return decision


def _add_stale(
    services: Services,
    run: RunRecord,
    state: RunState,
    decision: decide.Decision,
    now: datetime,
    *,
    suspect: bool,
) -> None:
    steps, timers = decide.stale_work(state, now, services.stale_after, suspect=suspect)
    if steps or timers:
        logger.info(
            "run %s: sending again %d overdue message(s) (lost to a crash?)",
            run.run_id,
            len(steps) + len(timers),
        )
        decision.outgoing += decide.resend(run, steps, timers, now, services.dispatch.max_delay)


def _keeper(
    services: Services, run_id: str, turn: WorkflowTurn, decision: decide.Decision
) -> Callable[[bool], None]:
    """Keep the suspended turn for the run's next message once what it saw is the log."""

    def settle(committed: bool) -> None:
        update = decision.batch.run_update
        if committed and not (update is not None and update.status in TERMINAL_STATUSES):
            services.live_turns.keep(run_id, turn)
        else:
            turn.close()

    return settle


def _replay(
    services: Services, run: RunRecord, events: list[Event], now: datetime
) -> tuple[TurnOutcome, WorkflowTurn | None]:
    """The outcome of the log so far, and the turn if its workflow is still suspended."""
    # A run pinned to a version not served here is not this code's to replay: that
    # raises DeploymentNotFoundError (the message is stray, or must go elsewhere).
    registry = services.deployments.require(run.deployment_id)
    try:
        definition = registry.get_workflow(run.workflow_name)
    except NotFoundError as exc:
        return TurnOutcome("failed", error=error_info(exc)), None
    turn = services.live_turns.take(run.run_id, events, definition)
    if turn is None:
        started_at = now if run.status == "pending" else None  # run_started gets this time
        turn = WorkflowTurn(
            definition, events, webhook_base_url=services.api_url, started_at=started_at
        )
    try:
        outcome = turn.advance(events[len(turn.delivered) :])
    except BaseException:
        turn.close()
        raise
    if outcome.status != "suspended":
        turn.close()
        return outcome, None
    return outcome, turn


def _log_outcome(run_id: str, outcome: TurnOutcome) -> None:
    extra = {"run_id": run_id}
    if outcome.status == "suspended":
        logger.info(
            "run %s: recorded %d new command(s)", run_id, len(outcome.commands), extra=extra
        )
    elif outcome.status == "completed":
        logger.info("run %s completed", run_id, extra=extra)
    else:
        assert outcome.error is not None
        logger.warning(
            "run %s failed: %s: %s", run_id, outcome.error.type, outcome.error.message, extra=extra
        )
