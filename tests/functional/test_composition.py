"""Workflow composition as the design pins it: inline await vs. background start()."""

from __future__ import annotations

import pytest

from adapter import WorkflowRunFailedError, get_run, list_runs, start
from adapter.testing import LocalRuntime
from samples import onboarding
from samples.fanout import process_batch
from samples.orders import fulfill_order, generate_report

from . import workflows as wf
from .conftest import assert_log_invariants


@pytest.fixture(autouse=True)
def _reset() -> None:
    wf.reset()


def step_names(rt: LocalRuntime, run_id: str) -> list[str]:
    return [e.data.step_name for e in rt.events(run_id) if e.type == "step_created"]


def test_onboarding_is_one_run_with_four_steps_in_order(rt: LocalRuntime) -> None:
    run = start(onboarding.onboard_user, args=["ada@example.com"])
    result = run.return_value

    assert result["user_id"] == "user_ada"
    assert result["notifications"] == ["email:welcome:user_ada", "push:user_ada:Welcome aboard!"]
    assert result["preferences"]["newsletter"] is True
    assert [r.run_id for r in list_runs()] == [run.run_id]
    events = rt.events(run.run_id)
    assert_log_invariants(events)
    assert {e.run_id for e in events} == {run.run_id}
    assert step_names(rt, run.run_id) == [
        "samples.onboarding.create_account",
        "samples.onboarding.send_email",
        "samples.onboarding.send_push_notification",
        "samples.onboarding.setup_preferences",
    ]
    assert run.status == "completed"
    assert run.workflow_name == "samples.onboarding.onboard_user"
    assert run.deployment_id == "1"
    assert run.started_at is not None and run.completed_at is not None


def test_each_step_runs_once_although_the_workflow_replays_after_every_step(
    rt: LocalRuntime,
) -> None:
    run = start(wf.chain, args=[5])
    assert run.return_value == 22
    assert wf.calls == {"double:5": 1, "increment:10": 1, "double:11": 1}
    types = [e.type for e in rt.events(run.run_id)]
    assert types.count("step_completed") == 3


def test_orders_spawns_an_independent_report_run(rt: LocalRuntime) -> None:
    run = start(fulfill_order, args=["o-1", ["b", "a"], 500])
    result = run.return_value
    report_id = result["report_run_id"]

    assert report_id != run.run_id
    assert {r.run_id for r in list_runs()} == {run.run_id, report_id}
    report = get_run(report_id)
    assert report.workflow_name == generate_report.__adapter_workflow__.name
    assert report.return_value == "report o-1: 3 items, 42.00 USD"
    parent_steps = step_names(rt, run.run_id)
    child_steps = step_names(rt, report_id)
    assert "samples.orders.collect_metrics" not in parent_steps
    assert child_steps == ["samples.orders.collect_metrics", "samples.orders.render_report"]
    assert {e.run_id for e in rt.events(report_id)} == {report_id}
    assert_log_invariants(rt.events(run.run_id))
    assert_log_invariants(rt.events(report_id))


def test_start_in_workflow_code_fails_the_run_and_spawns_nothing(rt: LocalRuntime) -> None:
    run = start(wf.starts_in_workflow_code)
    with pytest.raises(WorkflowRunFailedError) as caught:
        run.result()
    assert "cannot be called directly in workflow code" in caught.value.message
    assert "@step" in caught.value.message
    assert caught.value.original_type == "WorkflowContextError"
    assert [r.run_id for r in list_runs()] == [run.run_id]
    assert run.status == "failed"


def test_idempotent_start_returns_the_same_run(rt: LocalRuntime) -> None:
    first = start(wf.chain, args=[1], idempotency_key="order-1")
    second = start(wf.chain, args=[1], idempotency_key="order-1")
    other = start(wf.chain, args=[1], idempotency_key="order-2")
    assert first.run_id == second.run_id != other.run_id
    rt.drain()
    assert len(list_runs(workflow_name=wf.chain.__adapter_workflow__.name)) == 2
    assert first.return_value == 6


def test_a_retried_step_that_spawned_a_child_still_yields_one_child(rt: LocalRuntime) -> None:
    run = start(wf.spawner, args=[21])
    child_id = run.return_value
    assert wf.calls["spawn_attempts"] == 2
    children = list_runs(workflow_name=wf.child.__adapter_workflow__.name)
    assert [c.run_id for c in children] == [child_id]
    assert get_run(child_id).return_value == 42
    types = [e.type for e in rt.events(run.run_id)]
    assert types.count("step_started") == 2 and types.count("step_retrying") == 1


def test_fan_out_of_30_children_reports_failures_instead_of_raising(rt: LocalRuntime) -> None:
    run = start(process_batch, args=[list(range(30))])
    result = run.return_value
    failing = [i for i in range(30) if i % 7 == 3]
    assert result["succeeded"] == 30 - len(failing)
    assert sorted(result["failed"].values()) == sorted(f"item {i} is malformed" for i in failing)
    assert result["total"] == sum(i * i for i in range(30) if i not in failing)
    assert len(list_runs(limit=1000)) == 31
