"""What one workflow turn decides: the commands it asks the runtime to record and its
outcome. Plain data: the runtime turns them into events and messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from .events import ErrorInfo


@dataclass(frozen=True)
class ScheduleStep:
    """Command: record ``step_created`` for this correlation id and dispatch the step."""

    correlation_id: str
    step_name: str
    input: Any


@dataclass(frozen=True)
class StartTimer:
    """Command: record ``wait_created`` and wake the run at ``resume_at``."""

    correlation_id: str
    resume_at: datetime


@dataclass(frozen=True)
class CreateHook:
    """Command: record ``hook_created`` and claim ``token`` for this run."""

    correlation_id: str
    token: str
    metadata: Any = None
    webhook: bool = False
    """Made by ``create_webhook()`` with a generated token: resumable from the public
    ``POST /webhooks/{token}`` route (a chosen token never is)."""


Command = ScheduleStep | StartTimer | CreateHook


@dataclass
class TurnOutcome:
    """What a turn decided.

    Attributes:
        status: ``"suspended"`` (waiting on steps), ``"completed"`` or ``"failed"``.
        commands: New things to record, in request order (only when suspended).
        output: The workflow's return value as a serde tree (when completed).
        error: Why the run failed (when failed).
        in_flight: Steps recorded as created but not yet finished.
        timers: Waits recorded but not completed: ``(correlation_id, resume_at)``.
        hooks: Hooks recorded and not disposed: ``(correlation_id, token)``.
    """

    status: Literal["suspended", "completed", "failed"]
    commands: list[Command] = field(default_factory=list)
    output: Any = None
    error: ErrorInfo | None = None
    in_flight: list[str] = field(default_factory=list)
    timers: list[tuple[str, datetime]] = field(default_factory=list)
    hooks: list[tuple[str, str]] = field(default_factory=list)
