"""SQS batches: workflow-turn and step-attempt messages, with partial batch failures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from ..core.messages import parse_message
from ..runtime import Runtime, StepBusyError
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
        finally:
            logger.remove_keys(["run_id", "kind"])

    return process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=processor,
        context=context,  # type: ignore[arg-type]
    )


def is_sqs_event(event: Any) -> bool:
    """Does this Lambda event come from an SQS event-source mapping?"""
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        bool(records)
        and isinstance(records, list)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )
