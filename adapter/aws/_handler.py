"""The one Lambda entry point: ``adapter.aws.handler``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..runtime import env_runtime
from ._http import is_api_event, process_api_event
from ._logging import logger, setup_lambda_logging
from ._sqs import is_sqs_event, process_sqs_event


class UnsupportedEventError(ValueError):
    """Raised for a Lambda event the handler does not serve."""


def handler(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    """Serve SQS batches of workflow and step messages, and the HTTP API.

    Point the function's ``Handler`` at a module of yours that imports your workflows
    and re-exports this function::

        # app.py
        import myapp.workflows  # registers the workflows
        from adapter.aws import handler

    Raises:
        UnsupportedEventError: for any other kind of event (neither SQS nor API Gateway).
    """
    setup_lambda_logging()
    if is_sqs_event(event):
        return process_sqs_event(event, context, env_runtime())
    if is_api_event(event):
        return process_api_event(event, context)
    kind = sorted(event)[:5] if isinstance(event, dict) else type(event).__name__
    logger.error("unsupported event", extra={"keys": kind})
    raise UnsupportedEventError(
        "adapter.aws.handler serves SQS events from the adapter queues and API Gateway "
        "requests; "
        f"got an event with keys {kind}"
    )
