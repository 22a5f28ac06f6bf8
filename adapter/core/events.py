"""The event log: one frozen pydantic model per event type.

Every state change of a run is one of these, stored in order under the run id with a
strictly increasing ``seq``. Payload fields (``input``, ``result``, ``output``,
``payload``) hold trees made by :mod:`adapter.core.serde`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorInfo(_Model):
    """A recorded exception: its type name, message and (optionally) traceback."""

    type: str
    message: str
    stack: str | None = None
    step_name: str | None = None
    attempt: int | None = None
    fatal: bool = False
    kind: str | None = None
    """Set when the runtime, not the run's code, gave this error: ``delivery`` (its
    messages kept failing), ``unreadable`` (its history could not be read back),
    ``deployment`` (nothing serves its version). Such a run may be retried."""


class RunCreatedData(_Model):
    workflow_name: str
    input: Any
    deployment_id: str


class RunCompletedData(_Model):
    output: Any


class RunFailedData(_Model):
    error: ErrorInfo


class StepCreatedData(_Model):
    step_name: str
    input: Any


class StepStartedData(_Model):
    attempt: int
    lease_until: datetime | None = None
    """Until when this attempt owns the step; a later delivery may take over after."""


class StepCompletedData(_Model):
    result: Any
    attempt: int = 1


class StepFailedData(_Model):
    error: ErrorInfo


class StepRetryingData(_Model):
    retry_after: datetime
    error: ErrorInfo | None = None


class WaitCreatedData(_Model):
    resume_at: datetime


class HookCreatedData(_Model):
    token: str
    metadata: Any = None
    conflict: str | None = None
    """Set when the token was already held by another running run: awaiting fails."""
    webhook: bool = False
    """Made by ``create_webhook()`` with a generated token: the public
    ``POST /webhooks/{token}`` route resumes it (logs written before this field: no)."""


class RunResumedData(_Model):
    reason: str = ""


class HookReceivedData(_Model):
    payload: Any


class EmptyData(_Model):
    pass


class EventBase(_Model):
    """Fields every event has."""

    run_id: str
    seq: int = Field(ge=1)
    correlation_id: str | None = None
    created_at: datetime


class RunCreated(EventBase):
    type: Literal["run_created"] = "run_created"
    data: RunCreatedData


class RunStarted(EventBase):
    type: Literal["run_started"] = "run_started"
    data: EmptyData = EmptyData()


class RunCompleted(EventBase):
    type: Literal["run_completed"] = "run_completed"
    data: RunCompletedData


class RunFailed(EventBase):
    type: Literal["run_failed"] = "run_failed"
    data: RunFailedData


class RunCancelled(EventBase):
    type: Literal["run_cancelled"] = "run_cancelled"
    data: EmptyData = EmptyData()


class RunResumed(EventBase):
    """A failed run reopened by ``adapter runs retry`` (its failure was the runtime's)."""

    type: Literal["run_resumed"] = "run_resumed"
    data: RunResumedData = RunResumedData()


class StepCreated(EventBase):
    type: Literal["step_created"] = "step_created"
    data: StepCreatedData


class StepStarted(EventBase):
    type: Literal["step_started"] = "step_started"
    data: StepStartedData


class StepCompleted(EventBase):
    type: Literal["step_completed"] = "step_completed"
    data: StepCompletedData


class StepFailed(EventBase):
    type: Literal["step_failed"] = "step_failed"
    data: StepFailedData


class StepRetrying(EventBase):
    type: Literal["step_retrying"] = "step_retrying"
    data: StepRetryingData


class WaitCreated(EventBase):
    type: Literal["wait_created"] = "wait_created"
    data: WaitCreatedData


class WaitCompleted(EventBase):
    type: Literal["wait_completed"] = "wait_completed"
    data: EmptyData = EmptyData()


class HookCreated(EventBase):
    type: Literal["hook_created"] = "hook_created"
    data: HookCreatedData


class HookReceived(EventBase):
    type: Literal["hook_received"] = "hook_received"
    data: HookReceivedData


class HookDisposed(EventBase):
    type: Literal["hook_disposed"] = "hook_disposed"
    data: EmptyData = EmptyData()


Event = Annotated[
    RunCreated
    | RunStarted
    | RunCompleted
    | RunFailed
    | RunCancelled
    | RunResumed
    | StepCreated
    | StepStarted
    | StepCompleted
    | StepFailed
    | StepRetrying
    | WaitCreated
    | WaitCompleted
    | HookCreated
    | HookReceived
    | HookDisposed,
    Field(discriminator="type"),
]
"""Any event, discriminated on ``type``."""

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(raw: dict[str, Any]) -> Event:
    """Validate a raw mapping into the matching event model."""
    return EVENT_ADAPTER.validate_python(raw)
