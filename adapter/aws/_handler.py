"""The one Lambda entry point: ``adapter.aws.handler``."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..runtime import env_runtime
from ._sqs import is_sqs_event, process_sqs_event

logger = Logger(service="adapter")
_logging_ready = False


def _setup_logging() -> None:
    # Library modules log through `logging.getLogger("adapter.…")`; inside Lambda give
    # them the powertools JSON format. Elsewhere (tests, LocalRuntime) leave logging to
    # the application.
    global _logging_ready
    if not _logging_ready and os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        copy_config_to_registered_loggers(source_logger=logger, include={"adapter"})
    _logging_ready = True


class UnsupportedEventError(ValueError):
    """Raised for a Lambda event the handler does not serve."""


def handler(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    """Serve SQS batches of workflow and step messages.

    Point the function's ``Handler`` at a module of yours that imports your workflows
    and re-exports this function::

        # app.py
        import myapp.workflows  # registers the workflows
        from adapter.aws import handler

    Raises:
        UnsupportedEventError: for any other kind of event.
    """
    _setup_logging()
    if is_sqs_event(event):
        return process_sqs_event(event, context, env_runtime())
    kind = sorted(event)[:5] if isinstance(event, dict) else type(event).__name__
    logger.error("unsupported event", extra={"keys": kind})
    raise UnsupportedEventError(
        f"adapter.aws.handler serves SQS events from the adapter queues; got an event with keys {kind}"
    )

