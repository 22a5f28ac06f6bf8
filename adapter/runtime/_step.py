"""One step attempt: claim it, run the user's function, record the outcome once.

Steps run at least once and are recorded exactly once: the attempt is claimed and the
outcome recorded by conditional writes on the step item (its state and attempt) and on
the run's last seq.
"""

from __future__ import annotations

import asyncio
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
    StepCompleted,
    StepCompletedData,
    StepFailed,
    StepFailedData,
    StepRetrying,
    StepRetryingData,
    StepStarted,
    StepStartedData,
)
from ..core.messages import StepMessage
from ..world import AppendBatch, RunRecord, StepRecord, StepWrite
from ._runtime import MAX_CONFLICT_RETRIES

if TYPE_CHECKING:
    from ..core import StepDefinition
    from ..core.events import Event
    from ._runtime import Runtime

logger = logging.getLogger(__name__)

MAX_SQS_DELAY = 900
BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0


class StepBusyError(Exception):
    """Another delivery holds the step's lease: try this message again later."""


def backoff_delay(attempt: int) -> timedelta:
    """Delay before retrying after failed ``attempt``: 1s, 2s, 4s… capped at 5 min, ±20%."""
    base = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


@dataclass
class _Outcome:
    kind: str  # "completed" | "failed" | "retrying"
    result: Any = None
    error: ErrorInfo | None = None
    retry_at: datetime | None = None


def run_step_attempt(rt: Runtime, message: StepMessage) -> None:
    """Run one attempt of the step named by ``message``, if it is still due."""
    run, step = rt.world.get_step(message.run_id, message.correlation_id)
    if run is None or step is None:
        logger.warning(
            "step message for unknown run/step %s/%s dropped",
            message.run_id,
            message.correlation_id,
        )
        return
    if run.ended:
        logger.debug(
            "run %s already %s; step %s skipped", run.run_id, run.status, step.correlation_id
        )
        return
    now = rt.clock()
    if step.state in ("completed", "failed"):
        # Already recorded. The workflow message that followed may have been lost
        # (a crash right after the write), so send one more: duplicates are harmless.
        rt.send(rt.workflow_message(run))
        return
    if step.state == "running" and step.lease_until and step.lease_until > now:
        raise StepBusyError(f"step {step.correlation_id} of run {run.run_id} is running elsewhere")
    if step.state == "retrying" and step.retry_at and step.retry_at > now:
        rt.send(rt.step_message(run, step.correlation_id, _delay_until(step.retry_at, now)))
        return

    attempt = step.attempt + 1
    claimed = step.evolve(
        state="running", attempt=attempt, lease_until=now + rt.step_lease, retry_at=None
    )
    started = _append_step_event(
        rt,
        run,
        StepWrite(claimed, expect=(step.state, step.attempt)),
        lambda seq: StepStarted(
            run_id=run.run_id,
            seq=seq,
            correlation_id=step.correlation_id,
            created_at=now,
            data=StepStartedData(attempt=attempt),
        ),
    )
    if started is None:
        return
    run = started

    outcome = _execute(rt, run, claimed, now)
    done_at = rt.clock()
    final = claimed.evolve(
        state="retrying" if outcome.kind == "retrying" else outcome.kind,
        lease_until=None,
        retry_at=outcome.retry_at,
    )

    def event(seq: int) -> Event:
        common: dict[str, Any] = {
            "run_id": run.run_id,
            "seq": seq,
            "correlation_id": step.correlation_id,
            "created_at": done_at,
        }
        if outcome.kind == "completed":
            return StepCompleted(
                **common, data=StepCompletedData(result=outcome.result, attempt=attempt)
            )
        if outcome.kind == "failed":
            assert outcome.error is not None
            return StepFailed(**common, data=StepFailedData(error=outcome.error))
        assert outcome.retry_at is not None
        return StepRetrying(
            **common, data=StepRetryingData(retry_after=outcome.retry_at, error=outcome.error)
        )

    recorded = _append_step_event(rt, run, StepWrite(final, expect=("running", attempt)), event)
    if recorded is None:
        return
    if outcome.kind == "retrying":
        assert outcome.retry_at is not None
        rt.send(
            rt.step_message(recorded, step.correlation_id, _delay_until(outcome.retry_at, done_at))
        )
    else:
        rt.send(rt.workflow_message(recorded))


def _append_step_event(
    rt: Runtime, run: RunRecord, write: StepWrite, make_event: Any
) -> RunRecord | None:
    """Append one event with its step item change; ``None`` when the step moved on."""
    for _ in range(MAX_CONFLICT_RETRIES):
        batch = AppendBatch()
        batch.add([make_event(run.last_seq + 1)], [write])
        try:
            seq = rt.append(run.run_id, run.last_seq, batch)
            return replace(run, last_seq=seq)
        except ConflictError as exc:
            if exc.reason == "step":
                logger.info(
                    "step %s of run %s moved on; dropping this delivery",
                    write.record.correlation_id,
                    run.run_id,
                )
                return None
        latest = rt.world.get_run(run.run_id)
        if latest is None or latest.ended:
            logger.info(
                "run %s ended while step %s ran; its outcome is dropped",
                run.run_id,
                write.record.correlation_id,
            )
            return None
        run = latest
    raise ConflictError(f"run {run.run_id}: gave up after {MAX_CONFLICT_RETRIES} lost races")


def _execute(rt: Runtime, run: RunRecord, step: StepRecord, started_at: datetime) -> _Outcome:
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


def _error(exc: BaseException, step: StepRecord, fatal: bool = False) -> ErrorInfo:
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


def _failed(exc: BaseException, step: StepRecord, *, fatal: bool) -> _Outcome:
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
    """Run the step function with its context; async steps get a fresh event loop."""
    with step_scope(context):
        if not definition.is_async:
            return definition.fn(*args, **kwargs)
        if _loop_running():
            return _run_in_thread(definition, args, kwargs, context)
        return asyncio.run(definition.fn(*args, **kwargs))


def _loop_running() -> bool:
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


def _delay_until(moment: datetime, now: datetime) -> int:
    seconds = (moment - now).total_seconds()
    return max(0, min(MAX_SQS_DELAY, int(seconds + 0.999)))
