"""``runs wake``, ``runs retry``, ``runs redrive`` and ``runs ls --status stuck``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from adapter import start
from adapter.testing import LocalRuntime

from . import workflows as wf
from .helpers import assert_json_error, assert_one_line_error, invoke, ok_json

# --- runs wake -----------------------------------------------------------------------------


def test_runs_wake_ends_a_sleep_without_moving_the_clock(
    rt: LocalRuntime, runner: CliRunner
) -> None:
    run = start(wf.naps_between_notes)
    rt.drain(skip_time=False)  # asleep for 5 minutes
    asleep_at = rt.now()
    result = invoke(runner, "runs", "wake", run.run_id)
    assert result.exit_code == 0, result.output
    [sleep_id] = [e.correlation_id for e in rt.events(run.run_id) if e.type == "wait_created"]
    assert result.stdout.strip() == f"woke {sleep_id} of run {run.run_id}"

    rt.drain(skip_time=False)  # only what is due now: the wake, not the timer
    assert run.status == "completed"
    assert (rt.now() - asleep_at).total_seconds() < 60
    kinds = [e.type for e in rt.events(run.run_id)]
    assert kinds.count("wait_completed") == 1  # recorded like any other wake

    # Nothing left to wake: a one-line error, exit 1, in both output forms.
    again = invoke(runner, "runs", "wake", run.run_id)
    assert_one_line_error(again, f"run {run.run_id} has nothing to wake", "completed")
    assert_json_error(invoke(runner, "runs", "wake", run.run_id, "--json"), "nothing_to_wake")


def test_runs_wake_json_and_one_sleep_by_correlation_id(
    rt: LocalRuntime, runner: CliRunner
) -> None:
    run = start(wf.naps_between_notes)
    rt.drain(skip_time=False)
    [sleep_id] = [e.correlation_id for e in rt.events(run.run_id) if e.type == "wait_created"]
    wrong = invoke(runner, "runs", "wake", run.run_id, "--sleep", "wait_99")
    assert_one_line_error(wrong, "no pending sleep 'wait_99'", "running")
    assert run.status == "running"
    assert ok_json(runner, "runs", "wake", run.run_id, "--sleep", sleep_id) == {
        "runId": run.run_id,
        "woken": [sleep_id],
    }
    rt.drain(skip_time=False)
    assert run.return_value == ["before", "after"]


def test_runs_wake_of_a_run_waiting_on_a_hook(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(wf.waits_for_approval, args=["wake-me"])
    rt.drain()
    result = invoke(runner, "runs", "wake", run.run_id)
    assert_one_line_error(result, "nothing to wake", "is running with no pending sleep")
    assert run.status == "running"


def test_runs_wake_unknown_run(rt: LocalRuntime, runner: CliRunner) -> None:
    assert_one_line_error(invoke(runner, "runs", "wake", "wrun_nope"), "no run with id")
    assert_json_error(invoke(runner, "runs", "wake", "wrun_nope", "--json"), "run_not_found")


# --- stuck runs: ls --status stuck, show, retry ---------------------------------------------


def test_stuck_runs_are_listed_with_their_reason_and_retry_resumes_them(
    rt: LocalRuntime, runner: CliRunner
) -> None:
    stuck = start(wf.waits_for_approval, args=["stuck-token"])
    healthy = start(wf.waits_for_approval, args=["healthy-token"])
    rt.drain()
    reason = "DynamoDB throttled every delivery. When AWS is back: adapter runs redrive"
    rt.runtime.mark_stuck(stuck.run_id, reason, kind="transient")

    listed = invoke(runner, "runs", "ls", "--status", "stuck")
    assert listed.exit_code == 0, listed.output
    header, row, why = listed.stdout.splitlines()
    assert header.split()[:2] == ["RUN", "ID"] and header.rstrip().endswith("STUCK SINCE")
    assert row.startswith(stuck.run_id) and "(stuck)" in row
    assert why == f"  └ transient: {reason}"  # the whole reason, under its run
    body = ok_json(runner, "runs", "ls", "--status", "stuck")
    assert [r["runId"] for r in body["runs"]] == [stuck.run_id]
    assert body["runs"][0]["stuck"]["reason"] == reason
    assert body["runs"][0]["stuck"]["kind"] == "transient"
    # The whole listing flags the stuck run too, and only it.
    everything = invoke(runner, "runs", "ls").stdout.splitlines()
    assert [line.split()[0] for line in everything if "(stuck)" in line] == [stuck.run_id]
    assert any(line.startswith(healthy.run_id) for line in everything)

    shown = invoke(runner, "runs", "show", stuck.run_id)
    [line] = [line for line in shown.stdout.splitlines() if line.startswith("Stuck")]
    assert "(transient): DynamoDB throttled" in line
    assert f"adapter runs retry {stuck.run_id}" in line

    retried = invoke(runner, "runs", "retry", stuck.run_id)
    assert retried.exit_code == 0, retried.output
    assert retried.stdout.strip() == f"resumed run {stuck.run_id}: its open work was sent again"
    assert ok_json(runner, "runs", "ls", "--status", "stuck") == {"runs": [], "nextCursor": None}
    assert "no runs matching the filters" in invoke(runner, "runs", "ls", "-s", "stuck").stdout


@pytest.fixture
def broken_turns(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """Every workflow turn raises while ``on``: a bad deploy, failing each delivery."""
    from adapter.runtime import _runtime

    original = _runtime.run_workflow_turn
    broken = {"on": True}

    def poison(services: Any, message: Any, **kwargs: Any) -> None:
        if broken["on"]:
            raise RuntimeError("a bug in this version")
        original(services, message, **kwargs)

    monkeypatch.setattr(_runtime, "run_workflow_turn", poison)
    return broken


def test_redrive_then_retry_brings_back_a_run_the_runtime_failed(
    rt: LocalRuntime, runner: CliRunner, broken_turns: dict[str, bool]
) -> None:
    run = start(wf.child, args=[21])
    rt.drain()
    assert run.status == "failed"  # every delivery failed: the runtime gave up on it

    broken_turns["on"] = False  # the fix is deployed
    redriven = invoke(runner, "runs", "redrive")
    assert redriven.exit_code == 0, redriven.output
    assert redriven.stdout.strip() == "moved 1 workflow and 0 step message(s) back to their queues"
    assert ok_json(runner, "runs", "redrive") == {"moved": {"workflow": 0, "step": 0}}
    assert "nothing to redrive" in invoke(runner, "runs", "redrive").stdout

    assert ok_json(runner, "runs", "retry", run.run_id) == {
        "runId": run.run_id,
        "retried": "reopened",
    }
    assert run.return_value == 42
    assert "run_resumed" in [e.type for e in rt.events(run.run_id)]
    result = invoke(runner, "runs", "result", run.run_id)
    assert result.exit_code == 0 and json.loads(result.stdout) == 42


def test_redrive_limit(rt: LocalRuntime, runner: CliRunner, broken_turns: dict[str, bool]) -> None:
    runs = [start(wf.child, args=[n]) for n in range(3)]
    rt.drain()
    assert {r.status for r in runs} == {"failed"}
    assert ok_json(runner, "runs", "redrive", "--limit", "2") == {
        "moved": {"workflow": 2, "step": 0}
    }
    assert ok_json(runner, "runs", "redrive") == {"moved": {"workflow": 1, "step": 0}}


def test_retry_refuses_runs_it_cannot_bring_back(rt: LocalRuntime, runner: CliRunner) -> None:
    failed = start(wf.declined_payment, args=[7])
    done = start(wf.child, args=[1])
    rt.drain()
    own_code = invoke(runner, "runs", "retry", failed.run_id)
    assert_one_line_error(own_code, "cannot be retried", "its own code", "start a new run")
    assert_one_line_error(invoke(runner, "runs", "retry", done.run_id), "it completed")
    assert_json_error(invoke(runner, "runs", "retry", done.run_id, "--json"), "not_retryable")
    assert_json_error(invoke(runner, "runs", "retry", "wrun_nope", "--json"), "run_not_found")
    assert failed.status == "failed" and done.status == "completed"


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "wake"],
        ["runs", "retry"],
        ["runs", "redrive", "--limit", "0"],
        ["runs", "redrive", "--limit", "many"],
        ["runs", "ls", "--status", "wedged"],
    ],
)
def test_recovery_usage_errors_exit_2(rt: LocalRuntime, runner: CliRunner, args: list[str]) -> None:
    result = invoke(runner, *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "--help" in line
