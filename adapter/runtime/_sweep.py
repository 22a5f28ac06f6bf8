"""The stall sweep: wake runs that wait for a message nobody will send.

A writer that dies between its write and its send leaves a run with nothing in its
queue: ``start()`` after writing the run (still ``pending``), ``resume_hook()`` after
recording the payload (``hook_received`` last), a turn or a step after recording work
whose messages never left, a message deleted or lost to a dead-letter queue. The sweep
finds such runs from their run items and sends them a workflow message; a turn that
finds nothing new sends again whatever open work is overdue (``_decide.stale_work``).

What it costs: runs waiting on sleeps or hooks alone carry an idle mark on their run
item and are skipped without a read until their next sleep ends; other running runs
cost one query each (the run item and the newest event): those are the runs that are
moving anyway.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ..world import RunRecord
from ._journal import SWEEP_MARKS
from ._messages import workflow_message
from ._services import Services

logger = logging.getLogger(__name__)


def wake_stalled(
    services: Services,
    older_than: timedelta,
    *,
    limit: int = 1000,
    already: set[tuple[str, int]] | None = None,
) -> list[RunRecord]:
    """Send a workflow message to runs idle for longer than ``older_than`` that wait for
    something only a message brings.

    Args:
        older_than: How long a run must have been idle.
        limit: At most this many runs of each status are looked at.
        already: ``(run_id, last_seq)`` pairs woken before: skipped, and the pairs
            woken now are added.

    Returns:
        The runs that were sent a message.
    """
    now = services.clock()
    cutoff = now - older_than
    stalled: list[RunRecord] = []
    for status in ("pending", "running"):
        for run in services.world.list_runs(workflow_name=None, status=status, limit=limit):
            if (run.run_id, run.last_seq) in (already or ()):
                continue
            woken = _stalled(services, run, now, cutoff)
            if woken is not None and (woken.run_id, woken.last_seq) not in (already or ()):
                stalled.append(woken)
    if stalled:
        logger.warning("waking %d stalled run(s)", len(stalled))
        services.dispatch.send(*(workflow_message(run) for run in stalled))
        if already is not None:
            already.update((run.run_id, run.last_seq) for run in stalled)
    return stalled


def _stalled(
    services: Services, run: RunRecord, now: datetime, cutoff: datetime
) -> RunRecord | None:
    """``run`` (as read now) if it has been idle since before ``cutoff`` for no reason."""
    if run.stuck is not None:
        return None  # visible already; `adapter runs retry` or a redrive moves it
    if run.status == "pending" or run.last_event in SWEEP_MARKS:
        return run if (run.updated_at or run.created_at) <= cutoff else None
    if run.idle and (run.idle_until is None or run.idle_until > cutoff):
        return None  # waits on a hook, or sleeps: its own message comes
    if (run.updated_at or run.created_at) > cutoff:
        return None  # its run item was written lately: it moved
    fresh = services.world.get_run(run.run_id)
    if fresh is None or fresh.ended:
        return None
    newest = fresh.newest_at or fresh.updated_at or fresh.created_at
    return fresh if newest <= cutoff else None
