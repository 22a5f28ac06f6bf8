"""The run journal: each run's item and event log as this process last saw them.

Reads go through it (only events not cached yet are read), and so do appends (what
was written becomes the cached log, so the next decision needs no read). Listeners
hear about every event this process recorded (metrics, tests).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..core.errors import ConflictError
from ..core.events import Event
from ..world import AppendBatch, RunRecord, World

logger = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 8
_CACHE_RUNS = 256
# Events after which a run may wait for a wake-up its writer died before sending: the
# stall sweep finds them on the run item (see _sweep.wake_stalled).
SWEEP_MARKS = frozenset({"hook_received"})

History = tuple[RunRecord | None, list[Event]]


class Journal:
    """Cached reads and conditional appends of run logs, for one process.

    Args:
        world: Storage.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self.listeners: list[Callable[[Event], None]] = []
        """Called with every event this process recorded."""
        self._cache: OrderedDict[str, tuple[RunRecord, list[Event]]] = OrderedDict()
        self._lock = threading.Lock()

    # --- reading ---------------------------------------------------------------------

    def history(self, run_id: str, *, fresh: bool = True) -> History:
        """The run item and its whole event log, reading only events not cached yet.

        Args:
            fresh: ``False`` returns what this process last saw (no read) when it has
                it. Deciding from it is safe only when the decision ends in an append:
                the append's seq condition fails if the log moved on. A decision to do
                nothing must be confirmed with a fresh read.

        Raises:
            UnreadableHistoryError: an event or its payload cannot be read back.
        """
        with self._lock:
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

    def readable(self, run_id: str) -> History:
        """The run item and the events that can still be read (no cache, no errors).

        For ending a run whose history is partly unreadable: what is left out shows as
        a gap in the seqs.
        """
        run, events = self.world.read(run_id, 0, lenient=True)
        if run is not None and events and events[-1].seq > run.last_seq:
            run = replace(run, last_seq=events[-1].seq)
        if run is not None:
            newest = self.world.get_run(run_id)  # the newest seq, read or not
            if newest is not None and newest.last_seq > run.last_seq:
                run = replace(run, last_seq=newest.last_seq)
        return run, events

    def known(self, run_id: str) -> RunRecord | None:
        """What this process last saw of the run, without a read (``None``: nothing).

        A hint only: another process may have moved the run on since.
        """
        with self._lock:
            hit = self._cache.get(run_id)
        return hit[0] if hit is not None else None

    def remember_created(self, record: RunRecord, event: Event) -> None:
        """Keep a run this process just created, so its first turn here reads nothing."""
        self._remember(record, [event])

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._cache.pop(run_id, None)

    def clear(self) -> None:
        """Forget every run (what a fresh Lambda container knows)."""
        with self._lock:
            self._cache.clear()

    def _remember(self, run: RunRecord, events: list[Event]) -> None:
        with self._lock:
            self._cache[run.run_id] = (run, events)
            self._cache.move_to_end(run.run_id)
            while len(self._cache) > _CACHE_RUNS:
                self._cache.popitem(last=False)

    # --- writing ---------------------------------------------------------------------

    def append(self, run_id: str, expected_seq: int, batch: AppendBatch) -> int:
        """Append through the world, then tell the listeners what was recorded.

        Raises:
            ConflictError: someone appended first (reload and decide again), or a hook
                token is held by another run.
        """
        with self._lock:
            hit = self._cache.get(run_id)
        # What this process saw, if it is where this append starts.
        current = hit if hit is not None and hit[0].last_seq == expected_seq else None
        if current is not None:
            record = current[0]
            if record.stuck is not None:
                batch.clear_stuck = True  # recording is progress: the mark goes
            if batch.run_update is None and batch.idle is None and not record.idle:
                # The run item needs no write unless the sweep's mark is set or cleared
                # (an idle mark is cleared by any write of the item).
                batch.touch_run = record.last_event in SWEEP_MARKS or any(
                    e.type in SWEEP_MARKS for e in batch.events
                )
        try:
            seq = self.world.append(run_id, expected_seq, batch)
        except ConflictError:
            self.forget(run_id)
            raise
        except Exception:
            # An error without a verdict (a 5xx, a timeout): the write may have gone
            # through. Look: if our events are there, exactly, it did.
            self.forget(run_id)
            if not self._landed(run_id, batch):
                raise
            logger.warning("append to run %s reported an error but was recorded", run_id)
            seq = expected_seq + len(batch.events)
        if current is not None:
            # What we wrote is the log now: the next decision needs no read.
            self._remember(_updated(current[0], seq, batch), current[1] + batch.events)
        self.notify(batch.events)
        return seq

    def _landed(self, run_id: str, batch: AppendBatch) -> bool:
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


def _updated(run: RunRecord, last_seq: int, batch: AppendBatch) -> RunRecord:
    """The run item as this append left it (``last_seq`` is the log's)."""
    update = batch.run_update
    last = batch.events[-1]
    changes: dict[str, Any] = {"last_seq": last_seq}
    if batch.writes_run:
        changes.update(
            last_event=last.type,
            updated_at=last.created_at,
            item_seq=last_seq,
            stuck=None,
            idle=batch.idle is not None,
            idle_until=batch.idle.until if batch.idle is not None else None,
        )
    if update is not None:
        if update.reopen:
            changes.update(completed_at=None, error=None)
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
