"""The runtime: joins the replay engine (core) with storage and queues (world).

It routes each queue message to its handler (a workflow turn, a step attempt), or
forwards it to the deployment its run is pinned to, and offers the intents that come
from outside: cancel, resume a hook, wake a sleep, retry, the stall sweep, waiting for
a run to end. The work itself is done in the modules named after it (``_turn``,
``_step``, ``_recovery``, ``_sweep``), which take the runtime's :class:`Services`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ..core import ChildRun, RunState
from ..core.errors import (
    DeploymentNotFoundError,
    RunNotFoundError,
    RunTimeoutError,
    UnreadableHistoryError,
    WorkflowContextError,
)
from ..core.events import ErrorInfo, Event
from ..core.messages import Message, WorkflowMessage
from ..world import AppendBatch, Outgoing, RunRecord, World
from . import _recovery, _sweep
from ._deployments import Deployments
from ._journal import History
from ._messages import step_message, workflow_message
from ._services import (
    DEFAULT_STEP_LEASE,
    STALE_AFTER,
    Clock,
    Services,
    Trace,
    no_trace,
    utc_now,
    wall_pause,
)
from ._step import run_step_attempt
from ._turn import run_workflow_turn

logger = logging.getLogger(__name__)

Waiter = Callable[[str, float | None], RunRecord | None]
Forwarder = Callable[[Message, int], None]


class Runtime(Services):
    """Runs workflow turns and step attempts against a :class:`~adapter.world.World`.

    Args:
        world: Storage and queues.
        deployments: Which code serves which version, and how ids resolve.
        clock: Source of time (virtual in ``LocalRuntime``).
        step_lease: How long a step attempt owns its step outside Lambda (see
            :class:`Services`).
        waiter: How ``Run.result()`` waits (returning the ended run's record, or
            ``None`` to have it read); the default polls storage with backoff.
        api_url: Base URL of the HTTP API, for ``create_webhook().url``.
        forwarder: Delivers a message to the version that must run it, when that
            version's code is not loaded here (on AWS: an async Lambda invoke).
        pause_until: See :class:`Services`.
        stale_after: See :class:`Services`.
        trace: See :class:`Services`.
    """

    def __init__(
        self,
        world: World,
        *,
        deployments: Deployments,
        clock: Clock = utc_now,
        step_lease: timedelta = DEFAULT_STEP_LEASE,
        waiter: Waiter | None = None,
        api_url: str = "",
        forwarder: Forwarder | None = None,
        pause_until: Callable[[datetime], None] = wall_pause,
        stale_after: timedelta = STALE_AFTER,
        trace: Trace = no_trace,
    ) -> None:
        super().__init__(
            world,
            deployments=deployments,
            clock=clock,
            step_lease=step_lease,
            api_url=api_url,
            pause_until=pause_until,
            stale_after=stale_after,
            trace=trace,
        )
        self._forwarder = forwarder
        self._waiter = waiter

    @property
    def listeners(self) -> list[Callable[[Event], None]]:
        """Called with every event this runtime recorded (metrics, tests)."""
        return self.journal.listeners

    # --- messages ----------------------------------------------------------------------

    def process(
        self, message: Message, *, receive_count: int = 1, deadline: datetime | None = None
    ) -> None:
        """Handle one queue message. Raising means: deliver it again later.

        Args:
            receive_count: How often the queue delivered it (a hint only).
            deadline: When the invocation handling it is killed, if known.

        Raises:
            StepBusyError: another delivery holds the step (its ``until`` says when
                to try again).
            DeploymentNotFoundError: the run is pinned to a deployment this process
                can neither serve nor forward to.
        """
        try:
            if self.deployments.registry_for(message.deployment_id) is None:
                self._forward(message, receive_count)
            elif isinstance(message, WorkflowMessage):
                run_workflow_turn(self, message, redelivered=receive_count > 1)
            else:
                run_step_attempt(
                    self,
                    message,
                    redelivered=receive_count > 1,
                    deadline=deadline,
                    client=self,
                )
        except UnreadableHistoryError as exc:
            _recovery.fail_unreadable(self, message.run_id, exc)
        except DeploymentNotFoundError:
            if self._stray(message):
                return
            raise

    def _forward(self, message: Message, receive_count: int) -> None:
        # Pinned to another version: never replay it with this code.
        if self._forwarder is None:
            raise DeploymentNotFoundError(
                f"message for deployment {message.deployment_id!r}, which this process "
                "does not serve and cannot forward to"
            )
        logger.info(
            "forwarding %s message of run %s to deployment %s",
            message.kind,
            message.run_id,
            message.deployment_id,
        )
        self._forwarder(message, receive_count)

    def _stray(self, message: Message) -> bool:
        """A message nobody here can run: drop it if storage says it has nothing to do
        (its run is gone, ended, or pinned to another deployment than it names)."""
        run = self.world.get_run(message.run_id)
        if run is not None and not run.ended and run.deployment_id == message.deployment_id:
            return False
        logger.warning(
            "%s message of run %s for deployment %s dropped: %s",
            message.kind,
            message.run_id,
            message.deployment_id,
            "no such run"
            if run is None
            else f"the run {run.status}"
            if run.ended
            else f"the run is pinned to deployment {run.deployment_id}",
            extra={"run_id": message.run_id},
        )
        return True

    # --- the journal and the dispatcher, for the client API and the shells -----------------

    def history(self, run_id: str, *, fresh: bool = True) -> History:
        """The run item and its whole event log (see :meth:`Journal.history`)."""
        return self.journal.history(run_id, fresh=fresh)

    def readable_history(self, run_id: str) -> History:
        """Like :meth:`history`, leaving out events that cannot be read back."""
        try:
            return self.journal.history(run_id)
        except UnreadableHistoryError:
            return self.journal.readable(run_id)

    def known(self, run_id: str) -> RunRecord | None:
        """What this process last saw of the run, without a read."""
        return self.journal.known(run_id)

    def remember_created(self, record: RunRecord, event: Event) -> None:
        self.journal.remember_created(record, event)

    def notify(self, events: list[Event]) -> None:
        self.journal.notify(events)

    def append(self, run_id: str, expected_seq: int, batch: AppendBatch) -> int:
        return self.journal.append(run_id, expected_seq, batch)

    def send(self, *messages: Outgoing) -> None:
        self.dispatch.send(*messages)

    def send_or_leave_to_sweep(self, message: Outgoing) -> None:
        self.dispatch.send_or_leave_to_sweep(message)

    def delay_seconds(self, moment: datetime, now: datetime | None = None) -> int:
        return self.dispatch.delay_seconds(moment, now)

    def workflow_message(self, run: RunRecord, delay_seconds: int = 0) -> Outgoing:
        return workflow_message(run, delay_seconds)

    def step_message(self, run: RunRecord, correlation_id: str, delay_seconds: int = 0) -> Outgoing:
        return step_message(run, correlation_id, delay_seconds)

    # --- runs --------------------------------------------------------------------------

    def get_record(self, run_id: str) -> RunRecord:
        record = self.world.get_run(run_id)
        if record is None:
            raise RunNotFoundError(run_id)
        return record

    def cancel(self, run_id: str) -> None:
        """Record ``run_cancelled`` (and release its hooks) unless the run already ended.

        Steps already running finish, but their results no longer resume the run.
        """
        _recovery.end(self, run_id, "cancelled", None)

    def fail(self, run_id: str, error: ErrorInfo) -> None:
        """Record ``run_failed`` with ``error`` (and release its hooks) unless it ended."""
        _recovery.end(self, run_id, "failed", error)

    def mark_stuck(self, run_id: str, reason: str, kind: str = "delivery") -> None:
        """Mark the run as unable to advance on its own, with the reason."""
        _recovery.mark_stuck(self, run_id, reason, kind)

    def retry(self, run_id: str) -> str:
        """Bring back a stuck run, or one the runtime failed (see ``_recovery.retry``)."""
        return _recovery.retry(self, run_id)

    def redrive(self, limit: int | None = None) -> dict[str, int]:
        """Move dead-lettered messages back to their queues; clear their runs' stuck marks.

        Returns:
            How many messages moved, by queue (``"workflow"``, ``"step"``).
        """
        return _recovery.redrive(self, limit)

    def wake(self, run_id: str, correlation_id: str | None = None) -> list[str]:
        """Complete the run's pending sleeps now; return the ones woken."""
        return _recovery.wake(self, run_id, correlation_id)

    def resume_hook(
        self,
        token: str,
        payload: Any,
        *,
        public: bool = False,
        delivery_key: str | None = None,
    ) -> str:
        """Record ``payload`` for the hook holding ``token``; wake its run.

        Args:
            public: Only resume a hook made by ``create_webhook()`` with a generated
                token (what ``POST /webhooks/{token}`` may resume).
            delivery_key: Record a delivery with this key (an ``Idempotency-Key``, a
                request id) once: repeating it returns the same run id, recording
                nothing more.

        Raises:
            HookNotFoundError: unknown token, its run ended, or (``public``) a hook
                that is not a webhook.
        """
        return _recovery.resume_hook(self, token, payload, public=public, delivery_key=delivery_key)

    def wake_stalled(
        self,
        older_than: timedelta,
        *,
        limit: int = 1000,
        already: set[tuple[str, int]] | None = None,
    ) -> list[RunRecord]:
        """Wake runs that wait for a message nobody will send (see ``_sweep``)."""
        return _sweep.wake_stalled(self, older_than, limit=limit, already=already)

    def child_runs(self, run_id: str) -> list[RunRecord]:
        """Runs started from a step of ``run_id``, oldest first."""
        return self.world.child_runs(run_id)

    def timeline(self, run_id: str) -> RunState:
        """The folded state of the run, with its children.

        Raises:
            RunNotFoundError: no such run.
        """
        run, events = self.readable_history(run_id)
        if run is None:
            raise RunNotFoundError(run_id)
        state = RunState.fold(events)
        state.children = [
            ChildRun(
                run_id=child.run_id,
                workflow_name=child.workflow_name,
                status=child.status,
                spawned_by=child.parent_step,
                created_at=child.created_at,
                completed_at=child.completed_at,
            )
            for child in self.child_runs(run_id)
        ]
        return state

    def wait(self, run_id: str, timeout: float | None) -> RunRecord:
        """Block until the run ends (or ``timeout`` seconds pass); return its record."""
        if self._waiter is not None:
            record = self._waiter(run_id, timeout) or self.get_record(run_id)
            if not record.ended:
                raise RunTimeoutError(f"run {run_id} has not ended (status {record.status})")
            return record
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.05
        while True:
            record = self.get_record(run_id)
            if record.ended:
                return record
            if deadline is not None and time.monotonic() >= deadline:
                raise RunTimeoutError(f"run {run_id} has not ended after {timeout}s")
            time.sleep(
                pause if deadline is None else min(pause, max(0.0, deadline - time.monotonic()))
            )
            pause = min(pause * 2, 2.0)


def refuse_in_workflow(api: str) -> None:
    """Raise (and fail the run) when ``api`` is called directly in workflow code."""
    from ..core import current_workflow

    runtime = current_workflow()
    if runtime is not None:
        raise runtime.refuse(
            WorkflowContextError(
                f"{api}() cannot be called directly in workflow code: it talks to storage "
                "and queues, which would not replay deterministically. Wrap it in a @step "
                f"and call that step from the workflow (e.g. `@step async def spawn(): "
                f"return {api}(...).run_id`)."
            )
        )
