"""The runtime: joins the replay engine (core) with storage and queues (world)."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..core import serde
from ..core.errors import (
    ConflictError,
    DeploymentNotFoundError,
    HookNotFoundError,
    RunNotFoundError,
    RunTimeoutError,
    WorkflowContextError,
)
from ..core.events import (
    ErrorInfo,
    Event,
    HookReceived,
    HookReceivedData,
    RunCancelled,
    RunFailed,
    RunFailedData,
)
from ..core.messages import Message, StepMessage, WorkflowMessage
from ..world import AppendBatch, Outgoing, RunRecord, RunStatus, RunUpdate, World
from ._deployments import Deployments
from ._live import LiveTurns

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_CONFLICT_RETRIES = 8
_CACHE_RUNS = 256
# Events after which a run may wait for a wake-up its writer died before sending: the
# stall sweep finds them on the run item (see wake_stalled).
_SWEEP_MARKS = frozenset({"hook_received"})


def utc_now() -> datetime:
    """Wall-clock time, UTC."""
    return datetime.now(UTC)


class Runtime:
    """Runs workflow turns and step attempts against a :class:`~adapter.world.World`.

    Args:
        world: Storage and queues.
        deployments: Which code serves which version, and how ids resolve.
        clock: Source of time (virtual in ``LocalRuntime``).
        step_lease: How long a step attempt owns its step before another delivery of
            the same message may take over. Keep it below the step queue's visibility
            timeout and above the function timeout.
        waiter: How ``Run.result()`` waits (returning the ended run's record, or
            ``None`` to have it read); the default polls storage with backoff.
        api_url: Base URL of the HTTP API, for ``create_webhook().url``.
        forwarder: Delivers a message to the version that must run it, when that
            version's code is not loaded here (on AWS: an async Lambda invoke).
    """

    def __init__(
        self,
        world: World,
        *,
        deployments: Deployments,
        clock: Clock = utc_now,
        step_lease: timedelta = timedelta(seconds=880),
        waiter: Callable[[str, float | None], RunRecord | None] | None = None,
        api_url: str = "",
        forwarder: Callable[[Message, int], None] | None = None,
    ) -> None:
        self.world = world
        self.api_url = api_url
        self.deployments = deployments
        self._forwarder = forwarder
        self.listeners: list[Callable[[Event], None]] = []
        """Called with every event this runtime recorded (metrics, tests)."""
        self.clock = clock
        self.step_lease = step_lease
        self._waiter = waiter
        self._cache: OrderedDict[str, tuple[RunRecord, list[Event]]] = OrderedDict()
        self.live_turns = LiveTurns()
        """Suspended workflow turns kept for the next message of their run."""
        self._cache_lock = threading.Lock()

    # --- messages ----------------------------------------------------------------------

    def process(self, message: Message, *, receive_count: int = 1) -> None:
        """Handle one queue message. Raising means: deliver it again later."""
        from ._step import run_step_attempt
        from ._turn import run_workflow_turn

        if self.deployments.registry_for(message.deployment_id) is None:
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
            return
        if isinstance(message, WorkflowMessage):
            run_workflow_turn(self, message, redelivered=receive_count > 1)
        else:
            run_step_attempt(self, message, receive_count=receive_count)

    def append(self, run_id: str, expected_seq: int, batch: AppendBatch) -> int:
        """Append through the world, then tell the listeners what was recorded."""
        with self._cache_lock:
            hit = self._cache.get(run_id)
        # What this process saw, if it is where this append starts.
        current = hit if hit is not None and hit[0].last_seq == expected_seq else None
        if batch.run_update is None and current is not None:
            # The run item needs no write unless the sweep's mark is set or cleared.
            batch.touch_run = current[0].last_event in _SWEEP_MARKS or any(
                e.type in _SWEEP_MARKS for e in batch.events
            )
        try:
            seq = self.world.append(run_id, expected_seq, batch)
        except ConflictError:
            with self._cache_lock:
                self._cache.pop(run_id, None)
            raise
        except Exception:
            # An error without a verdict (a 5xx, a timeout): the write may have gone
            # through. Look: if our first event is there, exactly, it did.
            with self._cache_lock:
                self._cache.pop(run_id, None)
            if not self._landed(run_id, expected_seq, batch):
                raise
            logger.warning("append to run %s reported an error but was recorded", run_id)
            seq = expected_seq + len(batch.events)
        if current is not None:
            # What we wrote is the log now: the next decision needs no read.
            self._remember(_updated(current[0], seq, batch), current[1] + batch.events)
        self.notify(batch.events)
        return seq

    def _landed(self, run_id: str, expected_seq: int, batch: AppendBatch) -> bool:
        try:
            _, events = self.history(run_id)
        except Exception:
            return False
        recorded = {e.seq: e for e in events}
        return all(recorded.get(e.seq) == e for e in batch.events)

    def notify(self, events: list[Event]) -> None:
        """Tell the listeners about events just recorded."""
        for event in events:
            for listener in self.listeners:
                try:
                    listener(event)
                except Exception:  # observers must never break recording
                    logger.exception("event listener failed")

    def send_or_leave_to_sweep(self, message: Outgoing) -> None:
        """Send a wake-up whose loss the stall sweep repairs (see :meth:`wake_stalled`).

        The write it follows is recorded: failing the caller now would only make it
        retry, and record the same thing twice.
        """
        try:
            self.send(message)
        except Exception:
            logger.warning(
                "could not send the wake-up of run %s; the stall sweep will",
                message.message.run_id,
                exc_info=True,
            )

    def send(self, *messages: Outgoing) -> None:
        """Send messages; a thin pass-through kept here so every send is logged once."""
        if messages:
            logger.debug("sending %d message(s)", len(messages))
            self.world.send(messages)

    def delay_seconds(self, moment: datetime, now: datetime | None = None) -> int:
        """A message delay reaching ``moment``, as far as one message can be delayed."""
        seconds = (moment - (now or self.clock())).total_seconds()
        return max(0, min(self.world.max_delay_seconds, int(seconds + 0.999)))

    def workflow_message(self, run: RunRecord, delay_seconds: int = 0) -> Outgoing:
        return Outgoing(
            WorkflowMessage(run_id=run.run_id, deployment_id=run.deployment_id), delay_seconds
        )

    def step_message(self, run: RunRecord, correlation_id: str, delay_seconds: int = 0) -> Outgoing:
        return Outgoing(
            StepMessage(
                run_id=run.run_id, deployment_id=run.deployment_id, correlation_id=correlation_id
            ),
            delay_seconds,
        )

    # --- history, cached per process ------------------------------------------------------

    def history(self, run_id: str, *, fresh: bool = True) -> tuple[RunRecord | None, list[Event]]:
        """The run item and its whole event log, reading only events not cached yet.

        Args:
            fresh: ``False`` returns what this process last saw (no read) when it has
                it. Deciding from it is safe only when the decision ends in an append:
                the append's seq condition fails if the log moved on. A decision to do
                nothing must be confirmed with a fresh read.
        """
        with self._cache_lock:
            hit = self._cache.get(run_id)
        if hit is not None and not fresh:
            return hit[0], list(hit[1])
        cached = list(hit[1]) if hit is not None else []
        for _ in range(MAX_CONFLICT_RETRIES):
            after = cached[-1].seq if cached else 0
            run, new = self.world.read(run_id, after)
            if run is None:
                return None, []
            if new and new[0].seq != after + 1:
                cached, new = [], []  # cache does not join up: start over from the top
                continue
            events = cached + new
            # The run item is read after the events (it sorts last): if it is ahead of
            # them, someone appended between our pages. It may be behind (it is not
            # written with every append), never ahead of a complete read.
            if events and events[-1].seq >= run.last_seq:
                run = replace(run, last_seq=events[-1].seq)
                self._remember(run, events)
                return run, events
            cached = events  # someone appended between our pages: read the rest
        raise ConflictError(f"could not read a consistent log for run {run_id}")

    def known(self, run_id: str) -> RunRecord | None:
        """What this process last saw of the run, without a read (``None``: nothing).

        A hint only: another process may have moved the run on since.
        """
        with self._cache_lock:
            hit = self._cache.get(run_id)
        return hit[0] if hit is not None else None

    def remember_created(self, record: RunRecord, event: Event) -> None:
        """Keep a run this process just created, so its first turn here reads nothing."""
        self._remember(record, [event])

    def _remember(self, run: RunRecord, events: list[Event]) -> None:
        with self._cache_lock:
            self._cache[run.run_id] = (run, events)
            self._cache.move_to_end(run.run_id)
            while len(self._cache) > _CACHE_RUNS:
                self._cache.popitem(last=False)

    # --- runs --------------------------------------------------------------------------

    def get_record(self, run_id: str) -> RunRecord:
        record = self.world.get_run(run_id)
        if record is None:
            raise RunNotFoundError(run_id)
        return record

    def cancel(self, run_id: str) -> None:
        """Record ``run_cancelled`` (and dispose its hooks) unless the run already ended.

        Steps already running finish, but their results no longer resume the run.
        """
        self._end(run_id, "cancelled", None)

    def fail(self, run_id: str, error: ErrorInfo) -> None:
        """Record ``run_failed`` with ``error`` (and dispose its hooks) unless it ended.

        Used when the run's own messages keep failing: the run must end visibly failed,
        not stay "running" with its last message in a dead-letter queue.
        """
        self._end(run_id, "failed", error)

    def _end(self, run_id: str, status: RunStatus, error: ErrorInfo | None) -> None:
        from ._turn import dispose_hooks

        for _ in range(MAX_CONFLICT_RETRIES):
            run, events = self.history(run_id)
            if run is None:
                raise RunNotFoundError(run_id)
            if run.ended:
                return
            now = self.clock()
            seqs = itertools.count(run.last_seq + 1)
            batch = AppendBatch(run_update=RunUpdate(status=status, completed_at=now, error=error))
            if error is None:
                batch.add([RunCancelled(run_id=run_id, seq=next(seqs), created_at=now)])
            else:
                data = RunFailedData(error=error)
                batch.add([RunFailed(run_id=run_id, seq=next(seqs), created_at=now, data=data)])
            for event, write in dispose_hooks(run, open_hooks(events), seqs.__next__, now):
                batch.add([event], hooks=[write])
            try:
                self.append(run_id, run.last_seq, batch)
                self.live_turns.discard(run_id)
                logger.info("run %s %s", run_id, status)
                return
            except ConflictError:
                continue
        raise ConflictError(f"could not end run {run_id}: too much contention")

    def wake_stalled(
        self,
        older_than: timedelta,
        *,
        limit: int = 1000,
        already: set[tuple[str, int]] | None = None,
    ) -> list[RunRecord]:
        """Send a workflow message to runs that wait for a turn nobody will start.

        A caller that dies between writing and sending — ``start()`` after writing the
        run, ``resume_hook()`` after recording the payload — leaves a run with nothing in
        its queue: still ``pending``, or ``running`` with an unread ``hook_received`` last.
        Those idle for longer than ``older_than`` get a message; a run that did not need
        one replays and records nothing.

        Args:
            older_than: How long a run must have been idle.
            limit: At most this many runs of each status are looked at.
            already: ``(run_id, last_seq)`` pairs woken before: skipped, and the pairs
                woken now are added.

        Returns:
            The runs that were sent a message.
        """
        cutoff = self.clock() - older_than
        stalled = [
            run
            for status in ("pending", "running")
            for run in self.world.list_runs(workflow_name=None, status=status, limit=limit)
            if (run.status == "pending" or run.last_event in _SWEEP_MARKS)
            and (run.updated_at or run.created_at) <= cutoff
            and (run.run_id, run.last_seq) not in (already or ())
        ]
        if stalled:
            logger.warning("waking %d stalled run(s)", len(stalled))
            self.send(*(self.workflow_message(run) for run in stalled))
            if already is not None:
                already.update((run.run_id, run.last_seq) for run in stalled)
        return stalled

    def resume_hook(self, token: str, payload: Any) -> str:
        """Record ``payload`` for the hook holding ``token``; wake its run.

        Payloads are appended one at a time under the run's seq condition, so two
        arriving together are both recorded, in the order they won.

        Raises:
            HookNotFoundError: unknown token, or its run ended.
        """
        hook = self.world.get_hook(token)
        if hook is None:
            raise HookNotFoundError(f"no active hook has token {token!r}")
        tree = serde.to_json(payload, what="the hook payload")
        for _ in range(MAX_CONFLICT_RETRIES):
            run = self.world.get_run(hook.run_id)
            if run is None or run.ended:
                raise HookNotFoundError(
                    f"the run of hook {token!r} has ended; the hook is disposed"
                )
            now = self.clock()
            batch = AppendBatch()
            batch.add(
                [
                    HookReceived(
                        run_id=run.run_id,
                        seq=run.last_seq + 1,
                        correlation_id=hook.correlation_id,
                        created_at=now,
                        data=HookReceivedData(payload=tree),
                    )
                ]
            )
            try:
                self.append(run.run_id, run.last_seq, batch)
            except ConflictError:
                continue
            self.send_or_leave_to_sweep(self.workflow_message(run))
            return run.run_id
        raise ConflictError(f"could not resume hook {token!r}: too much contention")

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


def open_hooks(events: list[Event]) -> list[tuple[str, str]]:
    """``(correlation_id, token)`` of hooks created (without conflict) and not disposed."""
    hooks: dict[str, str] = {}
    for event in events:
        if event.type == "hook_created" and not event.data.conflict and event.correlation_id:
            hooks[event.correlation_id] = event.data.token
        elif event.type == "hook_disposed" and event.correlation_id:
            hooks.pop(event.correlation_id, None)
    return list(hooks.items())


def _updated(run: RunRecord, last_seq: int, batch: AppendBatch) -> RunRecord:
    """The run item as this append left it (``last_seq`` is the log's)."""
    update = batch.run_update
    last = batch.events[-1]
    changes: dict[str, Any] = {"last_seq": last_seq}
    if batch.writes_run:
        changes.update(last_event=last.type, updated_at=last.created_at)
    if update is not None:
        if update.status:
            changes["status"] = update.status
        if update.started_at:
            changes["started_at"] = update.started_at
        if update.completed_at:
            changes["completed_at"] = update.completed_at
        if update.has_output:
            changes["output"] = update.output
        if update.error:
            changes["error"] = update.error
    return replace(run, **changes)
