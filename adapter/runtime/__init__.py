"""The runtime: workflow turns and step attempts against a world, and the client API."""

from ..core.errors import DeploymentNotFoundError, StepBusyError
from ._client import Run, current_runtime, get_run, list_runs, page_runs, resume_hook, start
from ._deployments import Deployments
from ._env import (
    activate,
    active_runtime,
    deactivate,
    env_runtime,
    forward_payload,
    reset_env_runtime,
)
from ._runtime import Runtime
from ._services import (
    STALE_AFTER,
    STEP_SEGMENT,
    TURN_SEGMENT,
    Annotations,
    Services,
    Trace,
    no_trace,
    utc_now,
)
from ._step import backoff_delay, loop_running, run_step_attempt
from ._turn import run_workflow_turn
from ._views import (
    API_ERRORS,
    api_error,
    child_runs,
    event_json,
    parent_of,
    run_json,
    timeline_json,
)

__all__ = [
    "STALE_AFTER",
    "STEP_SEGMENT",
    "TURN_SEGMENT",
    "Annotations",
    "DeploymentNotFoundError",
    "Deployments",
    "Run",
    "Runtime",
    "Services",
    "StepBusyError",
    "Trace",
    "activate",
    "active_runtime",
    "backoff_delay",
    "child_runs",
    "current_runtime",
    "deactivate",
    "env_runtime",
    "event_json",
    "forward_payload",
    "get_run",
    "list_runs",
    "loop_running",
    "no_trace",
    "page_runs",
    "parent_of",
    "reset_env_runtime",
    "resume_hook",
    "run_json",
    "run_step_attempt",
    "run_workflow_turn",
    "start",
    "timeline_json",
    "API_ERRORS",
    "api_error",
    "utc_now",
]
