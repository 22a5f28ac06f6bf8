"""Queue messages: building them (pure) and sending them (the :class:`Dispatcher`)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime

from ..core.messages import StepMessage, WorkflowMessage
from ..world import Outgoing, RunRecord, World

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def delay_until(moment: datetime, now: datetime, max_delay: int, *, early: bool = False) -> int:
    """Whole seconds of message delay reaching ``moment``, as far as one message goes.

    SQS delays are whole seconds. Rounding up (the default) never arrives early; a
    timer rounds down (``early``) and waits out the last fraction of a second where it
    lands, so it wakes at its moment, not up to a second late on every hop.
    """
    seconds = (moment - now).total_seconds()
    whole = math.floor(seconds) if early else math.ceil(seconds - 1e-9)
    return max(0, min(max_delay, whole))


def workflow_message(run: RunRecord, delay_seconds: int = 0) -> Outgoing:
    """Run the next turn of ``run``."""
    return Outgoing(
        WorkflowMessage(run_id=run.run_id, deployment_id=run.deployment_id), delay_seconds
    )


def step_message(run: RunRecord, correlation_id: str, delay_seconds: int = 0) -> Outgoing:
    """Run (or retry) step ``correlation_id`` of ``run``."""
    return Outgoing(
        StepMessage(
            run_id=run.run_id, deployment_id=run.deployment_id, correlation_id=correlation_id
        ),
        delay_seconds,
    )


def timer_message(
    run_id: str,
    deployment_id: str,
    timer: str | None,
    resume_at: datetime,
    now: datetime,
    max_delay: int,
) -> Outgoing:
    """Wake the run at ``resume_at`` (the first hop, when it is further than one delay)."""
    message = WorkflowMessage(
        run_id=run_id, deployment_id=deployment_id, timer=timer, resume_at=resume_at
    )
    return Outgoing(message, delay_until(resume_at, now, max_delay, early=True))


def target(out: Outgoing) -> str | None:
    """The step or timer a message is for (``None``: a plain workflow turn)."""
    message = out.message
    return message.correlation_id if isinstance(message, StepMessage) else message.timer


class Dispatcher:
    """Sends messages through the world; every send is logged once here.

    Args:
        world: The queues.
        clock: The runtime's clock (virtual in ``LocalRuntime``).
    """

    def __init__(self, world: World, clock: Clock) -> None:
        self.world = world
        self.clock = clock

    @property
    def max_delay(self) -> int:
        return self.world.max_delay_seconds

    def send(self, *messages: Outgoing) -> None:
        if messages:
            logger.debug("sending %d message(s)", len(messages))
            self.world.send(messages)

    def send_or_leave_to_sweep(self, message: Outgoing) -> None:
        """Send a wake-up whose loss the stall sweep repairs.

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

    def delay_seconds(self, moment: datetime, now: datetime | None = None) -> int:
        """A message delay reaching ``moment`` (never early)."""
        return delay_until(moment, now or self.clock(), self.max_delay)

    def timer(
        self, run_id: str, deployment_id: str, timer: str | None, resume_at: datetime
    ) -> Outgoing:
        return timer_message(run_id, deployment_id, timer, resume_at, self.clock(), self.max_delay)
