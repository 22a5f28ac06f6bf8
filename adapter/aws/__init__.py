"""Lambda entry points: ``handler`` serves the SQS queues and the HTTP API."""

from ._handler import UnsupportedEventError, handler, process_forwarded
from ._http import is_api_event, openapi_document, process_api_event
from ._sqs import MalformedMessageError, is_sqs_event, process_sqs_event, sqs_record

__all__ = [
    "MalformedMessageError",
    "UnsupportedEventError",
    "handler",
    "is_api_event",
    "openapi_document",
    "process_api_event",
    "process_forwarded",
    "is_sqs_event",
    "process_sqs_event",
    "sqs_record",
]
