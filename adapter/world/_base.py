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
STUCK = "stuck"
"""Pseudo-status for ``list_runs``: runs (pending or running) marked as unable to advance."""
UNREADABLE = "$unreadable"
"""Key of the tree a run item's payload reads as when it cannot be read back: its value
says why (reads of a run's status must work when a payload object is gone)."""


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
    parent_run_id: str | None = None
    """The run whose step started this one (``start()`` inside a step), if any."""
    parent_step: str | None = None
    """The correlation id of that step in the parent's log."""
    stuck: StuckMark | None = None
    """Why the run cannot advance on its own, when it is stuck (see :class:`StuckMark`)."""
    idle_until: datetime | None = None
    """Set while the run waits on nothing but sleeps and hooks (no step in flight), as
    of ``item_seq``: when its next sleep ends (``None`` with :attr:`idle` for hooks
    alone). The stall checks skip such runs until then, without reading their logs."""
    idle: bool = False
    """Whether ``idle_until`` is set (a run waiting only on hooks has no end time)."""
    item_seq: int | None = None
    """The run item's own ``last_seq`` (``last_seq`` may be ahead: the newest event's)."""
    newest_at: datetime | None = None
    """When the newest event was recorded (read with the run, where known)."""

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def created_key(self) -> str:
        """Its sort key in the run listings: creation time, then run id (newest first
        is descending order of this string; ``list_runs(before=...)`` takes one)."""
        return f"{self.created_at.isoformat()}#{self.run_id}"


@dataclass(frozen=True)
class StuckMark:
    """A run that cannot advance on its own: why, since when, and what recovers it.

    A stuck run keeps its status (``running`` or ``pending``): it is not over, its log is
    intact, and it moves on again when the cause is gone (``adapter runs redrive`` or
    ``adapter runs retry``). Any recorded progress clears the mark.
    """

    reason: str
    since: datetime
    kind: str = "delivery"
    """``delivery`` (its messages kept failing), ``deployment`` (pinned to a version
    nothing serves), ``unreadable`` (its history cannot be read)."""


@dataclass(frozen=True)
class RunUpdate:
    """Fields of the run item to set together with an append."""

    status: RunStatus | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    output: Any = None
    has_output: bool = False
    error: ErrorInfo | None = None
    reopen: bool = False
    """Clear the end (``completed_at``, ``error``): a failed run retried."""


@dataclass(frozen=True)
class IdleMark:
    """The run waits on sleeps and hooks only: it wakes itself at ``until`` (``None``:
    only a hook payload, a cancel or a wake from outside moves it)."""

    until: datetime | None = None


@dataclass(frozen=True)
class HookRecord:
    """Which run (and which hook in it) a token resumes."""

    token: str
    run_id: str
    correlation_id: str
    deployment_id: str
    webhook: bool = False
    """Made by ``create_webhook()`` with a generated token: the public route resumes
    it. Items written before this field have none: not a webhook."""


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
    idle: IdleMark | None = None
    """Written on the run item when set (see :attr:`RunRecord.idle_until`); any other
    write of the run item clears it."""
    clear_stuck: bool = False
    """Remove the run's stuck mark: this append is progress."""
    delivery: str | None = None
    """A delivery id (one request to a hook, however often it arrives) written with the
    events, only if no append wrote it before: a repeated delivery is recorded once.
    Losing on it raises ``ConflictError(reason="delivery")``; :meth:`World.get_delivery`
    then names the run it was recorded for."""
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
        return (
            self.touch_run
            or self.run_update is not None
            or self.idle is not None
            or self.clear_stuck
        )

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
        self,
        *,
        workflow_name: str | None,
        status: str | None,
        limit: int,
        before: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[RunRecord]:
        """Runs newest first, optionally filtered (``status=STUCK``: the stuck ones).

        Args:
            before: Only runs whose :attr:`RunRecord.created_key` is below this one (the next
                page after the run with that key): the listing starts there, without
                reading the newer runs again.
            since: Only runs created at or after this aware moment.
            until: Only runs created before this aware moment.
        """
        ...

    def redrive(self, kind: str, limit: int | None = None) -> list[str]:
        """Move messages of the ``kind`` queue's dead-letter queue back to it.

        Each message is sent again before it is deleted from the DLQ, so a crash in
        between sends it twice, never loses it. Returns the bodies moved.
        """
        ...

    def read(
        self, run_id: str, after_seq: int, *, lenient: bool = False
    ) -> tuple[RunRecord | None, list[Event]]:
        """The run item and the events with ``seq > after_seq``, in order, in one read.

        Raises:
            UnreadableHistoryError: an event (or its payload in S3) cannot be read. With
                ``lenient``, such events are left out instead (the caller knows from the
                gap in seqs) and the run item's unreadable payloads read as ``None``.


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
                token (``detail`` is the token), ``reason="delivery"`` when the
                batch's delivery id was recorded before.
        """
        ...

    def get_hook(self, token: str) -> HookRecord | None:
        """The run holding ``token``, or ``None`` (unknown or disposed)."""
        ...

    def get_delivery(self, delivery: str) -> str | None:
        """The run a delivery id (see :attr:`AppendBatch.delivery`) was recorded for."""
        ...

    def child_runs(self, parent_run_id: str) -> list[RunRecord]:
        """Runs started from a step of ``parent_run_id``, oldest first."""
        ...

    def mark_stuck(self, run_id: str, mark: StuckMark | None) -> None:
        """Set (or with ``None`` clear) the run item's stuck mark; no event is written."""
        ...

    def postpone(self, kind: str, receipt_handle: str, seconds: int) -> None:
        """Make a received message of queue ``kind`` (``workflow``/``step``) visible
        again in ``seconds`` (its redelivery), instead of its queue's visibility timeout."""
        ...

    def send(self, messages: Sequence[Outgoing]) -> None:
        """Send messages to the workflow or step queue, by kind."""
        ...

    @property
    def max_delay_seconds(self) -> int:
        """The longest delay one message can have (SQS: 900 s)."""
        ...
