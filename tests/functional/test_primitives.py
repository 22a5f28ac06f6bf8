"""Durable primitives on LocalRuntime: retries, sleep, hooks, races, cancel, determinism,
big payloads."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from adapter import (
    HookNotFoundError,
    NonDeterminismError,
    WorkflowRunCancelledError,
    WorkflowRunFailedError,
    get_run,
    resume_hook,
    start,
)
from adapter.testing import LocalRuntime

from . import primitives as p
from .conftest import assert_log_invariants


@pytest.fixture(autouse=True)
def _reset() -> None:
    p.reset()


def types(rt: LocalRuntime, run_id: str) -> list[str]:
    return [e.type for e in rt.events(run_id)]


# --- retries --------------------------------------------------------------------------


def test_a_step_failing_twice_then_succeeding_sees_attempt_3(rt: LocalRuntime) -> None:
    run = start(p.retries_then_succeeds)
    assert run.return_value == 3
    assert p.calls["fails_twice"] == 3
    assert types(rt, run.run_id).count("step_retrying") == 2
    started = [e.data.attempt for e in rt.events(run.run_id) if e.type == "step_started"]
    assert started == [1, 2, 3]


def test_an_always_failing_step_runs_four_times_then_fails_the_run(rt: LocalRuntime) -> None:
    run = start(p.retries_exhausted)
    with pytest.raises(WorkflowRunFailedError) as caught:
        run.result()
    assert p.calls["always_fails"] == 4
    assert caught.value.original_type == "StepFailedError"
    assert "this never works" in caught.value.message
    assert "attempt" in caught.value.message
    assert types(rt, run.run_id).count("step_failed") == 1
    assert run.status == "failed"


def test_fatal_error_runs_once_and_is_catchable(rt: LocalRuntime) -> None:
    run = start(p.catches_fatal)
    assert (
        run.return_value == "caught card declined from tests.functional.primitives.fatal attempt 1"
    )
    assert p.calls["fatal"] == 1
    assert "step_retrying" not in types(rt, run.run_id)


def test_retry_after_is_honoured_on_the_virtual_clock(rt: LocalRuntime) -> None:
    began = time.perf_counter()
    run = start(p.custom_retry_after)
    assert run.return_value == "ok"
    first, second = p.attempt_times["retry_in_an_hour"]
    assert timedelta(hours=1) <= second - first < timedelta(hours=1, minutes=1)
    retrying = next(e for e in rt.events(run.run_id) if e.type == "step_retrying")
    assert retrying.data.retry_after - first >= timedelta(minutes=59)
    assert time.perf_counter() - began < 10


# --- sleep ----------------------------------------------------------------------------


def test_sleep_a_day_between_two_steps_takes_no_real_time(rt: LocalRuntime) -> None:
    start_virtual = rt.now()
    began = time.perf_counter()
    run = start(p.sleeps_a_day)
    assert run.return_value == ["before", "after"]
    assert time.perf_counter() - began < 1.0
    assert rt.now() - start_virtual >= timedelta(days=1)
    events = rt.events(run.run_id)
    wait = next(e for e in events if e.type == "wait_created")
    done = next(e for e in events if e.type == "wait_completed")
    assert done.created_at >= wait.data.resume_at
    assert wait.correlation_id == done.correlation_id
    assert_log_invariants(events)


def test_long_sleeps_hop_through_15_minute_delays_like_sqs() -> None:
    with LocalRuntime(max_delay_seconds=900) as rt:
        run = start(p.sleeps_a_day)
        processed = 0
        processed += rt.drain()
        assert run.return_value == ["before", "after"]
        # One day of 15-minute hops: 96 timer messages, each passed on without a replay.
        assert processed >= 96
        assert types(rt, run.run_id).count("wait_completed") == 1


def test_advance_moves_the_clock_and_runs_what_became_due(rt: LocalRuntime) -> None:
    run = start(p.sleeps_a_day)
    rt.drain(skip_time=False)
    assert run.status == "running" and p.calls["after"] == 0
    rt.advance("23h")
    assert p.calls["after"] == 0
    rt.advance("2h")
    assert p.calls["after"] == 1 and run.status == "completed"


# --- hooks ----------------------------------------------------------------------------


def test_a_hook_receives_three_payloads_in_order(rt: LocalRuntime) -> None:
    run = start(p.collects_three, args=["orders:1"])
    rt.drain()
    for i in range(3):
        assert resume_hook("orders:1", {"n": i}) == run.run_id
    assert run.return_value == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert types(rt, run.run_id)[-1] == "hook_disposed"
    with pytest.raises(HookNotFoundError):
        resume_hook("orders:1", "too late")


def test_payloads_arriving_together_are_all_delivered_once(rt: LocalRuntime) -> None:
    run = start(p.collects_three, args=["together"])
    rt.drain()
    barrier = threading.Barrier(3)

    def send(i: int) -> None:
        barrier.wait()
        resume_hook("together", i)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = run.return_value
    assert sorted(result) == [0, 1, 2]
    received = [e.data.payload for e in rt.events(run.run_id) if e.type == "hook_received"]
    assert received == result  # delivered in the order the log recorded them


def test_unknown_token_raises_hook_not_found(rt: LocalRuntime) -> None:
    with pytest.raises(HookNotFoundError):
        resume_hook("no-such-token", {})


def test_a_token_held_by_another_running_run_is_a_conflict(rt: LocalRuntime) -> None:
    first = start(p.waits_on_hook_then_steps, args=["shared"])
    rt.drain()
    second = start(p.waits_on_hook_then_steps, args=["shared"])
    with pytest.raises(WorkflowRunFailedError) as caught:
        second.result()
    assert caught.value.original_type == "HookConflictError"
    assert "shared" in caught.value.message
    assert resume_hook("shared", "go") == first.run_id
    assert first.return_value == "after the hook"


def test_generated_webhook_tokens_are_unguessable_and_have_a_url(rt: LocalRuntime) -> None:
    runs = [start(p.waits_for_webhook) for _ in range(2)]
    rt.drain()
    tokens = [
        next(e.data.token for e in rt.events(r.run_id) if e.type == "hook_created") for r in runs
    ]
    assert tokens[0] != tokens[1]
    assert all(len(t) >= 22 for t in tokens)  # >= 128 bits in URL-safe base64
    assert any(k == f"/webhooks/{tokens[0]}" for k in p.calls)  # the public route
    resume_hook(tokens[0], {"approved": True})
    assert runs[0].return_value == {"approved": True}


# --- races and timeouts -----------------------------------------------------------------


@pytest.mark.parametrize("sleep_first", [True, False])
def test_sleep_and_step_races_replay_to_the_same_winner(
    rt: LocalRuntime, sleep_first: bool
) -> None:
    run = start(p.race_sleep_vs_step, args=[sleep_first])
    assert run.return_value == "step"  # the step completes long before 10 minutes
    events = rt.events(run.run_id)
    # Replaying the final log again gives the same answer.
    from adapter.core import WorkflowTurn

    definition = rt.runtime.deployments.registry_for("1").get_workflow(run.workflow_name)
    again = WorkflowTurn(
        definition, events[: [e.type for e in events].index("run_completed")]
    ).run()
    assert again.status == "completed" and again.output == "step"


def test_a_hook_with_a_timeout_times_out_or_gets_the_decision(rt: LocalRuntime) -> None:
    late = start(p.approval_with_timeout, args=["late"])
    assert late.return_value == "timed out"
    on_time = start(p.approval_with_timeout, args=["on-time"])
    rt.drain(skip_time=False)
    resume_hook("on-time", "yes")
    assert on_time.return_value == "decided: yes"


# --- cancellation -----------------------------------------------------------------------


def test_cancel_a_hook_waiting_run(rt: LocalRuntime) -> None:
    run = start(p.waits_on_hook_then_steps, args=["cancel-me"])
    rt.drain()
    assert run.status == "running"
    run.cancel()
    assert run.status == "cancelled"
    with pytest.raises(WorkflowRunCancelledError):
        run.result()
    with pytest.raises(HookNotFoundError):
        resume_hook("cancel-me", "too late")
    rt.drain()
    assert p.calls["after the hook"] == 0
    assert types(rt, run.run_id)[-2:] == ["run_cancelled", "hook_disposed"]


def test_cancel_a_pending_and_a_sleeping_run(rt: LocalRuntime) -> None:
    pending = start(p.sleeps_a_day)
    pending.cancel()
    sleeping = start(p.sleeps_a_day)
    rt.drain(skip_time=False)
    sleeping.cancel()
    rt.drain()
    for run in (pending, sleeping):
        assert run.status == "cancelled"
        with pytest.raises(WorkflowRunCancelledError):
            run.result()
    assert p.calls["after"] == 0
    assert p.calls["before"] == 1  # only the sleeping run got that far


def test_a_step_running_during_cancel_finishes_but_does_not_resume_the_run(
    rt: LocalRuntime,
) -> None:
    run = start(p.cancels_itself_mid_step)
    rt.drain()
    assert p.calls["cancel_own_run"] == 1
    assert run.status == "cancelled"
    assert p.calls["must not run"] == 0
    assert "step_completed" not in types(rt, run.run_id)


# --- determinism --------------------------------------------------------------------------


def test_now_and_random_are_replay_stable(rt: LocalRuntime) -> None:
    run = start(p.stable_values)
    assert run.return_value == {"same": True, "later": True}


def test_a_changed_workflow_body_raises_non_determinism_error() -> None:
    with LocalRuntime(registry=p.v1) as rt:
        run = start("payments.flow", args=["pay-1"])
        rt.drain()
        assert run.status == "running"
        before = rt.events(run.run_id)
        rt.runtime.deployments.registries["1"] = p.v2  # the code changed under a live run
        resume_hook("pay-1", "go")
        with pytest.raises(WorkflowRunFailedError) as caught:
            run.result()
        assert caught.value.original_type == NonDeterminismError.__name__
        assert "steps.charge" in caught.value.message and "steps.refund" in caught.value.message
        after = rt.events(run.run_id)
        assert after[: len(before)] == before  # nothing overwritten
        assert_log_invariants(after)


def test_workflow_metadata(rt: LocalRuntime) -> None:
    run = start(p.metadata_workflow)
    assert run.return_value == {
        "run_id": run.run_id,
        "name": "tests.functional.primitives.metadata_workflow",
        "deployment": "1",
    }


# --- big payloads -----------------------------------------------------------------------


def test_a_600_kb_step_result_round_trips_through_s3(rt: LocalRuntime) -> None:
    size = 600 * 1024
    run = start(p.big_payloads, args=[size])
    assert run.return_value == size
    completed = [e for e in rt.events(run.run_id) if e.type == "step_completed"]
    assert len(completed[0].data.result) == size
    import boto3

    keys = boto3.client("s3").list_objects_v2(Bucket=rt.env["ADAPTER_BUCKET_NAME"])
    assert keys["KeyCount"] >= 2  # the result, and the next step's input
    assert get_run(run.run_id).return_value == size
