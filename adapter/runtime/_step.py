"""One step attempt: claim it, run the user's function, record the outcome once.

Steps run at least once; their outcomes are recorded exactly once. The step's state is
read from the log (its ``step_created``, ``step_started{attempt, lease_until}``,
``step_retrying`` and final events), and every write is an append conditional on the
run's last seq: claiming an attempt, and recording its outcome. The outcome is written
together with what the workflow decides next (the next ``step_created``...), by
replaying it in the same invocation, so a sequential chain costs one query, two writes
and one message per step and never waits in the workflow queue.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..core import (
    RunState,
    StepContext,
    StepMetadata,
    StepState,
    decode_input,
    error_info,
    serde,
    step_scope,
    step_state,
)
from ..core.durations import resolve_deadline
from ..core.errors import (
    FatalError,
    NotFoundError,
    PayloadTooLargeError,
    RetryableError,
    SerializationError,
    StepBusyError,
)
from ..core.events import (
    ErrorInfo,
    Event,
    StepCompleted,
    StepCompletedData,
    StepFailed,
    StepFailedData,
    StepRetrying,
    StepRetryingData,
)
from ..core.messages import StepMessage
from ..world import RunRecord
from . import _decide as decide
from ._commit import Attempt, commit
from ._messages import step_message
from ._services import STEP_SEGMENT, Annotations, Services
from ._turn import advance

if TYPE_CHECKING:
    from ..core import StepDefinition

logger = logging.getLogger(__name__)

BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0


def backoff_delay(attempt: int) -> timedelta:
    """Delay before retrying after failed ``attempt``: 1s, 2s, 4s... capped at 5 min, +-20%."""
    base = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


@dataclass
class _Outcome:
    kind: str  # "completed" | "failed" | "retrying"
    result: Any = None
    error: ErrorInfo | None = None
    retry_at: datetime | None = None


def run_step_attempt(
    services: Services,
    message: StepMessage,
    *,
    redelivered: bool = False,
    deadline: datetime | None = None,
    client: Any = None,
) -> None:
    """Run one attempt of the step named by ``message``, if it is still due.

    Args:
        redelivered: A hint that this message was delivered before (see
            ``_decide.stale_work``).
        deadline: When the invocation running this attempt is killed (Lambda's
            timeout), if known: the attempt's lease ends just after it.
        client: What ``start()``/``get_run()`` inside the step talk to (the runtime).

    Raises:
        StepBusyError: another delivery holds the step's lease (``until`` says how
            long): deliver this message again then.
    """
    claim = _claim(services, message, deadline, redelivered)
    if claim is None:
        return
    run, step, attempt, started_at = claim
    if attempt is None:  # its invocations kept dying: fail it, visibly
        _record(services, run, step, step.attempt, _abandoned(step))
        return
    annotations: Annotations = {
        "run_id": run.run_id,
        "step_name": step.step_name,
        "attempt": attempt,
    }
    with services.trace(STEP_SEGMENT, annotations):
        outcome = _execute(services, run, step, attempt, started_at, client)
        _record(services, run, step, attempt, outcome)


def _claim(
    services: Services, message: StepMessage, deadline: datetime | None, redelivered: bool
) -> tuple[RunRecord, StepState, int | None, datetime] | None:
    """Record ``step_started`` for the next attempt; ``None`` when there is nothing to do."""
    cid = message.correlation_id

    def decider(
        run: RunRecord | None, events: list[Event], attempt: Attempt
    ) -> decide.Decision | None:
        if run is None or run.ended:
            logger.debug("step %s of run %s: the run is gone or ended", cid, message.run_id)
            return None
        # Never claim a step of a run this process cannot run (a stray message).
        services.deployments.require(run.deployment_id)
        step = step_state(events, cid)
        if step is None:
            if attempt.fresh:
                logger.warning(
                    "step message for unknown step %s of run %s dropped", cid, run.run_id
                )
            return None
        now = services.clock()
        if step.ended:
            decision = decide.Decision()
            if attempt.fresh:
                # The invocation that recorded this outcome may have died before sending
                # what it decided: send what is overdue of that decision.
                after = [e for e in events if e.seq > (step.ended_seq or 0)]
                steps, timers = decide.stale_work(
                    RunState.fold(after),
                    now,
                    services.stale_after,
                    after_seq=step.ended_seq or 0,
                    suspect=redelivered,
                )
                decision.outgoing = decide.resend(
                    run, steps, timers, now, services.dispatch.max_delay
                )
            return decision
        lease = services.lease_until(now, deadline)
        return decide.claim(run, step, now, lease, services.dispatch.max_delay)

    decision = commit(services, message.run_id, decider)
    if decision is None or not isinstance(decision.value, decide.Claim):
        return None
    claim = decision.value
    assert claim.step is not None
    if claim.action == "busy":
        raise StepBusyError(
            f"step {cid} of run {message.run_id} is running elsewhere", until=claim.until
        )
    run = services.journal.known(message.run_id)
    if claim.action == "abandon" and run is not None:
        return run, claim.step, None, services.clock()
    if claim.action != "run" or run is None or claim.started_at is None:
        return None
    return run, claim.step, claim.attempt, claim.started_at


def _abandoned(step: StepState) -> _Outcome:
    dead = step.abandoned + 1
    logger.error(
        "step %s: its invocation ended %d times without recording an outcome; failing it",
        step.step_name,
        dead,
    )
    info = ErrorInfo(
        type="StepAbandonedError",
        message=(
            f"the invocations running step {step.step_name!r} ended {dead} times without "
            "recording an outcome (a crash, the function timeout, or out of memory?)"
        ),
        step_name=step.step_name,
        attempt=step.attempt,
    )
    return _Outcome("failed", error=info)


def _record(
    services: Services, run: RunRecord, step: StepState, attempt: int, outcome: _Outcome
) -> None:
    """Record the attempt's outcome once, with the workflow's next decision."""
    cid = step.correlation_id

    def outcome_event(fresh: RunRecord, events: list[Event]) -> Event | None:
        latest = step_state(events, cid)
        if latest is None or latest.status != "running" or latest.attempt != attempt:
            logger.info(
                "step %s of run %s moved on; this attempt's outcome is dropped", cid, run.run_id
            )
            return None
        common: dict[str, Any] = {
            "run_id": fresh.run_id,
            "seq": fresh.last_seq + 1,
            "correlation_id": cid,
            "created_at": services.clock(),
        }
        if outcome.kind == "completed":
            data = StepCompletedData(result=outcome.result, attempt=attempt)
            return StepCompleted(**common, data=data)
        if outcome.kind == "failed":
            assert outcome.error is not None
            return StepFailed(**common, data=StepFailedData(error=outcome.error))
        assert outcome.retry_at is not None
        data_r = StepRetryingData(retry_after=outcome.retry_at, error=outcome.error)
        return StepRetrying(**common, data=data_r)

    try:
        if outcome.kind != "retrying":
            advance(services, run.run_id, lead=outcome_event)
            return
        _record_retry(services, run.run_id, cid, outcome, outcome_event)
    except PayloadTooLargeError as exc:
        if outcome.kind == "failed" and outcome.error and outcome.error.type == type(exc).__name__:
            raise
        # The same value would be too large on every attempt: the step fails for good
        # (once), rather than running again and again.
        logger.error("step %s of run %s: %s", step.step_name, run.run_id, exc)
        failed = _Outcome("failed", error=_error(exc, step.step_name, attempt, fatal=True))
        _record(services, run, step, attempt, failed)


def _record_retry(
    services: Services,
    run_id: str,
    cid: str,
    outcome: _Outcome,
    outcome_event: Any,
) -> None:
    def decider(
        fresh: RunRecord | None, events: list[Event], attempt: Attempt
    ) -> decide.Decision | None:
        if fresh is None or fresh.ended:
            return None
        event = outcome_event(fresh, events)
        if event is None:
            return None
        decision = decide.Decision()
        decision.batch.add([event])
        assert outcome.retry_at is not None
        delay = services.dispatch.delay_seconds(outcome.retry_at)
        decision.outgoing.append(step_message(fresh, cid, delay))
        return decision

    commit(services, run_id, decider, fresh=True)


def _execute(
    services: Services,
    run: RunRecord,
    step: StepState,
    attempt: int,
    started_at: datetime,
    client: Any,
) -> _Outcome:
    name = step.step_name
    try:
        definition = services.deployments.require(run.deployment_id).get_step(name)
    except NotFoundError as exc:  # checked when claiming: the step is not in that code
        return _failed(exc, name, attempt, fatal=True)
    context = StepContext(
        run_id=run.run_id,
        correlation_id=step.correlation_id,
        metadata=StepMetadata(
            step_name=name,
            step_id=f"{run.run_id}:{step.correlation_id}",
            attempt=attempt,
            started_at=started_at,
        ),
        deployment_id=run.deployment_id,
        client=client,
    )
    logger.info(
        "running step %s (attempt %d) of run %s",
        name,
        attempt,
        run.run_id,
        extra={"run_id": run.run_id, "step": name, "attempt": attempt},
    )
    try:
        args, kwargs = decode_input(step.input)
        value = _call(definition, args, kwargs, context)
        return _Outcome(
            "completed", result=serde.to_json(value, what=f"the result of step {name!r}")
        )
    except FatalError as exc:
        return _failed(exc, name, attempt, fatal=True)
    except (SerializationError, PayloadTooLargeError) as exc:
        # The same value would fail again: retrying cannot help.
        return _failed(exc, name, attempt, fatal=False)
    except Exception as exc:
        # Only attempts that raised count against max_retries: one whose invocation
        # died (a crash, an outage while recording) was no failure of the step.
        failures = step.failures + 1
        if failures > definition.max_retries:
            return _failed(exc, name, attempt, fatal=False)
        retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
        now = services.clock()
        retry_at = (
            resolve_deadline(retry_after, now)
            if retry_after is not None
            else now + backoff_delay(failures)
        )
        logger.warning(
            "step %s attempt %d failed (%s: %s); retrying at %s",
            name,
            attempt,
            type(exc).__name__,
            exc,
            retry_at.isoformat(),
            extra={"run_id": run.run_id, "step": name, "attempt": attempt},
            exc_info=exc,
        )
        info = _error(exc, name, attempt)
        return _Outcome("retrying", error=info, retry_at=retry_at)


def _error(exc: BaseException, step_name: str, attempt: int, fatal: bool = False) -> ErrorInfo:
    base = error_info(exc)
    original = getattr(exc, "original_type", None) if isinstance(exc, FatalError) else None
    return base.model_copy(
        update={
            "type": original if original and original != "FatalError" else base.type,
            "step_name": step_name,
            "attempt": attempt,
            "fatal": fatal,
        }
    )


def _failed(exc: BaseException, step_name: str, attempt: int, *, fatal: bool) -> _Outcome:
    logger.warning(
        "step %s failed for good after attempt %d: %s: %s",
        step_name,
        attempt,
        type(exc).__name__,
        exc,
        exc_info=exc,
    )
    return _Outcome("failed", error=_error(exc, step_name, attempt, fatal))


def _call(
    definition: StepDefinition, args: tuple[Any, ...], kwargs: dict[str, Any], context: StepContext
) -> Any:
    """Run the step function with its context; async steps on this thread's event loop."""
    with step_scope(context):
        if not definition.is_async:
            return definition.fn(*args, **kwargs)
        if loop_running():
            return _run_in_thread(definition, args, kwargs, context)
        return _StepLoop.here().run(definition.fn(*args, **kwargs))


class _StepLoop:
    """This thread's event loop for async steps: ``asyncio.run`` without its cost.

    A new loop per step (``asyncio.run``) costs more than the cheapest step itself:
    a selector and a self-pipe made and closed each time. The loop is kept for the
    thread's next step, and what ``asyncio.run`` guarantees is kept too: tasks a step
    leaves behind are cancelled when it returns, so nothing of one step runs in the
    next. The loop is closed when its thread ends (its thread-local slot is dropped).
    """

    _here = threading.local()

    def __init__(self) -> None:
        self._runner = asyncio.Runner()

    @classmethod
    def here(cls) -> _StepLoop:
        loop: _StepLoop | None = getattr(cls._here, "loop", None)
        if loop is None:
            loop = cls._here.loop = cls()
        return loop

    def run(self, coro: Any) -> Any:
        try:
            # The caller's context (the step's scope), as asyncio.run would give it: a
            # runner otherwise runs everything in the context of its first call.
            return self._runner.run(coro, context=contextvars.copy_context())
        finally:
            self._cancel_left_over()

    def _cancel_left_over(self) -> None:
        loop = self._runner.get_loop()
        left = [task for task in asyncio.all_tasks(loop) if not task.done()]
        if left:
            for task in left:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))

    def __del__(self) -> None:
        self._runner.close()


def loop_running() -> bool:
    """Whether this thread is running an asyncio event loop right now."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _run_in_thread(
    definition: StepDefinition, args: tuple[Any, ...], kwargs: dict[str, Any], context: StepContext
) -> Any:
    # A caller that already runs an event loop in this thread (an async test, say)
    # cannot host asyncio.run: give the step a thread of its own.
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = _call(definition, args, kwargs, context)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"step-{context.correlation_id}")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
