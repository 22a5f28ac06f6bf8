"""Workflow turns kept alive between messages, so a warm container replays nothing twice.

Replaying a run's whole log on every message makes a run of n steps cost O(n^2) CPU.
A turn whose workflow is suspended can instead be kept, and handed the next message's
new events only. It is kept only while what it saw is a prefix of the log: after a
write that landed, or a decision to do nothing. Anything else (a lost race, an error,
another process moving the run on in a way it did not see) and the next message
replays from the log, as it always could.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from ..core import WorkflowDefinition, WorkflowTurn
from ..core.events import Event

_KEPT_RUNS = 128


class LiveTurns:
    """Suspended turns by run id, least recently used dropped first (and closed)."""

    def __init__(self, capacity: int = _KEPT_RUNS) -> None:
        self._turns: OrderedDict[str, WorkflowTurn] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def take(
        self, run_id: str, events: Sequence[Event], workflow: WorkflowDefinition
    ) -> WorkflowTurn | None:
        """The run's kept turn if it runs ``workflow`` and saw a prefix of ``events``,
        for this caller alone.

        Taken out, so two invocations of one run never drive one coroutine; the other
        replays.
        """
        with self._lock:
            turn = self._turns.pop(run_id, None)
        if turn is None:
            return None
        seen = turn.delivered
        current = len(seen) <= len(events) and seen[-1] == events[len(seen) - 1]
        if current and turn.workflow is workflow:
            return turn
        turn.close()
        return None

    def keep(self, run_id: str, turn: WorkflowTurn) -> None:
        """Keep ``turn`` for the run's next message (its events must be in the log)."""
        dropped: list[WorkflowTurn] = []
        with self._lock:
            previous = self._turns.pop(run_id, None)
            if previous is not None and previous is not turn:
                dropped.append(previous)
            self._turns[run_id] = turn
            while len(self._turns) > self._capacity:
                dropped.append(self._turns.popitem(last=False)[1])
        for old in dropped:
            old.close()

    def discard(self, run_id: str) -> None:
        """Drop (and close) the run's kept turn, if any: the run ended without it."""
        with self._lock:
            turn = self._turns.pop(run_id, None)
        if turn is not None:
            turn.close()

    def __len__(self) -> int:
        return len(self._turns)
