"""What a workflow turn, a step attempt and the recovery tools work with.

:class:`Services` holds the parts (storage through the journal, queues through the
dispatcher, the code per deployment, the clock and the timing rules); the
:class:`~adapter.runtime.Runtime` is built on it and routes messages to the handlers,
which take the services, not the runtime: nothing here imports back.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from ..world import World
from ._deployments import Deployments
from ._journal import Journal
from ._live import LiveTurns
from ._messages import Dispatcher

Clock = Callable[[], datetime]
Annotations = Mapping[str, str | int | bool]
Trace = Callable[[str, Annotations], AbstractContextManager[object]]
"""Opens a trace segment named by its first argument, with the annotations of the
second (``run_id``, ``step_name``...), around the work done inside it."""

TURN_SEGMENT = "## workflow turn"
"""The trace segment around each workflow turn (annotated with ``run_id``)."""
STEP_SEGMENT = "## step attempt"
"""The trace segment around each step attempt (``run_id``, ``step_name``, ``attempt``)."""

DEFAULT_STEP_LEASE = timedelta(seconds=300)
"""How long a step attempt owns its step when its invocation's deadline is unknown:
the function timeout of template.yaml."""
LEASE_MARGIN = timedelta(seconds=5)
"""Added to an invocation's deadline: clocks differ a little between machines."""
STALE_AFTER = timedelta(minutes=2)
"""Open work whose message is this much overdue may have lost it: it is sent again."""


def utc_now() -> datetime:
    """Wall-clock time, UTC."""
    return datetime.now(UTC)


def no_trace(name: str, annotations: Annotations) -> AbstractContextManager[object]:
    """The default :data:`Trace`: nothing is traced."""
    return contextlib.nullcontext()


def wall_pause(moment: datetime) -> None:
    """Wait (really) until ``moment``: for the last fraction of a second of a timer."""
    seconds = (moment - utc_now()).total_seconds()
    if seconds > 0:
        time.sleep(min(seconds, 2.0))


class Services:
    """The parts of a runtime.

    Args:
        world: Storage and queues.
        deployments: Which code serves which version, and how ids resolve.
        clock: Source of time (virtual in ``LocalRuntime``).
        step_lease: How long a step attempt owns its step when its invocation's
            deadline is unknown (outside Lambda). In Lambda the lease ends at the
            invocation's deadline (plus a few seconds): no invocation outlives it.
        api_url: Base URL of the HTTP API, for ``create_webhook().url``.
        pause_until: Waits until a moment less than a second or two ahead (a timer
            that arrived a fraction early); ``LocalRuntime`` moves its clock instead.
        stale_after: See :data:`STALE_AFTER`.
        trace: Opens a trace segment around each workflow turn and step attempt (the
            Lambda handler sets the powertools Tracer's X-Ray subsegments here).
    """

    def __init__(
        self,
        world: World,
        *,
        deployments: Deployments,
        clock: Clock = utc_now,
        step_lease: timedelta = DEFAULT_STEP_LEASE,
        api_url: str = "",
        pause_until: Callable[[datetime], None] = wall_pause,
        stale_after: timedelta = STALE_AFTER,
        trace: Trace = no_trace,
    ) -> None:
        self.world = world
        self.deployments = deployments
        self.clock = clock
        self.step_lease = step_lease
        self.api_url = api_url
        self.pause_until = pause_until
        self.stale_after = stale_after
        self.trace = trace
        self.journal = Journal(world)
        self.dispatch = Dispatcher(world, clock)
        self.live_turns = LiveTurns()
        """Suspended workflow turns kept for the next message of their run."""

    def lease_until(self, now: datetime, deadline: datetime | None) -> datetime:
        """Until when a step attempt claimed ``now`` owns its step."""
        if deadline is not None:
            return max(deadline, now) + LEASE_MARGIN
        return now + self.step_lease
