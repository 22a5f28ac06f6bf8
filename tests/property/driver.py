"""A pure in-memory driver: run a plan to its end by building the event log by hand.

It reuses ``tests/unit/core/histories.History`` (events stamped ``T0 + seq`` seconds,
steps executed by calling their functions, outcomes recorded as the runtime records
them). Unlike ``History.run`` it takes a turn after *every* event it adds, so the
log is ``run_created, run_started, <created>*, (<outcome>, <created>*)*, run_completed``
and the decision the engine makes at each prefix is well defined: the ``*_created``
events that immediately follow it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from adapter.core import Command, CreateHook, Registry, ScheduleStep, StartTimer, TurnOutcome
from adapter.core.events import Event, RunCompleted, RunCompletedData, RunFailed, RunFailedData
from tests.unit.core.histories import History

from .plans import WORKFLOW, Node, payload_count, payload_for

MAX_EVENTS = 600


@dataclass
class DriverRun:
    """The finished log and what the driver saw along the way."""

    events: list[Event]
    final: TurnOutcome
    decisions: dict[int, list[Command]] = field(default_factory=dict)
    """Prefix length -> the commands the turn taken on that prefix issued."""


def drive(
    registry: Registry, plan: Node, prefix: str, order: random.Random | None = None
) -> DriverRun:
    """Run ``plan`` to completion.

    Args:
        order: Picks which pending thing happens next (a step finishing, a timer firing,
            a hook payload arriving). ``None``: the fair order LocalRuntime follows -
            steps first in request order, then timers by due time, then hooks.
    """
    history = History(registry, WORKFLOW, [plan, prefix])
    decisions: dict[int, list[Command]] = {}
    sent: dict[str, int] = {}

    outcome = history.turn()
    decisions[len(history.events)] = list(outcome.commands)
    if outcome.status == "suspended":
        history.run_started()
        history.record(outcome.commands)
    while outcome.status == "suspended":
        if len(history.events) > MAX_EVENTS:
            raise AssertionError(f"no end after {MAX_EVENTS} events: {plan}")
        candidates = _candidates(history, sent)
        assert candidates, f"the workflow waits on nothing: {outcome}"
        chosen = order.choice(candidates) if order is not None else candidates[0]
        if isinstance(chosen, CreateHook):
            index = sent.get(chosen.correlation_id, 0)
            sent[chosen.correlation_id] = index + 1
            history.receive(chosen.correlation_id, payload_for(chosen.token, index))
        else:
            history.execute(chosen)
        outcome = history.turn()
        decisions[len(history.events)] = list(outcome.commands)
        history.record(outcome.commands)
    if outcome.status == "completed":
        history.append(RunCompleted, data=RunCompletedData(output=outcome.output))
    else:
        assert outcome.error is not None
        history.append(RunFailed, data=RunFailedData(error=outcome.error))
    return DriverRun(list(history.events), outcome, decisions)


def _candidates(history: History, sent: dict[str, int]) -> list[Command]:
    pending = history.pending()
    steps = [c for c in pending if isinstance(c, ScheduleStep)]
    timers = sorted(
        (c for c in pending if isinstance(c, StartTimer)),
        key=lambda c: (c.resume_at, c.correlation_id),
    )
    hooks = [
        c
        for c in history.created.values()
        if isinstance(c, CreateHook) and sent.get(c.correlation_id, 0) < payload_count(c.token)
    ]
    return [*steps, *timers, *hooks]


def expected_decision(events: list[Event], k: int) -> list[Command]:
    """The commands recorded right after prefix ``events[:k]`` (a ``run_started`` that
    opens the first turn's write is skipped)."""
    commands: list[Command] = []
    for event in events[k:]:
        if event.type == "run_started" and not commands:
            continue
        command = as_command(event)
        if command is None:
            break
        commands.append(command)
    return commands


def as_command(event: Event) -> Command | None:
    cid = event.correlation_id or ""
    if event.type == "step_created":
        return ScheduleStep(cid, event.data.step_name, event.data.input)
    if event.type == "wait_created":
        return StartTimer(cid, event.data.resume_at)
    if event.type == "hook_created":
        return CreateHook(cid, event.data.token, event.data.metadata, webhook=event.data.webhook)
    return None


def describe(events: list[Event]) -> str:
    """A compact log listing for failure messages."""
    lines = []
    for e in events:
        detail: Any = ""
        if e.type == "step_created":
            detail = e.data.step_name
        elif e.type == "hook_created":
            detail = e.data.token
        lines.append(f"{e.seq:>3} {e.type:<15} {e.correlation_id or ''} {detail}")
    return "\n".join(lines)
