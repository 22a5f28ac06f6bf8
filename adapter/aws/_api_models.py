"""The HTTP API's request and answer shapes (pydantic): they validate what comes in and
describe, in the OpenAPI document, what goes out (camelCase keys on the wire).

The answers themselves are made by :mod:`adapter.runtime`'s JSON views (``run_json``,
``event_json``, ``timeline_json``); the models here document them, and a test checks
every answer against the document.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ..world import RUN_STATUSES, STUCK

ListStatus = Literal[(*RUN_STATUSES, STUCK)]  # type: ignore[valid-type]
"""What ``GET /runs?status=`` takes: a run status, or ``stuck``."""


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class _Body(_Camel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# --- requests -------------------------------------------------------------------------------


class StartRunBody(_Body):
    """``POST /runs``."""

    workflow: str = Field(min_length=1, max_length=512, description="The registered name.")
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    deployment_id: str | None = Field(
        default=None, max_length=128, description='A version, an alias or "latest".'
    )
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=512)


class WakeBody(_Body):
    """``POST /runs/{runId}/wake`` (optional): which sleep to end."""

    correlation_id: str | None = Field(
        default=None, min_length=1, max_length=128, description="Only this sleep (wait_1...)."
    )


class RedriveBody(_Body):
    """``POST /redrive`` (optional)."""

    limit: int | None = Field(
        default=None, ge=1, le=100_000, description="At most this many messages per queue."
    )


# --- answers --------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorAnswer(BaseModel):
    """Every 4xx and 5xx answer."""

    error: ErrorDetail


class RunError(BaseModel):
    type: str
    message: str


class StuckView(BaseModel):
    reason: str
    since: str
    kind: str


class RunView(_Camel):
    """A run (``GET /runs/{runId}``)."""

    run_id: str
    workflow_name: str
    deployment_id: str
    status: str
    input: Any = None
    created_at: str
    started_at: str | None = None
    completed_at: str | None = None
    output: Any = Field(default=None, description="Only when completed.")
    error: RunError | None = None
    parent_run_id: str | None = None
    spawned_by: str | None = None
    stuck: StuckView | None = None


class RunAccepted(_Camel):
    run_id: str
    status: str


class RunList(_Camel):
    runs: list[RunView]
    next_cursor: str | None = Field(description="The next page's cursor; null on the last.")


class EventView(_Camel):
    run_id: str
    seq: int
    type: str
    correlation_id: str | None = None
    created_at: str
    data: dict[str, Any]


class EventList(BaseModel):
    events: list[EventView]


class ChildList(BaseModel):
    children: list[RunView]


class HookAccepted(_Camel):
    run_id: str


class Woken(_Camel):
    run_id: str
    woken: list[str] = Field(description="The sleeps ended (empty: nothing was sleeping).")


class Retried(_Camel):
    run_id: str
    retried: Literal["resumed", "reopened"]


class Redriven(BaseModel):
    workflow: int
    step: int


class AttemptView(_Camel):
    attempt: int
    started_at: str | None = None
    ended_at: str | None = None
    outcome: str | None = None
    lease_until: str | None = None
    retry_at: str | None = None
    error: dict[str, Any] | None = None


class StepView(_Camel):
    correlation_id: str
    step_name: str
    status: str
    created_at: str | None = None
    ended_at: str | None = None
    attempts: list[AttemptView]
    error: dict[str, Any] | None = None


class WaitView(_Camel):
    correlation_id: str
    created_at: str | None = None
    resume_at: str | None = None
    completed_at: str | None = None


class HookView(_Camel):
    correlation_id: str
    token: str
    webhook: bool = Field(description="Resumable from the public POST /webhooks/{token}.")
    created_at: str | None = None
    conflict: str | None = None
    payloads: int
    received_at: list[str | None]
    disposed_at: str | None = None
    metadata: Any = None


class ChildView(_Camel):
    run_id: str
    workflow_name: str
    status: str
    spawned_by: str | None = None
    created_at: str | None = None
    completed_at: str | None = None


class Timeline(_Camel):
    """The folded run (``GET /runs/{runId}/timeline``)."""

    run_id: str | None = None
    workflow_name: str | None = None
    deployment_id: str | None = None
    status: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    error: dict[str, Any] | None = None
    last_seq: int
    steps: list[StepView]
    waits: list[WaitView]
    hooks: list[HookView]
    children: list[ChildView]
