"""Intents from outside a run's own messages: end it, deliver a hook payload, wake a
sleep, mark it stuck, bring a stuck or failed run back, and redrive dead letters."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any, Literal

from ..core import RunState, check_token, serde
from ..core.errors import (
    ConflictError,
    HookNotFoundError,
    InvalidHookTokenError,
    NotRetryableError,
    RunNotFoundError,
    UnreadableHistoryError,
)
from ..core.events import ErrorInfo, Event, RunResumed, RunResumedData
from ..core.messages import parse_message
from ..world import RunRecord, RunUpdate, StuckMark
from . import _decide as decide
from ._commit import Attempt, commit
from ._journal import MAX_CONFLICT_RETRIES
from ._messages import step_message, workflow_message
from ._services import Services

logger = logging.getLogger(__name__)

RECOVERABLE = frozenset({"delivery", "unreadable", "deployment"})
"""Kinds of failure the runtime gives a run (not its code): ``retry`` may reopen them."""


def end(
    services: Services,
    run_id: str,
    status: Literal["cancelled", "failed"],
    error: ErrorInfo | None,
) -> bool:
    """Record ``run_cancelled``/``run_failed`` unless the run ended; release its hooks.

    Works on a run whose history is partly unreadable: it is ended from what can be
    read (a hook whose creation cannot be read keeps its token item, which resumes
    nothing once the run ended).

    Returns:
        Whether this call ended the run.

    Raises:
        RunNotFoundError: no such run.
    """

    decider = _while_open(
        run_id, lambda run, state: decide.end(run, state, status, error, services.clock())
    )

    try:
        decision = commit(services, run_id, decider, fresh=True)
    except UnreadableHistoryError:
        decision = commit(
            services,
            run_id,
            decider,
            fresh=True,
            read=lambda rid, _fresh: services.journal.readable(rid),
        )
    if decision is None or not decision.records:
        return False
    services.live_turns.discard(run_id)
    logger.info("run %s %s", run_id, status, extra={"run_id": run_id})
    return True


def _while_open(
    run_id: str, then: Callable[[RunRecord, RunState], decide.Decision]
) -> Callable[[RunRecord | None, list[Event], Attempt], decide.Decision | None]:
    """A decider that applies ``then`` to a run that has not ended (nothing once it has)."""

    def decider(run: RunRecord | None, events: list[Event], _: Attempt) -> decide.Decision | None:
        if run is None:
            raise RunNotFoundError(run_id)
        if run.ended:
            return None
        return then(run, RunState.fold(events))

    return decider


def fail_unreadable(services: Services, run_id: str, exc: UnreadableHistoryError) -> None:
    """A run whose history cannot be read cannot be replayed: fail it with the reason."""
    logger.error("run %s cannot be replayed: %s; failing it", run_id, exc, extra={"run_id": run_id})
    info = ErrorInfo(
        type="UnreadableHistoryError",
        message=(
            f"{exc}. The run cannot be replayed. If the object can be restored, restore it "
            f"and run `adapter runs retry {run_id}`."
        ),
        kind="unreadable",
    )
    end(services, run_id, "failed", info)


def mark_stuck(services: Services, run_id: str, reason: str, kind: str = "delivery") -> None:
    """Mark the run stuck (visible in ``runs ls --status stuck``), unless it ended."""
    run = services.world.get_run(run_id)
    if run is None or run.ended:
        return
    services.world.mark_stuck(run_id, StuckMark(reason=reason, since=services.clock(), kind=kind))
    services.journal.forget(run_id)
    logger.error("run %s is stuck: %s", run_id, reason, extra={"run_id": run_id})


def delivery_id(token: str, key: str) -> str:
    """The id under which one delivery (``key``) to the hook ``token`` is recorded."""
    return hashlib.sha256(f"{token}\0{key}".encode("utf-8", "surrogatepass")).hexdigest()


def resume_hook(
    services: Services,
    token: str,
    payload: Any,
    *,
    public: bool = False,
    delivery_key: str | None = None,
) -> str:
    """Record ``payload`` for the hook holding ``token``; wake its run.

    Payloads are appended one at a time under the run's seq condition, so two
    arriving together are both recorded, in the order they won. With
    ``delivery_key``, a delivery with the same key to the same token is recorded once
    (a conditional put in the same transaction as ``hook_received``): repeating it
    answers the run it was recorded for, even once the hook is gone.

    Args:
        public: Only a hook made by ``create_webhook()`` with a generated token may be
            resumed (the public ``POST /webhooks/{token}`` route).
        delivery_key: The request's idempotency key or request id.

    Raises:
        HookNotFoundError: unknown token, its run ended, or (``public``) not a webhook.
    """
    try:
        check_token(token)
    except InvalidHookTokenError:
        # No hook can hold it, so none is found (and storage is never asked).
        raise HookNotFoundError(f"no active hook has token {token!r}") from None
    delivery = delivery_id(token, delivery_key) if delivery_key is not None else None
    if delivery is not None:
        recorded = services.world.get_delivery(delivery)
        if recorded is not None:
            return recorded
    hook = services.world.get_hook(token)
    if public and (hook is None or not hook.webhook):
        # The same answer for both: the public route does not tell which tokens exist.
        raise HookNotFoundError(f"no active webhook has token {token!r}")
    if hook is None:
        raise HookNotFoundError(f"no active hook has token {token!r}")
    tree = serde.to_json(payload, what="the hook payload")

    def decider(run: RunRecord | None, events: list[Event], _: Attempt) -> decide.Decision:
        if run is None or run.ended:
            raise HookNotFoundError(f"the run of hook {token!r} has ended; the hook is disposed")
        return decide.hook_payload(run, hook.correlation_id, tree, services.clock())

    for _ in range(MAX_CONFLICT_RETRIES):
        try:
            # The run item is enough to append after: no log read.
            run = services.world.get_run(hook.run_id)
            decision = decider(run, [], Attempt(fresh=True))
            assert run is not None
            decision.batch.delivery = delivery
            services.journal.append(run.run_id, run.last_seq, decision.batch)
        except ConflictError as exc:
            if exc.reason == "delivery" and delivery is not None:
                recorded = services.world.get_delivery(delivery)
                if recorded is not None:
                    return recorded  # the same delivery won meanwhile
            continue
        for out in decision.outgoing:
            services.dispatch.send_or_leave_to_sweep(out)
        return run.run_id
    raise ConflictError(f"could not resume hook {token!r}: too much contention")


def wake(services: Services, run_id: str, correlation_id: str | None = None) -> list[str]:
    """Complete the run's pending sleeps now (``correlation_id``: only that one).

    The wake is recorded as ``wait_completed``, as if the timer had fired; the late
    timer message finds nothing to do. For development and operations (``adapter runs
    wake``).

    Returns:
        The correlation ids of the sleeps woken.

    Raises:
        RunNotFoundError: no such run.
    """

    decider = _while_open(
        run_id, lambda run, state: decide.wake(run, state, services.clock(), correlation_id)
    )

    decision = commit(services, run_id, decider, fresh=True)
    woken: list[str] = decision.value if decision is not None and decision.value else []
    if woken:
        logger.info("run %s: woke %s", run_id, ", ".join(woken), extra={"run_id": run_id})
    return woken


def retry(services: Services, run_id: str) -> str:
    """Bring back a stuck run, or one failed by the runtime rather than by its code.

    A stuck run's mark is cleared and its open work sent again. A run failed by the
    runtime (its messages kept failing, its history could not be read, its deployment
    was gone) is reopened with ``run_resumed`` and replayed from its log.

    Returns:
        What was done: ``"resumed"`` or ``"reopened"``.

    Raises:
        RunNotFoundError: no such run.
        NotRetryableError: the run completed, was cancelled, or failed in its own
            code (replaying would only fail the same way).
    """
    run, events = services.journal.history(run_id)
    if run is None:
        raise RunNotFoundError(run_id)
    state = RunState.fold(events)
    if not run.ended:
        if run.stuck is not None:
            services.world.mark_stuck(run_id, None)
            services.journal.forget(run_id)
        _send_open_work(services, run, state)
        return "resumed"
    error = run.error
    if run.status != "failed" or error is None or error.kind not in RECOVERABLE:
        why = (
            f"it {run.status}"
            if run.status != "failed"
            else f"it failed in its own code ({error.type if error else 'error'}: "
            f"{error.message if error else ''}); replaying would fail the same way: start "
            "a new run"
        )
        raise NotRetryableError(f"run {run_id} cannot be retried: {why}")

    def decider(fresh: RunRecord | None, log: list[Event], _: Attempt) -> decide.Decision | None:
        if fresh is None or fresh.status != "failed":
            return None
        decision = decide.Decision()
        now = services.clock()
        data = RunResumedData(reason=f"retried after: {error.type}: {error.message}"[:2000])
        decision.batch.add(
            [RunResumed(run_id=run_id, seq=fresh.last_seq + 1, created_at=now, data=data)]
        )
        decision.batch.run_update = RunUpdate(status="running", reopen=True)
        decision.outgoing.append(workflow_message(fresh))
        return decision

    decision = commit(services, run_id, decider, fresh=True)
    if decision is None or not decision.records:
        raise NotRetryableError(f"run {run_id} changed while retrying it; look again")
    logger.info("run %s reopened", run_id, extra={"run_id": run_id})
    reopened, log = services.journal.history(run_id)
    if reopened is not None:
        _send_open_work(services, reopened, RunState.fold(log))
    return "reopened"


def _send_open_work(services: Services, run: RunRecord, state: RunState) -> None:
    """A message for every piece of open work: whichever were lost, none is missing now
    (duplicates are harmless: every handler is idempotent)."""
    out = [workflow_message(run)]
    out += [step_message(run, s.correlation_id) for s in state.open_steps()]
    out += [
        services.dispatch.timer(run.run_id, run.deployment_id, w.correlation_id, w.resume_at)
        for w in state.open_waits()
    ]
    services.dispatch.send(*out)


def redrive(services: Services, limit: int | None = None) -> dict[str, int]:
    """Move dead-lettered messages back to their queues (at most ``limit`` per queue).

    The stuck marks of their runs are cleared: the runs are back on the normal path,
    and marked again if their messages keep failing.

    Returns:
        How many messages moved, by queue (``"workflow"``, ``"step"``).
    """
    moved: dict[str, int] = {}
    runs: set[str] = set()
    for kind in ("workflow", "step"):
        bodies = services.world.redrive(kind, limit)
        moved[kind] = len(bodies)
        for body in bodies:
            try:
                runs.add(parse_message(body).run_id)
            except ValueError:
                logger.warning("redriven %s message is not one of ours: %.200s", kind, body)
    for run_id in sorted(runs):
        run = services.world.get_run(run_id)
        if run is not None and run.stuck is not None:
            services.world.mark_stuck(run_id, None)
            services.journal.forget(run_id)
    if moved["workflow"] or moved["step"]:
        logger.info("redrove %(workflow)d workflow and %(step)d step message(s)", moved)
    return moved
