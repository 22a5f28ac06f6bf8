"""Waiting for a run to end while showing what it does (``start --wait``,
``runs result --wait``)."""

from __future__ import annotations

import time

from ..core.errors import RunTimeoutError, WorkflowRunCancelledError, WorkflowRunFailedError
from ..runtime import Run
from ..world import RunRecord
from ._connection import history
from ._render import console
from ._timeline import activity, build_timeline

POLL_SECONDS = 0.5
"""How long one wait for the run's end lasts before the spinner is refreshed."""


def wait_for_end(run: Run, timeout: float | None, *, quiet: bool) -> RunRecord:
    """Wait for ``run`` to end, with a spinner on stderr unless ``quiet``; return its record.

    Raises:
        RunTimeoutError: the run did not end within ``timeout`` seconds.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    out = console(stderr=True)  # progress never mixes with the result on stdout
    with out.status(f"run {run.run_id}: starting", spinner="dots") as status:
        while True:
            began = time.monotonic()
            try:
                run.result(timeout=POLL_SECONDS)
                break
            except (WorkflowRunFailedError, WorkflowRunCancelledError):
                break
            except RunTimeoutError:
                pass
            record, events = history(run.run_id)
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
            # A runtime that returns at once (nothing scheduled) must not spin the CPU.
            time.sleep(max(0.0, 0.2 - (time.monotonic() - began)))
    return history(run.run_id)[0]
