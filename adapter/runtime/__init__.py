"""The runtime: workflow turns and step attempts against a world, and the client API."""

from ..core.errors import DeploymentNotFoundError
from ._client import (
    Run,
    activate,
    current_runtime,
    deactivate,
    env_runtime,
    forward_payload,
    get_run,
    list_runs,
    page_runs,
    reset_env_runtime,
    resume_hook,
    start,
)
from ._deployments import Deployments
from ._runtime import Runtime, utc_now
from ._step import StepBusyError, backoff_delay, loop_running, run_step_attempt
from ._turn import run_workflow_turn
from ._views import child_runs, event_json, parent_of, run_json

__all__ = [
    "DeploymentNotFoundError",
    "Deployments",
    "Run",
    "Runtime",
    "StepBusyError",
    "activate",
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
    "page_runs",
    "parent_of",
    "reset_env_runtime",
    "resume_hook",
    "run_json",
    "run_step_attempt",
    "run_workflow_turn",
    "start",
    "utc_now",
]
