"""Watching a run until it ends: ``start --wait``, ``runs result --wait`` and
``runs events --follow``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import suppress

from ..core.errors import RunTimeoutError, WorkflowRunCancelledError, WorkflowRunFailedError
from ..core.events import Event
from ..runtime import Run
from ..world import RunRecord
from ._connection import history
from ._render import console
from ._timeline import activity, build_timeline

POLL_SECONDS = 0.5
"""How long one wait for the run's end lasts before its log is read again."""
MIN_PAUSE = 0.2
"""The least time between two reads: a runtime that returns at once (nothing scheduled)
must not spin the CPU."""


def poll(run: Run) -> Iterator[tuple[RunRecord, list[Event]]]:
    """The run's record and log, read again each time it may have moved on, until it
    ends: the last pair has the ended record.

    Waiting goes through ``Run.result``, so under ``LocalRuntime`` it drives the runtime
    (a run there moves on only while someone waits for it).
    """
    while True:
        began = time.monotonic()
        with suppress(RunTimeoutError, WorkflowRunFailedError, WorkflowRunCancelledError):
            run.result(timeout=POLL_SECONDS)  # returns early when the run ends
        record, events = history(run.run_id)
        yield record, events
        if record.ended:
            return
        time.sleep(max(0.0, MIN_PAUSE - (time.monotonic() - began)))


def wait_for_end(run: Run, timeout: float | None, *, quiet: bool) -> RunRecord:
    """Wait for ``run`` to end, with a spinner on stderr unless ``quiet``; return its record.

    Raises:
        RunTimeoutError: the run did not end within ``timeout`` seconds.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    out = console(stderr=True)  # progress never mixes with the result on stdout
    with out.status(f"run {run.run_id}: starting", spinner="dots") as status:
        for record, events in poll(run):
            if record.ended:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise RunTimeoutError(
                    f"run {run.run_id} is still {record.status} after {timeout:g}s; "
                    f"follow it with `adapter runs show {run.run_id}`"
                )
            if not quiet:
                status.update(
                    f"run {run.run_id}: {record.status}  {activity(build_timeline(events))}"
                )
    return record
