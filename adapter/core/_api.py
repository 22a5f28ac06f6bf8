"""Workflow- and step-side functions: ``now``, ``random`` and the metadata getters."""

from __future__ import annotations

import random as _random
from datetime import UTC, datetime

from ._context import StepMetadata, WorkflowMetadata, current_step, current_workflow
from .errors import WorkflowContextError


def now() -> datetime:
    """The current time, replay-stable inside workflow code.

    In a workflow it is the time recorded with the latest event the code has seen, so
    every replay sees the same value. Elsewhere it is the wall clock (UTC).
    """
    runtime = current_workflow()
    return runtime.now() if runtime is not None else datetime.now(UTC)


def random() -> float:
    """A float in ``[0, 1)``, replay-stable inside workflow code (seeded by the run id)."""
    runtime = current_workflow()
    return runtime.random() if runtime is not None else _random.random()


def get_workflow_metadata() -> WorkflowMetadata:
    """Name, run id, start time and deployment of the workflow run executing this code.

    Raises:
        WorkflowContextError: outside workflow code.
    """
    runtime = current_workflow()
    if runtime is None:
        raise WorkflowContextError("get_workflow_metadata() is only available in workflow code")
    return runtime.metadata


def get_step_metadata() -> StepMetadata:
    """Name, id, attempt (from 1) and start time of the step attempt executing this code.

    Raises:
        WorkflowContextError: outside a step.
    """
    context = current_step()
    if context is None:
        raise WorkflowContextError("get_step_metadata() is only available inside a step")
    return context.metadata
