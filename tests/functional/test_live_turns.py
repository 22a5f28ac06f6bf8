"""Turns kept alive between messages: each event is replayed once per warm container,
and a kept turn is used only when it saw exactly the log's prefix."""

from __future__ import annotations

from typing import Any

import pytest

from adapter import Registry, create_hook, start
from adapter.core import WorkflowTurn
from adapter.runtime._live import LiveTurns
from adapter.testing import LocalRuntime
from tests.unit.core.histories import History

reg = Registry()


@reg.step(name="inc")
async def inc(x: int) -> int:
    return x + 1


@reg.workflow(name="counter")
async def counter(n: int) -> int:
    x = 0
    for _ in range(n):
        x = await inc(x)
    return x


def test_a_long_chain_delivers_each_event_about_once(monkeypatch: pytest.MonkeyPatch) -> None:
    delivered = 0
    deliver = WorkflowTurn._deliver

    def counting(self: WorkflowTurn, event: Any) -> None:
        nonlocal delivered
        delivered += 1
        deliver(self, event)

    monkeypatch.setattr(WorkflowTurn, "_deliver", counting)
    with LocalRuntime(reg) as rt:
        run = start(counter, args=[60])
        assert run.return_value == 60
        log = rt.events(run.run_id)
    # Replaying the whole log in every turn would deliver about n^2/2 events (~5,000).
    assert len(log) > 180
    assert delivered <= len(log) + 10, delivered


def _suspended_turn(history: History) -> WorkflowTurn:
    turn = WorkflowTurn(history.workflow, history.events)
    assert turn.advance(history.events).status == "suspended"
    return turn


def test_a_kept_turn_is_taken_only_for_the_prefix_it_saw() -> None:
    history = History(reg, "counter", [3])
    history.run_started()
    history.created_step("step_1", "inc", 0)
    live = LiveTurns()
    definition = history.workflow

    turn = _suspended_turn(history)
    live.keep("r1", turn)
    history.complete("step_1", 1)
    assert live.take("r1", history.events, definition) is turn  # the log grew after it
    assert live.take("r1", history.events, definition) is None  # taken: one caller only

    live.keep("r1", turn)
    other = History(reg, "counter", [3])  # another log (say, a lost race's)
    other.run_started()
    other.created_step("step_1", "inc", 7)
    assert live.take("r1", other.events, definition) is None
    assert turn._loop.is_closed()  # dropped turns end their coroutines now

    fresh = _suspended_turn(history)
    live.keep("r1", fresh)
    redeployed = Registry()  # the same name, other code (a registry swapped under a run)

    @redeployed.workflow(name="counter")
    async def counter_v2(n: int) -> int:
        return n

    assert live.take("r1", history.events, redeployed.get_workflow("counter")) is None


def test_kept_turns_are_bounded_and_the_oldest_is_closed() -> None:
    live = LiveTurns(capacity=2)
    turns = []
    for run_id in ("a", "b", "c"):
        history = History(reg, "counter", [1], run_id=run_id)
        turns.append(_suspended_turn(history))
        live.keep(run_id, turns[-1])
    assert len(live) == 2
    assert turns[0]._loop.is_closed() and not turns[2]._loop.is_closed()


@reg.workflow(name="waits_for_a_payload")
async def waits_for_a_payload() -> Any:
    return await create_hook()


def test_a_cancelled_run_leaves_no_kept_turn() -> None:
    with LocalRuntime(reg) as rt:
        held = start(waits_for_a_payload)
        rt.drain()
        kept = rt.runtime.live_turns
        assert len(kept) == 1  # suspended on its hook, kept for the next message
        held.cancel()
        assert len(kept) == 0
        assert held.status == "cancelled"
