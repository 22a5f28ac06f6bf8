"""Replay is a pure function of the log, whatever the workflow's shape.

For random plans (sequences, gathers, races, sleeps, hooks, inline child workflows),
run in a random order of completions by the in-memory driver:

* replaying any prefix of the final log issues exactly the commands the original run
  recorded right after that prefix (and nothing when none were), and stays suspended
  until the prefix holds everything the workflow needed;
* replaying the prefix that precedes ``run_completed`` (or the whole log) completes
  with the same output;
* a deterministic plan returns what the plan says, whatever the completion order.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter.core import WorkflowTurn, serde
from tests.unit.core.histories import stamp

from .driver import DriverRun, describe, drive, expected_decision
from .plans import WORKFLOW, Node, build_registry, evaluate, plans

SETTINGS = settings(
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check_every_prefix(plan: Node, run: DriverRun) -> None:
    registry = build_registry()
    definition = registry.get_workflow(WORKFLOW)
    events = run.events
    ends = next(i for i, e in enumerate(events) if e.type in ("run_completed", "run_failed"))
    for k in range(1, len(events) + 1):
        prefix = events[:k]
        started = any(e.type == "run_started" for e in prefix)
        outcome = WorkflowTurn(
            definition, prefix, started_at=None if started else stamp(k + 1)
        ).run()
        where = f"prefix of {k}/{len(events)} events\nplan: {plan}\nlog:\n{describe(events)}"
        if k >= ends:  # everything before run_completed is in the prefix
            assert outcome.status == run.final.status, where
            assert outcome.output == run.final.output, where
            continue
        assert outcome.status == "suspended", f"{outcome.status} too early at {where}"
        assert outcome.commands == expected_decision(events, k), where
        if k in run.decisions:
            assert run.decisions[k] == outcome.commands, where


@SETTINGS
@given(plan=plans(deterministic=False, depth=3), order=st.randoms(use_true_random=False))
def test_every_prefix_replays_to_the_recorded_decision(plan: Node, order: random.Random) -> None:
    run = drive(build_registry(), plan, "r", order)
    assert run.final.status == "completed", run.final.error
    check_every_prefix(plan, run)


@SETTINGS
@given(plan=plans(deterministic=True, depth=3), order=st.randoms(use_true_random=False))
def test_results_follow_the_plan_whatever_the_completion_order(
    plan: Node, order: random.Random
) -> None:
    shuffled = drive(build_registry(), plan, "r", order)
    fair = drive(build_registry(), plan, "r")
    expected = evaluate(plan)
    assert serde.from_json(shuffled.final.output) == expected
    assert serde.from_json(fair.final.output) == expected
    check_every_prefix(plan, shuffled)


@settings(deadline=None, max_examples=80)
@given(plan=plans(deterministic=False, depth=3), order=st.randoms(use_true_random=False))
def test_replaying_the_final_log_twice_gives_the_same_outcome(
    plan: Node, order: random.Random
) -> None:
    run = drive(build_registry(), plan, "r", order)
    registry = build_registry()
    first = WorkflowTurn(registry.get_workflow(WORKFLOW), run.events).run()
    second = WorkflowTurn(build_registry().get_workflow(WORKFLOW), run.events).run()
    assert (first.status, first.output) == (second.status, second.output)
    assert (first.status, first.output) == (run.final.status, run.final.output)


@settings(deadline=None, max_examples=150)
@given(
    plan=plans(deterministic=False, depth=3),
    order=st.randoms(use_true_random=False),
    cuts=st.randoms(use_true_random=False),
)
def test_a_turn_kept_alive_decides_as_a_fresh_replay_of_the_same_prefix(
    plan: Node, order: random.Random, cuts: random.Random
) -> None:
    """A warm container hands a suspended turn only the events that are new; at every
    point it must decide exactly what replaying the whole prefix from scratch decides."""
    run = drive(build_registry(), plan, "r", order)
    definition = build_registry().get_workflow(WORKFLOW)
    events = run.events
    ends = next(i for i, e in enumerate(events) if e.type in ("run_completed", "run_failed"))
    first = cuts.randint(1, min(3, ends))
    live = WorkflowTurn(definition, events[:first], started_at=stamp(first + 1))
    k = 0
    try:
        while k < ends:
            upto = min(ends, first if k == 0 else k + cuts.randint(1, 4))
            outcome = live.advance(events[k:upto])
            k = upto
            assert [e.seq for e in live.delivered] == list(range(1, k + 1))
            started = any(e.type == "run_started" for e in events[:k])
            fresh = WorkflowTurn(
                definition, events[:k], started_at=None if started else stamp(k + 1)
            ).run()
            where = f"after {k}/{len(events)} events\nplan: {plan}\nlog:\n{describe(events)}"
            for part in ("status", "commands", "output", "in_flight", "timers", "hooks"):
                assert getattr(outcome, part) == getattr(fresh, part), f"{part} {where}"
            if outcome.status != "suspended":
                break
        assert (outcome.status, outcome.output) == (run.final.status, run.final.output)
    finally:
        live.close()
