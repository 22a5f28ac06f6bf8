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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..core import StepContext, StepMetadata, decode_input, error_info, serde, step_scope
from ..core.durations import resolve_deadline
from ..core.errors import (
    ConflictError,
    FatalError,
    NotFoundError,
    RetryableError,
    SerializationError,
)
from ..core.events import (
    ErrorInfo,
    Event,
    StepCompleted,
    StepCompletedData,
    StepCreated,
    StepFailed,
    StepFailedData,
    StepRetrying,
    StepRetryingData,
    StepStarted,
    StepStartedData,
    WaitCreated,
)
from ..core.messages import StepMessage
from ..world import AppendBatch, RunRecord
from ._runtime import MAX_CONFLICT_RETRIES
from ._turn import advance, resend

if TYPE_CHECKING:
    from ..core import StepDefinition
    from ._runtime import Runtime

logger = logging.getLogger(__name__)

BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0


class StepBusyError(Exception):
    """Another delivery holds the step's lease: try this message again later."""


def backoff_delay(attempt: int) -> timedelta:
    """Delay before retrying after failed ``attempt``: 1s, 2s, 4s... capped at 5 min, +-20%."""
    base = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


@dataclass(frozen=True)
class StepView:
    """A step's state, folded from its events in the log."""

    correlation_id: str
    step_name: str
    input: Any
    state: str = "created"  # created | running | retrying | completed | failed
    attempt: int = 0
    lease_until: datetime | None = None
    retry_at: datetime | None = None


def step_view(events: list[Event], correlation_id: str) -> StepView | None:
    """The state of step ``correlation_id`` by the log, or ``None`` if never created."""
    # Everything about a step follows its step_created: walk back to it, so a step
    # costs the events since it was created, not the whole log.
    mine: list[Event] = []
    for event in reversed(events):
        if event.correlation_id == correlation_id:
            mine.append(event)
            if event.type == "step_created":
                break
    else:
        return None
    view: StepView | None = None
    for event in reversed(mine):
        if event.type == "step_created":
            view = StepView(correlation_id, event.data.step_name, event.data.input)
        elif view is None:
            continue
        elif event.type == "step_started":
            view = replace(
                view,
                state="running",
                attempt=event.data.attempt,
                lease_until=event.data.lease_until,
            )
        elif event.type == "step_retrying":
            view = replace(
                view, state="retrying", retry_at=event.data.retry_after, lease_until=None
            )
        elif event.type == "step_completed":
            view = replace(view, state="completed")
        elif event.type == "step_failed":
            view = replace(view, state="failed")
    return view


@dataclass
class _Outcome:
    kind: str  # "completed" | "failed" | "retrying"
    result: Any = None
    error: ErrorInfo | None = None
    retry_at: datetime | None = None


def run_step_attempt(rt: Runtime, message: StepMessage, *, receive_count: int = 1) -> None:
    """Run one attempt of the step named by ``message``, if it is still due."""
    claimed = _claim(rt, message, receive_count)
    if claimed is None:
        return
    run, step, started_at = claimed
    outcome = _execute(rt, run, step, started_at)
    _record(rt, run, step, outcome)


def _claim(
    rt: Runtime, message: StepMessage, receive_count: int
) -> tuple[RunRecord, StepView, datetime] | None:
    """Record ``step_started`` for the next attempt; ``None`` when there is nothing to do."""
    cid = message.correlation_id
    fresh = False  # claim from what this process last saw; the append proves it current
    for _ in range(MAX_CONFLICT_RETRIES * 2):
        run, events = rt.history(message.run_id, fresh=fresh)
        step = step_view(events, cid) if run is not None else None
        claimable = run is not None and not run.ended and step is not None
        if not fresh and not (
            claimable and step is not None and step.state in ("created", "retrying", "running")
        ):
            fresh = True  # anything but a claim is decided on a real read
            continue
        if run is None or run.ended:
            logger.debug("step %s of run %s: the run is gone or ended", cid, message.run_id)
            return None
        if step is None:
            logger.warning("step message for unknown step %s of run %s dropped", cid, run.run_id)
            return None
        now = rt.clock()
        if not fresh and (
            (step.state == "running" and step.lease_until and step.lease_until > now)
            or (step.state == "retrying" and step.retry_at and step.retry_at > now)
        ):
            fresh = True
            continue
        if step.state in ("completed", "failed"):
            if receive_count > 1:
                # Redelivered: the invocation that recorded this outcome may have died
                # before sending what it decided. Send what was decided since then.
                _resend_decided_after(rt, run, events, cid)
            return None  # a plain duplicate: the outcome is recorded, nothing to do
        if step.state == "running" and step.lease_until and step.lease_until > now:
            raise StepBusyError(f"step {cid} of run {run.run_id} is running elsewhere")
        if step.state == "retrying" and step.retry_at and step.retry_at > now:
            rt.send(rt.step_message(run, cid, rt.delay_seconds(step.retry_at, now)))
            return None
        attempt = step.attempt + 1
        started = StepStarted(
            run_id=run.run_id,
            seq=run.last_seq + 1,
            correlation_id=cid,
            created_at=now,
            data=StepStartedData(attempt=attempt, lease_until=now + rt.step_lease),
        )
        batch = AppendBatch()
        batch.add([started])
        try:
            seq = rt.append(run.run_id, run.last_seq, batch)
        except ConflictError:
            fresh = True  # someone appended first: look again
            continue
        return replace(run, last_seq=seq), replace(step, state="running", attempt=attempt), now
    raise ConflictError(f"run {message.run_id}: gave up claiming step {cid}")


def _resend_decided_after(rt: Runtime, run: RunRecord, events: list[Event], cid: str) -> None:
    """Re-send the messages of steps and timers recorded after step ``cid`` ended that
    have not started: what its invocation decided, and may not have sent. Bounded by
    that decision, not by the run's whole fan-out."""
    ended = max(
        e.seq
        for e in events
        if e.correlation_id == cid and e.type in ("step_completed", "step_failed")
    )
    later = [e for e in events if e.seq > ended]
    moved = {e.correlation_id for e in later if e.type in ("step_started", "wait_completed")}
    steps = [
        e.correlation_id
        for e in later
        if isinstance(e, StepCreated) and e.correlation_id and e.correlation_id not in moved
    ]
    timers = [
        (e.correlation_id, e.data.resume_at)
        for e in later
        if isinstance(e, WaitCreated) and e.correlation_id and e.correlation_id not in moved
    ]
    resend(rt, run, steps, timers)


def _record(rt: Runtime, run: RunRecord, step: StepView, outcome: _Outcome) -> None:
    """Record the attempt's outcome once, with the workflow's next decision."""
    cid = step.correlation_id

    def outcome_event(fresh: RunRecord, events: list[Event]) -> Event | None:
        latest = step_view(events, cid)
        if latest is None or latest.state != "running" or latest.attempt != step.attempt:
            logger.info(
                "step %s of run %s moved on; this attempt's outcome is dropped", cid, run.run_id
            )
            return None
        common: dict[str, Any] = {
            "run_id": fresh.run_id,
            "seq": fresh.last_seq + 1,
            "correlation_id": cid,
            "created_at": rt.clock(),
        }
        if outcome.kind == "completed":
            data = StepCompletedData(result=outcome.result, attempt=step.attempt)
            return StepCompleted(**common, data=data)
        if outcome.kind == "failed":
            assert outcome.error is not None
            return StepFailed(**common, data=StepFailedData(error=outcome.error))
        assert outcome.retry_at is not None
        data_r = StepRetryingData(retry_after=outcome.retry_at, error=outcome.error)
        return StepRetrying(**common, data=data_r)

    if outcome.kind != "retrying":
        advance(rt, run.run_id, lead=outcome_event)
        return
    for _ in range(MAX_CONFLICT_RETRIES):
        fresh, events = rt.history(run.run_id)
        if fresh is None or fresh.ended:
            return
        event = outcome_event(fresh, events)
        if event is None:
            return
        batch = AppendBatch()
        batch.add([event])
        try:
            rt.append(run.run_id, fresh.last_seq, batch)
        except ConflictError:
            continue
        assert outcome.retry_at is not None
        rt.send(rt.step_message(fresh, cid, rt.delay_seconds(outcome.retry_at)))
        return
    raise ConflictError(f"run {run.run_id}: gave up recording step {cid}")


def _execute(rt: Runtime, run: RunRecord, step: StepView, started_at: datetime) -> _Outcome:
    attempt = step.attempt
    try:
        definition = rt.deployments.require(run.deployment_id).get_step(step.step_name)
    except NotFoundError as exc:
        return _failed(exc, step, fatal=True)
    context = StepContext(
        run_id=run.run_id,
        correlation_id=step.correlation_id,
        metadata=StepMetadata(
            step_name=step.step_name,
            step_id=f"{run.run_id}:{step.correlation_id}",
            attempt=attempt,
            started_at=started_at,
        ),
        deployment_id=run.deployment_id,
        client=rt,
    )
    logger.info(
        "running step %s (attempt %d) of run %s",
        step.step_name,
        attempt,
        run.run_id,
        extra={"run_id": run.run_id, "step": step.step_name, "attempt": attempt},
    )
    try:
        args, kwargs = decode_input(step.input)
        value = _call(definition, args, kwargs, context)
        return _Outcome(
            "completed", result=serde.to_json(value, what=f"the result of step {step.step_name!r}")
        )
    except FatalError as exc:
        return _failed(exc, step, fatal=True)
    except SerializationError as exc:
        # The same value would fail again: retrying cannot help.
        return _failed(exc, step, fatal=False)
    except Exception as exc:
        if attempt > definition.max_retries:
            return _failed(exc, step, fatal=False)
        retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
        now = rt.clock()
        retry_at = (
            resolve_deadline(retry_after, now)
            if retry_after is not None
            else now + backoff_delay(attempt)
        )
        logger.warning(
            "step %s attempt %d failed (%s: %s); retrying at %s",
            step.step_name,
            attempt,
            type(exc).__name__,
            exc,
            retry_at.isoformat(),
            extra={"run_id": run.run_id},
        )
        info = _error(exc, step)
        return _Outcome("retrying", error=info, retry_at=retry_at)


def _error(exc: BaseException, step: StepView, fatal: bool = False) -> ErrorInfo:
    base = error_info(exc)
    original = getattr(exc, "original_type", None) if isinstance(exc, FatalError) else None
    return base.model_copy(
        update={
            "type": original if original and original != "FatalError" else base.type,
            "step_name": step.step_name,
            "attempt": step.attempt,
            "fatal": fatal,
        }
    )


def _failed(exc: BaseException, step: StepView, *, fatal: bool) -> _Outcome:
    logger.warning(
        "step %s failed for good after attempt %d: %s: %s",
        step.step_name,
        step.attempt,
        type(exc).__name__,
        exc,
    )
    return _Outcome("failed", error=_error(exc, step, fatal))


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
