"""Step results, parallelism and failures through the real stack."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from adapter import WorkflowRunFailedError, start, step, workflow
from adapter.testing import LocalRuntime

from . import workflows as wf
from .conftest import assert_log_invariants


@pytest.fixture(autouse=True)
def _reset() -> None:
    wf.reset()


def test_gather_over_twelve_steps_returns_results_in_call_order(rt: LocalRuntime) -> None:
    run = start(wf.gather_twelve)
    assert run.return_value == [2 * i for i in range(12)]
    events = rt.events(run.run_id)
    assert_log_invariants(events)
    assert sum(1 for e in events if e.type == "step_created") == 12


def test_pydantic_models_and_dataclasses_round_trip_as_step_results(rt: LocalRuntime) -> None:
    run = start(wf.invoicing, args=["INV-7"])
    assert run.return_value == {"number": "INV-7", "paid": True}
    completed = [e for e in rt.events(run.run_id) if e.type == "step_completed"]
    assert completed[0].data.result["$t"] == "model"


def test_an_unserializable_step_result_fails_the_run_mentioning_serialization(
    rt: LocalRuntime,
) -> None:
    run = start(wf.returns_a_set)
    with pytest.raises(WorkflowRunFailedError) as caught:
        run.result()
    assert "serialize" in str(caught.value)
    assert "unserializable" in str(caught.value)  # names the step
    assert "'set'" in str(caught.value)  # names the type
    types = [e.type for e in rt.events(run.run_id)]
    assert types.count("step_started") == 1  # not retried: it would fail the same way


def test_a_failing_step_is_retried_and_its_attempt_is_visible(rt: LocalRuntime) -> None:
    wf.fail_plan["x"] = 2
    run = start(wf.flaky_workflow, args=["x"])
    assert run.return_value == 3
    assert wf.calls["flaky:x"] == 3
    types = [e.type for e in rt.events(run.run_id)]
    assert types.count("step_retrying") == 2


def test_unserializable_arguments_to_start_are_refused_before_anything_is_written(
    rt: LocalRuntime,
) -> None:
    from adapter.core.errors import SerializationError

    with pytest.raises(SerializationError, match="arguments of workflow"):
        start(wf.chain, args=[{1, 2}])
    assert rt.runtime.world.list_runs(workflow_name=None, status=None, limit=10) == []


def test_unknown_workflow_name_is_refused(rt: LocalRuntime) -> None:
    from adapter import WorkflowNotRegisteredError

    with pytest.raises(WorkflowNotRegisteredError, match=r"no\.such\.workflow"):
        start("no.such.workflow")


_seen_by_loop: list[int] = []
_cancelled: list[int] = []
_inherited: list[list[str]] = []
_left: set[asyncio.Task[None]] = set()


async def _outlive_the_step(i: int) -> None:
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        _cancelled.append(i)
        raise


@step
async def leaves_a_task_behind(i: int) -> int:
    loop: Any = asyncio.get_running_loop()
    _seen_by_loop.append(getattr(loop, "steps_seen", 0))
    loop.steps_seen = getattr(loop, "steps_seen", 0) + 1
    here = asyncio.current_task()
    _inherited.append([t.get_name() for t in asyncio.all_tasks() if t is not here])
    _left.add(loop.create_task(_outlive_the_step(i), name=f"left-by-{i}"))
    return i


@workflow
async def steps_that_leave_tasks(n: int) -> int:
    for i in range(n):
        await leaves_a_task_behind(i)
    return n


def test_async_steps_share_a_thread_s_loop_but_nothing_they_leave_runs_on(
    rt: LocalRuntime,
) -> None:
    _seen_by_loop.clear(), _cancelled.clear(), _inherited.clear()
    assert start(steps_that_leave_tasks, args=[6]).return_value == 6
    # A loop is reused (asyncio.run made one per step: each saw none before it)...
    assert max(_seen_by_loop) > 0
    # ...but what a step left behind was cancelled when it returned, not carried over.
    assert sorted(_cancelled) == list(range(6))
    assert _inherited == [[]] * 6


_threads: list[int] = []


@step
def notes_its_thread() -> int:
    _threads.append(threading.get_ident())
    return 1


@workflow
async def one_noted_step() -> int:
    return await notes_its_thread()


def test_invocations_run_on_the_caller_s_thread_unless_it_runs_an_event_loop(
    rt: LocalRuntime,
) -> None:
    _threads.clear()
    assert start(one_noted_step).return_value == 1
    # No hand-off to another thread and back for each message...
    assert _threads == [threading.get_ident()]

    async def from_async_code() -> int:
        return int(start(one_noted_step).return_value)

    # ...but a caller running a loop cannot host a step's: it gets a thread of its own.
    assert asyncio.run(from_async_code()) == 1
    assert _threads[1] != threading.get_ident()
