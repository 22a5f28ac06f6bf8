"""Step results, parallelism and failures through the real stack."""

from __future__ import annotations

import pytest

from adapter import WorkflowRunFailedError, start
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
