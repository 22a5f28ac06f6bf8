"""The runtime as the dev stack runs it: quick recovery, scaled sleeps, loud failures.

The dev stack serves ``$LATEST`` with the loaded modules, like the environment's runtime
(:func:`adapter.runtime.env_runtime`), but tuned for one machine:

* open work whose message is :data:`DEV_STALE_AFTER` overdue is sent again (two minutes
  on AWS), and a sweep (:class:`Sweeper`) wakes runs left without a message at start-up
  (after a crash or a restore) and every few seconds after that;
* with a sleep scale (``--fast-sleeps``), each sleep is woken early through
  :meth:`Runtime.wake`: the log records the ``wait_completed`` as any wake, at the time
  it happened, and keeps the ``resume_at`` the code asked for;
* with ``-v``, the traceback of every failed step attempt is printed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from ..core.events import Event, RunFailed, StepFailed, StepRetrying, WaitCreated
from ..runtime import Deployments, Runtime

logger = logging.getLogger("adapter.dev")

DEV_STALE_AFTER = timedelta(seconds=10)
"""Open work whose message is this much overdue is sent again (a crash lost it)."""
SWEEP_EVERY_SECONDS = 5.0
"""How often the dev stack looks for runs left without a message."""
FAST_SLEEP_SCALE = 0.01
"""``--fast-sleeps``: a day lasts about fifteen minutes, a minute under a second."""


def dev_runtime(api_url: str, *, stale_after: timedelta = DEV_STALE_AFTER) -> Runtime:
    """The runtime serving ``$LATEST`` with the default registry, on the resources the
    ``ADAPTER_*`` variables name (set them first)."""
    from ..core import default_registry
    from ..world.aws import connect

    world = connect().world
    deployments = Deployments("$LATEST", {"$LATEST": default_registry})
    return Runtime(world, deployments=deployments, api_url=api_url, stale_after=stale_after)


class Sweeper:
    """Wakes runs that wait for a message nobody will send (``Runtime.wake_stalled``):
    once at start-up with no grace (every invocation of the previous process is dead),
    then every :data:`SWEEP_EVERY_SECONDS` for runs idle longer than the stale delay."""

    def __init__(self, runtime: Runtime, every: float = SWEEP_EVERY_SECONDS) -> None:
        self._runtime = runtime
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dev-sweep", daemon=True)
        self.swept = 0
        """Runs woken so far."""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _loop(self) -> None:
        older_than = timedelta(0)
        while not self._stop.is_set():
            try:
                self.swept += len(self._runtime.wake_stalled(older_than))
            except Exception:  # moto stopping, or a hiccup: the next sweep tries again
                if not self._stop.is_set():
                    logger.warning("the stalled-run sweep failed", exc_info=True)
            older_than = self._runtime.stale_after
            self._stop.wait(self._every)


class FastSleeps:
    """Wakes each sleep this process records after ``scale`` times its length.

    A sleep recorded by an earlier process keeps its timer message (it wakes on time).
    """

    def __init__(self, runtime: Runtime, scale: float) -> None:
        if not 0 < scale <= 1:
            raise ValueError(f"the sleep scale must be in (0, 1], got {scale}")
        self._runtime = runtime
        self._scale = scale
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._closed = False

    def install(self) -> None:
        self._runtime.listeners.append(self._on_event)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()

    def _on_event(self, event: Event) -> None:
        if not isinstance(event, WaitCreated):
            return
        length = (event.data.resume_at - event.created_at).total_seconds()
        timer = threading.Timer(
            max(0.0, length * self._scale),
            self._wake,
            args=(event.run_id, event.correlation_id),
        )
        timer.daemon = True
        with self._lock:
            if self._closed:
                return
            self._timers.add(timer)
        timer.start()

    def _wake(self, run_id: str, correlation_id: str | None) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive()}
            if self._closed:
                return
        try:
            self._runtime.wake(run_id, correlation_id)
        except Exception:  # its timer message still wakes it, on time
            logger.warning("waking the sleep %s of run %s failed", correlation_id, run_id)


def print_failed_attempts(runtime: Runtime, out: Callable[[str], None]) -> None:
    """Print the traceback of every failed step attempt and failed run this process
    records (``adapter dev -v``)."""

    def on_event(event: Event) -> None:
        if isinstance(event, RunFailed):
            error = event.data.error
            out(
                f"run {event.run_id} failed: {error.type}: {error.message}\n"
                f"{(error.stack or '(no traceback recorded)').rstrip()}"
            )
            return
        if isinstance(event, StepFailed):
            error, what = event.data.error, "failed for good"
        elif isinstance(event, StepRetrying) and event.data.error is not None:
            error, what = event.data.error, f"failed; retrying at {event.data.retry_after}"
        else:
            return
        attempt = f" attempt {error.attempt}" if error.attempt else ""
        out(
            f"step {error.step_name or event.correlation_id}{attempt} of {event.run_id} {what}: "
            f"{error.type}: {error.message}\n{(error.stack or '(no traceback recorded)').rstrip()}"
        )

    runtime.listeners.append(on_event)
