"""The storage and queue interface the runtime is written against.

A world is a few primitives (conditional appends, reads after a seq, small records and
messages); everything clever lives above it in :mod:`adapter.runtime`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from ..core.events import ErrorInfo, Event
from ..core.messages import Message

RunStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
RUN_STATUSES: tuple[str, ...] = ("pending", "running", "completed", "failed", "cancelled")


@dataclass(frozen=True)
class RunRecord:
    """The run item: a run's current state, kept beside its event log."""

    run_id: str
    workflow_name: str
    deployment_id: str
    status: RunStatus
    created_at: datetime
    last_seq: int
    """The seq of the run's newest event."""
    input: Any = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    output: Any = None
    error: ErrorInfo | None = None
    idempotency_key: str | None = None
    last_event: str | None = None
    """Type of the newest event the run item was written with (see
    :attr:`AppendBatch.touch_run`): the stall sweep looks for ``hook_received``."""
    updated_at: datetime | None = None
    """When that event was recorded."""

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class RunUpdate:
    """Fields of the run item to set together with an append."""

    status: RunStatus | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    output: Any = None
    has_output: bool = False
    error: ErrorInfo | None = None


@dataclass(frozen=True)
class HookRecord:
    """Which run (and which hook in it) a token resumes."""

    token: str
    run_id: str
    correlation_id: str
    deployment_id: str


@dataclass(frozen=True)
class HookWrite:
    """Claim a token for a run (fails if another run holds it), or release it."""

    record: HookRecord
    delete: bool = False


@dataclass(frozen=True)
class Unit:
    """Writes that must land together: an event and the items it creates or moves."""

    events: list[Event]
    hooks: list[HookWrite] = field(default_factory=list)


@dataclass
class AppendBatch:
    """Events to append in order, with the run and hook item changes that go
    with them. Units are kept whole across transaction chunks."""

    units: list[Unit] = field(default_factory=list)
    run_update: RunUpdate | None = None
    touch_run: bool = True
    """Write the run item (``last_seq``, ``last_event``, ``updated_at``) with the events.

    The events' own keys are the lock (each is written only if its seq is free), so
    the run item needs writing only when something reads it without the log: a status
    change (always written), or a mark the stall sweep looks for. The runtime clears
    this when it knows neither is the case; a step then costs one small conditional put
    instead of a two-item transaction.
    """

    @property
    def writes_run(self) -> bool:
        """Whether this append writes the run item: a status change always does."""
        return self.touch_run or self.run_update is not None

    def add(self, events: Sequence[Event], hooks: Sequence[HookWrite] = ()) -> None:
        self.units.append(Unit(list(events), list(hooks)))

    @property
    def events(self) -> list[Event]:
        return [event for unit in self.units for event in unit.events]


@dataclass(frozen=True)
class Outgoing:
    """A message to send, after ``delay_seconds`` (0 to 900)."""

    message: Message
    delay_seconds: int = 0


class World(Protocol):
    """Storage and queues. ``adapter.world.aws.AwsWorld`` implements it on AWS."""

    def create_run(
        self, record: RunRecord, first_event: Event, idempotency_key: str | None
    ) -> tuple[RunRecord, bool]:
        """Write a new run item and its ``run_created`` event.

        Returns the run and ``True``, or, when ``idempotency_key`` is already taken,
        the run that holds it and ``False``.
        """
        ...

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run item with the seq of the newest event, or ``None``."""
        ...

    def list_runs(
        self, *, workflow_name: str | None, status: str | None, limit: int
    ) -> list[RunRecord]:
        """Runs newest first, optionally filtered."""
        ...

    def read(self, run_id: str, after_seq: int) -> tuple[RunRecord | None, list[Event]]:
        """The run item and the events with ``seq > after_seq``, in order, in one read.

        ``after_seq`` is 0 or where an earlier read, append or :meth:`get_run` left off:
        an append's events may share one item, so a cursor inside it would miss them.

        The record's ``last_seq`` is the run item's: it may be behind the events read
        (see :attr:`AppendBatch.touch_run`), never ahead of those a complete read returns.
        """
        ...

    def append(self, run_id: str, expected_seq: int, batch: AppendBatch) -> int:
        """Append events after ``expected_seq`` atomically with their item changes.

        Each event is written only if its seq is free: the first writer at a seq wins.

        Returns the new last seq.

        Raises:
            ConflictError: ``reason="seq"`` when someone appended first (reload and
                decide again), ``reason="hook"`` when another run holds a
                token (``detail`` is the token).
        """
        ...

    def get_hook(self, token: str) -> HookRecord | None:
        """The run holding ``token``, or ``None`` (unknown or disposed)."""
        ...

    def send(self, messages: Sequence[Outgoing]) -> None:
        """Send messages to the workflow or step queue, by kind."""
        ...

    @property
    def max_delay_seconds(self) -> int:
        """The longest delay one message can have (SQS: 900 s)."""
        ...
