"""The one Lambda entry point: ``adapter.aws.handler``."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..core.errors import DeploymentNotFoundError
from ..core.messages import MESSAGE_ADAPTER
from ..runtime import Runtime, current_runtime
from ..world import ENV_LAMBDA_FUNCTION_NAME
from ._http import is_api_event, process_api_event
from ._logging import logger, setup_lambda_logging
from ._metrics import attach_metrics, metrics
from ._sqs import is_sqs_event, process_sqs_event
from ._tracing import attach_tracing


def process_forwarded(event: dict[str, Any], runtime: Runtime) -> dict[str, Any]:
    """Run a message another version forwarded here (an async invoke with our qualifier).

    A forwarded message is never forwarded again: if this version does not serve it
    either, that is a configuration error, raised so Lambda's retries and failure
    destination see it.
    """
    body = event["adapterForward"]
    message = MESSAGE_ADAPTER.validate_python(body["message"])
    if runtime.deployments.registry_for(message.deployment_id) is None:
        raise DeploymentNotFoundError(
            f"forwarded message for deployment {message.deployment_id!r} reached "
            f"deployment {runtime.deployments.current!r}"
        )
    runtime.process(message, receive_count=int(body.get("receiveCount", 1)))
    return {"forwarded": message.run_id}


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
    if is_api_event(event):
        return process_api_event(event, context)
    forwarded = isinstance(event, dict) and "adapterForward" in event
    if not forwarded and not is_sqs_event(event):
        kind = sorted(event)[:5] if isinstance(event, dict) else type(event).__name__
        logger.error("unsupported event", extra={"keys": kind})
        raise UnsupportedEventError(
            "adapter.aws.handler serves SQS events from the adapter queues and API Gateway "
            f"requests; got an event with keys {kind}"
        )
    runtime = current_runtime()  # the environment's, or an active LocalRuntime's
    if os.environ.get(ENV_LAMBDA_FUNCTION_NAME):
        attach_metrics(runtime)
        attach_tracing(runtime)  # X-Ray subsegments per turn and step attempt
    try:
        if forwarded:
            return process_forwarded(event, runtime)
        return process_sqs_event(event, context, runtime)
    finally:
        # One EMF document per invocation; nothing printed when nothing was counted.
        if metrics.metric_set:
            metrics.flush_metrics()
