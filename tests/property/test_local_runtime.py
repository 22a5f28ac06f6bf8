"""The real stack (LocalRuntime on moto) agrees with the in-memory driver.

A few random deterministic plans run on LocalRuntime: hooks are resumed as the run
reaches them, timers pass on the virtual clock. The run must return what the plan says
and what the in-memory driver returned, request the same steps with the same inputs
and the same hooks, and its log must be sound and replay to the same output.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from adapter import resume_hook, start
from adapter.core import WorkflowTurn, serde
from adapter.core.events import Event
from adapter.testing import LocalRuntime
from tests.chaos._moto import serialized_moto
from tests.chaos.harness import log_violations

from .driver import describe, drive
from .plans import WORKFLOW, Node, build_registry, evaluate, payload_count, payload_for, plans

REGISTRY = build_registry()


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRuntime]:
    with serialized_moto(), LocalRuntime(REGISTRY) as rt:
        yield rt


def requests(events: list[Event]) -> Counter[tuple[str, str]]:
    """What a run asked for, regardless of order and correlation ids."""
    asked: Counter[tuple[str, str]] = Counter()
    for e in events:
        if e.type == "step_created":
            asked[(e.data.step_name, repr(e.data.input))] += 1
        elif e.type == "hook_created":
            asked[("hook", e.data.token.split(".", 1)[1])] += 1
        elif e.type == "wait_created":
            asked[("sleep", "")] += 1
    return asked


def run_on(rt: LocalRuntime, plan: Node, prefix: str) -> tuple[Any, list[Event]]:
    """Run ``plan`` on LocalRuntime, resuming each hook with its payloads in order."""
    run = start(WORKFLOW, args=[plan, prefix])
    for _ in range(100):
        rt.drain()
        record = rt.runtime.get_record(run.run_id)
        if record.ended:
            assert record.status == "completed", record.error
            return serde.from_json(record.output), rt.events(run.run_id)
        events = rt.events(run.run_id)
        tokens = {e.correlation_id: e.data.token for e in events if e.type == "hook_created"}
        received = Counter(e.correlation_id for e in events if e.type == "hook_received")
        waiting = [(cid, t) for cid, t in tokens.items() if received[cid] < payload_count(t)]
        assert waiting, f"run {run.run_id} is stuck:\n{describe(events)}"
        for cid, token in waiting:
            resume_hook(token, payload_for(token, received[cid]))
    raise AssertionError(f"run {run.run_id} did not end")


@settings(
    deadline=None,
    max_examples=10,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans(deterministic=True, depth=2))
def test_local_runtime_returns_what_the_in_memory_driver_returns(
    local: LocalRuntime, plan: Node
) -> None:
    prefix = uuid.uuid4().hex[:12]
    in_memory = drive(build_registry(), plan, prefix)
    output, events = run_on(local, plan, prefix)

    assert output == evaluate(plan)
    assert output == serde.from_json(in_memory.final.output)
    assert requests(events) == requests(in_memory.events), describe(events)
    assert not log_violations(events)
    replayed = WorkflowTurn(REGISTRY.get_workflow(WORKFLOW), events).run()
    assert replayed.status == "completed"
    assert serde.from_json(replayed.output) == output
