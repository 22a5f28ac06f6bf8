"""Queue messages: small JSON documents that say which unit of work to do next.

A message never carries payloads; the work it names is read from storage, so a
duplicate or a stale message is harmless.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

_ID = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str = _ID
    deployment_id: str = Field(min_length=1, max_length=128)


class WorkflowMessage(_Message):
    """Run the next turn of a run's workflow.

    A timer message names the wait it wakes (``timer``) and when (``resume_at``): when
    it arrives early (SQS delays are capped at 15 minutes) it is sent on again without
    touching storage.
    """

    kind: Literal["workflow"] = "workflow"
    timer: str | None = Field(default=None, max_length=128)
    resume_at: datetime | None = None


class StepMessage(_Message):
    """Run (or retry) one step of a run."""

    kind: Literal["step"] = "step"
    correlation_id: str = _ID


Message = Annotated[WorkflowMessage | StepMessage, Field(discriminator="kind")]

MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)


def parse_message(body: str) -> Message:
    """Validate a queue message body (JSON text).

    Raises:
        pydantic.ValidationError: for anything that is not one of our messages.
    """
    return MESSAGE_ADAPTER.validate_json(body)
