"""Lambda entry points: ``handler`` serves the SQS queues."""

from ._handler import UnsupportedEventError, handler
from ._sqs import MalformedMessageError, is_sqs_event, process_sqs_event

__all__ = [
    "MalformedMessageError",
    "UnsupportedEventError",
    "handler",
    "is_sqs_event",
    "process_sqs_event",
]
