"""Where am I running? The current workflow turn or step attempt, as context variables.

Workflow-side API calls (a step call, ``now()``, ``random()``, ``start()`` refusing) ask
the current :class:`WorkflowRuntime`; the replay engine implements it. Steps see a
:class:`StepContext` filled in by the runtime that runs the attempt.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import asyncio

    from ._hooks import Hook
    from ._registry import StepDefinition, WorkflowDefinition


@dataclass(frozen=True)
class WorkflowMetadata:
    """What ``get_workflow_metadata()`` returns."""

    workflow_name: str
    run_id: str
    started_at: datetime
    deployment_id: str


@dataclass(frozen=True)
class StepMetadata:
    """What ``get_step_metadata()`` returns.

    ``step_id`` is stable across retries and unique across runs: use it as the
    idempotency key of calls the step makes to other systems.
    """

    step_name: str
    step_id: str
    attempt: int
    started_at: datetime


class WorkflowRuntime(Protocol):
    """What workflow code may ask of the engine running it."""

    metadata: WorkflowMetadata

    def call_step(
        self, step: StepDefinition, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> asyncio.Future[Any]: ...

    def call_workflow(
        self, workflow: WorkflowDefinition, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> asyncio.Task[Any]: ...

    def start_timer(self, resume_at: datetime) -> asyncio.Future[None]: ...

    def create_hook(self, token: str | None, metadata: Any, *, webhook: bool) -> Hook[Any]: ...

    def now(self) -> datetime: ...

    def random(self) -> float: ...

    def refuse(self, error: BaseException) -> BaseException: ...


@dataclass
class StepContext:
    """The step attempt being executed, plus what ``start()`` inside it needs."""

    run_id: str
    correlation_id: str
    metadata: StepMetadata
    deployment_id: str
    client: Any = None
    _spawned: int = field(default=0, repr=False)

    def next_spawn_key(self) -> str:
        """Idempotency key for the next ``start()`` in this step, stable across retries."""
        self._spawned += 1
        return f"{self.run_id}:{self.correlation_id}:{self._spawned}"


_workflow: contextvars.ContextVar[WorkflowRuntime | None] = contextvars.ContextVar(
    "adapter_workflow", default=None
)
_step: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar(
    "adapter_step", default=None
)


def current_workflow() -> WorkflowRuntime | None:
    """The workflow turn running this code, or ``None`` outside workflow code."""
    return _workflow.get()


def current_step() -> StepContext | None:
    """The step attempt running this code, or ``None`` outside a step."""
    return _step.get()


@contextmanager
def workflow_scope(runtime: WorkflowRuntime) -> Iterator[None]:
    """Mark code run inside the block (and tasks created there) as workflow code."""
    token = _workflow.set(runtime)
    step_token = _step.set(None)
    try:
        yield
    finally:
        _step.reset(step_token)
        _workflow.reset(token)


@contextmanager
def step_scope(context: StepContext) -> Iterator[None]:
    """Mark code run inside the block as a step attempt."""
    token = _step.set(context)
    workflow_token = _workflow.set(None)
    try:
        yield
    finally:
        _workflow.reset(workflow_token)
        _step.reset(token)
