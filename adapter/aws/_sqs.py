"""SQS batches: workflow-turn and step-attempt messages, with partial batch failures."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
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
from ..core.messages import parse_message
from ..runtime import Runtime, StepBusyError
from ..world._resources import MAX_RECEIVE_COUNT
from ._logging import logger


class MalformedMessageError(ValueError):
    """An SQS message that is not one of ours; it is left to go to the DLQ."""


def process_sqs_event(
    event: dict[str, Any], context: LambdaContext | None, runtime: Runtime
) -> dict[str, Any]:
    """Process one SQS batch; return ``{"batchItemFailures": [...]}`` for the retries.

    Each record is handled on its own: a failing record is reported and redelivered by
    SQS later (and after the redrive count, lands in the DLQ), the rest are done.
    """
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

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
            runtime.process(message, receive_count=receive_count)
        except StepBusyError as exc:
            logger.info(str(exc))
            raise
        except Exception as exc:
            if receive_count >= max_receive_count():
                _give_up(runtime, message.run_id, exc, receive_count)
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
    return int(os.environ.get("ADAPTER_MAX_RECEIVE_COUNT") or MAX_RECEIVE_COUNT)


def _give_up(runtime: Runtime, run_id: str, exc: Exception, receive_count: int) -> None:
    """The last delivery failed too: SQS moves the message to the DLQ next, so end the
    run as failed, with the reason, instead of leaving it "running" forever."""
    info = error_info(exc)
    reason = info.model_copy(
        update={
            "message": f"a message of this run failed {receive_count} times and went to the "
            f"dead-letter queue; last error: {info.type}: {info.message}"
        }
    )
    logger.error("poison message: failing the run", extra={"run_id": run_id})
    try:
        runtime.fail(run_id, reason)
    except Exception:  # storage itself is failing: the DLQ still keeps the message
        logger.exception("could not mark the run failed")


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
