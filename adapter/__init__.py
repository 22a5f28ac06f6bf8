"""adapter: durable workflows for AWS Lambda, in Python.

Write a ``@workflow`` that awaits ``@step`` functions; run it with ``start()``. Every
Lambda invocation replays the workflow from its event log in DynamoDB, records what is
new and dispatches the next step through SQS.
"""

from .core import (
    Registry,
    create_hook,
    create_webhook,
    get_step_metadata,
    get_workflow_metadata,
    now,
    random,
    sleep,
    step,
    workflow,
)
from .core.errors import (
    AdapterError,
    DeploymentNotFoundError,
    FatalError,
    HookConflictError,
    HookNotFoundError,
    InvalidHookTokenError,
    NonDeterminismError,
    PayloadTooLargeError,
    RetryableError,
    RunNotFoundError,
    RunTimeoutError,
    SerializationError,
    StepFailedError,
    StepNotRegisteredError,
    UnreadableHistoryError,
    WorkflowContextError,
    WorkflowNotRegisteredError,
    WorkflowRunCancelledError,
    WorkflowRunFailedError,
)
from .runtime import Run, get_run, list_runs, resume_hook, start

__all__ = [
    "AdapterError",
    "DeploymentNotFoundError",
    "FatalError",
    "HookConflictError",
    "HookNotFoundError",
    "InvalidHookTokenError",
    "NonDeterminismError",
    "PayloadTooLargeError",
    "Registry",
    "RetryableError",
    "Run",
    "RunNotFoundError",
    "RunTimeoutError",
    "SerializationError",
    "StepFailedError",
    "StepNotRegisteredError",
    "UnreadableHistoryError",
    "WorkflowContextError",
    "WorkflowNotRegisteredError",
    "WorkflowRunCancelledError",
    "WorkflowRunFailedError",
    "create_hook",
    "create_webhook",
    "get_run",
    "get_step_metadata",
    "get_workflow_metadata",
    "list_runs",
    "now",
    "random",
    "resume_hook",
    "sleep",
    "start",
    "step",
    "workflow",
]
