"""Commit a decision: read, decide, append conditionally, send; decide again on a lost race.

Every writer of a run's log goes through :func:`commit`. Appends are conditional on
the log's last seq, so two invocations deciding from the same log cannot both record:
the loser reads what the winner wrote and decides again, which usually means deciding
that there is nothing left to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.errors import ConflictError
from ..core.events import Event
from ..world import RunRecord
from ._decide import Decision
from ._journal import MAX_CONFLICT_RETRIES, History
from ._messages import target
from ._services import Services

logger = logging.getLogger(__name__)


@dataclass
class Attempt:
    """What a decider knows besides the log: is it fresh, and what did lost races say."""

    fresh: bool
    conflicts: set[str] = field(default_factory=set)
    """Hook tokens another run holds (learned from a lost append)."""


Decider = Callable[[RunRecord | None, list[Event], Attempt], Decision | None]
Reader = Callable[[str, bool], History]


def commit(
    services: Services,
    run_id: str,
    decide: Decider,
    *,
    fresh: bool = False,
    read: Reader | None = None,
) -> Decision | None:
    """Decide from the log and record the decision; return it once committed.

    Args:
        decide: Called with the run (``None`` if unknown), its log and the attempt;
            returns what to record and send, or ``None`` for nothing at all.
        fresh: Decide from a real read from the start. Otherwise the first decision
            is made from what this process last saw: one that records is safe (its
            append fails if the log moved on), one that records nothing is made
            again on a real read before it is trusted.
        read: How to read the log (default: the journal's cached history).

    Returns:
        The committed decision (messages sent), a decision that records nothing
        (its messages sent, made on a fresh read), or ``None``.

    Raises:
        ConflictError: after too many lost races in a row.
    """
    reader = read or (lambda rid, f: services.journal.history(rid, fresh=f))
    attempt = Attempt(fresh=fresh)
    for _ in range(MAX_CONFLICT_RETRIES * 2):
        run, events = reader(run_id, attempt.fresh)
        decision = decide(run, events, attempt)
        if decision is None or not decision.records:
            if not attempt.fresh:
                _settle(decision, False)
                attempt.fresh = True  # nothing to do? make sure with a real read
                continue
            if decision is not None:
                services.dispatch.send(*decision.outgoing)
                _settle(decision, True)
            return decision
        assert run is not None
        try:
            services.journal.append(run_id, run.last_seq, decision.batch)
        except ConflictError as exc:
            _settle(decision, False)
            _send_committed(services, decision, exc.committed_seq, run.last_seq)
            if exc.reason == "hook" and exc.detail:
                attempt.conflicts.add(exc.detail)  # record it as conflicting, then retry
            logger.debug(
                "run %s: lost a race at seq %d (%s); deciding again",
                run_id,
                run.last_seq,
                exc.reason,
            )
            attempt.fresh = True
            continue
        except BaseException:
            _settle(decision, False)
            raise
        _settle(decision, True)
        services.dispatch.send(*decision.outgoing)
        return decision
    raise ConflictError(f"run {run_id}: gave up after {MAX_CONFLICT_RETRIES * 2} attempts")


def _settle(decision: Decision | None, committed: bool) -> None:
    if decision is not None and decision.settle is not None:
        settle, decision.settle = decision.settle, None
        settle(committed)


def _send_committed(
    services: Services, decision: Decision, committed_seq: int | None, expected_seq: int
) -> None:
    """A batch too big for one transaction failed after its first ones committed: what
    they recorded is in the log for good, so send its messages now. The next decision
    will not record it again, and so would never send them."""
    if committed_seq is None or committed_seq <= expected_seq:
        return
    recorded = {e.correlation_id for e in decision.batch.events if e.seq <= committed_seq}
    due = [out for out in decision.outgoing if target(out) in recorded]
    if due:
        services.dispatch.send(*due)
