"""SQS batches: workflow-turn and step-attempt messages, with partial batch failures."""

from __future__ import annotations

import math
import os
import random
import threading
import time
from datetime import datetime, timedelta
from typing import Any, cast

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from ..core import error_info
from ..core.errors import DeploymentNotFoundError, StepBusyError
from ..core.messages import Message, parse_message
from ..runtime import Runtime
from ..world import ENV_MAX_RECEIVE_COUNT
from ..world.aws import MAX_RECEIVE_COUNT, MAX_VISIBILITY, is_transient
from ._logging import logger


class MalformedMessageError(ValueError):
    """An SQS message that is not one of ours; it is left to go to the DLQ."""


def process_sqs_event(
    event: dict[str, Any], context: LambdaContext | None, runtime: Runtime
) -> dict[str, Any]:
    """Process one SQS batch; return ``{"batchItemFailures": [...]}`` for the retries.

    Each record is handled on its own: a failing record is reported (and logged, with
    its run and the reason, from the first failure on) and redelivered by SQS later,
    the rest are done. When AWS itself is failing (throttling, 5xx, timeouts) the
    redelivery waits longer each time (:func:`redelivery_delay`), so an outage of hours
    fits in the redrive budget; a message that runs out of it leaves its run marked
    stuck (an outage) or failed (anything else), never silently running.
    """
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    deadline = _deadline(context, runtime)

    def record_handler(record: SQSRecord) -> None:
        try:
            message = parse_message(record.body)
        except ValidationError as exc:
            logger.error(
                "malformed message left for the DLQ",
                extra={"message_id": record.message_id, "errors": exc.errors(include_input=False)},
            )
            raise MalformedMessageError(
                f"message {record.message_id} is not an adapter message"
            ) from exc
        receive_count = int(record.attributes.approximate_receive_count or 1)
        logger.append_keys(run_id=message.run_id, kind=message.kind)
        try:
            runtime.process(message, receive_count=receive_count, deadline=deadline)
        except Exception as exc:
            if not _failed(runtime, message, record, exc, receive_count):
                return  # nothing left to do for this message: acknowledge it
            raise
        finally:
            logger.remove_keys(["run_id", "kind"])

    response = process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=processor,
        context=context,
    )
    sweep_if_due(runtime)
    return cast(dict[str, Any], response)


INFRA_BACKOFF_BASE = 30
"""Seconds before the first redelivery after AWS failed; doubled each time, so the
10 deliveries of the redrive policy span about four hours."""


def redelivery_delay(receive_count: int) -> int:
    """How long a message waits after delivery ``receive_count`` failed on AWS errors."""
    base = INFRA_BACKOFF_BASE * 2 ** max(0, receive_count - 1)
    return int(min(MAX_VISIBILITY, base * random.uniform(0.9, 1.1)))


def _failed(
    runtime: Runtime,
    message: Message,
    record: SQSRecord,
    exc: Exception,
    receive_count: int,
) -> bool:
    """Log a failed delivery and arrange its redelivery; ``False``: acknowledge it."""
    last = receive_count >= max_receive_count()
    if isinstance(exc, StepBusyError):
        if last:  # the attempt in flight records the outcome; the sweep covers its death
            logger.info("duplicate of a running step dropped: %s", exc)
            return False
        logger.info(str(exc))
        if isinstance(exc.until, datetime):
            wait = (exc.until - runtime.clock()).total_seconds() + 1
            _postpone(runtime, message, record, max(1, math.ceil(wait)))
        return True
    transient = is_transient(exc)
    logger.warning(
        "delivery %d of the %s message of run %s failed: %s: %s%s",
        receive_count,
        message.kind,
        message.run_id,
        type(exc).__name__,
        exc,
        " (AWS unavailable: redelivered later, the run is not failed)" if transient else "",
        exc_info=exc,
        extra={"receive_count": receive_count, "transient": transient},
    )
    if last:
        _give_up(runtime, message, exc, receive_count, transient)
    elif transient:
        _postpone(runtime, message, record, redelivery_delay(receive_count))
    return True


def _postpone(runtime: Runtime, message: Message, record: SQSRecord, seconds: int) -> None:
    try:
        runtime.world.postpone(message.kind, record.receipt_handle, seconds)
    except Exception:  # then it comes back after its visibility timeout: still fine
        logger.warning("could not delay the redelivery of %s", record.message_id, exc_info=True)


def _deadline(context: LambdaContext | None, runtime: Runtime) -> datetime | None:
    """When this invocation is killed (the end of a step attempt's lease)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    try:
        return runtime.clock() + timedelta(milliseconds=int(remaining()))
    except Exception:
        return None


SWEEP_EVERY_SECONDS = 300.0
STALLED_AFTER = timedelta(minutes=2)
_last_sweep = float("-inf")
_sweep_lock = threading.Lock()


def sweep_if_due(runtime: Runtime) -> None:
    """Every few minutes per container, wake runs a dead caller left without a message
    (see ``Runtime.wake_stalled``). Never fails the batch."""
    global _last_sweep
    with _sweep_lock:
        now = time.monotonic()
        if now - _last_sweep < SWEEP_EVERY_SECONDS:
            return
        _last_sweep = now
    try:
        runtime.wake_stalled(STALLED_AFTER)
    except Exception:
        logger.exception("the stalled-run sweep failed; the next one retries")


def max_receive_count() -> int:
    """The queues' redrive ``maxReceiveCount`` (``ADAPTER_MAX_RECEIVE_COUNT``, default 10)."""
    return int(os.environ.get(ENV_MAX_RECEIVE_COUNT) or MAX_RECEIVE_COUNT)


def _give_up(
    runtime: Runtime, message: Message, exc: Exception, receive_count: int, transient: bool
) -> None:
    """The last delivery failed too: SQS moves the message to the DLQ next. Leave the
    run visibly stuck (AWS was failing: nothing is wrong with the run, redrive it when
    the outage is over) or failed (its messages fail for another reason)."""
    info = error_info(exc)
    run_id = message.run_id
    what = (
        f"a {message.kind} message of this run failed {receive_count} times and went to the "
        f"dead-letter queue; last error: {info.type}: {info.message}"
    )
    try:
        if transient:
            runtime.mark_stuck(
                run_id, f"{what}. When AWS is back: adapter runs redrive", kind="transient"
            )
        elif isinstance(exc, DeploymentNotFoundError):
            runtime.mark_stuck(
                run_id,
                f"{what}. Publish or alias that version, then: adapter runs redrive",
                kind="deployment",
            )
        else:
            logger.error("poison message: failing the run", extra={"run_id": run_id})
            runtime.fail(run_id, info.model_copy(update={"message": what, "kind": "delivery"}))
    except Exception:  # storage itself is failing: the DLQ (and its alarm) keep it
        logger.exception("could not mark run %s failed or stuck", run_id)


def sqs_record(raw: dict[str, Any], arn: str, region: str = "us-east-1") -> dict[str, Any]:
    """A message from ``ReceiveMessage`` as Lambda's event-source mapping hands it over:
    one record of an SQS event (for local pollers: LocalRuntime, ``adapter dev``)."""
    return {
        "messageId": raw["MessageId"],
        "receiptHandle": raw["ReceiptHandle"],
        "body": raw["Body"],
        "attributes": raw.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": raw.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": region,
    }


def is_sqs_event(event: Any) -> bool:
    """Does this Lambda event come from an SQS event-source mapping?"""
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        bool(records)
        and isinstance(records, list)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )
