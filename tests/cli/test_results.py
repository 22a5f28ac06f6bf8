"""``runs result``, ``runs events --follow``, tracebacks, and ``hooks resume --run``."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

import adapter.cli._follow
from adapter import resume_hook, start
from adapter.testing import LocalRuntime
from samples.onboarding import onboard_user

from . import workflows as wf
from .helpers import assert_json_error, assert_one_line_error, invoke, ok_json

# --- runs result ---------------------------------------------------------------------------


def test_runs_result_prints_the_output(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(onboard_user, args=["res@x.y"])
    rt.drain()
    result = invoke(runner, "runs", "result", run.run_id)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == run.return_value
    assert result.stderr == ""
    assert ok_json(runner, "runs", "result", run.run_id) == run.return_value


def test_runs_result_of_a_failed_run_exits_1(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(wf.declined_payment, args=[5])
    rt.drain()
    failed = invoke(runner, "runs", "result", run.run_id)
    assert_one_line_error(failed, f"run {run.run_id} failed: FatalError: card declined for 5")
    as_json = invoke(runner, "runs", "result", run.run_id, "--json")
    assert_json_error(as_json, "run_failed", "card declined for 5")


def test_runs_result_of_a_cancelled_run_exits_1(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(wf.waits_for_approval, args=["never"])
    rt.drain()
    run.cancel()
    assert_one_line_error(invoke(runner, "runs", "result", run.run_id), "was cancelled")
    assert_json_error(invoke(runner, "runs", "result", run.run_id, "--json"), "run_cancelled")


def test_runs_result_of_a_running_run(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(wf.naps_between_notes)
    rt.drain(skip_time=False)  # asleep for 5 minutes
    early = invoke(runner, "runs", "result", run.run_id)
    assert_one_line_error(early, f"run {run.run_id} is still running", "--wait")
    assert_json_error(invoke(runner, "runs", "result", run.run_id, "--json"), "run_not_ended")

    # --wait follows it to the end (LocalRuntime moves its clock past the sleep).
    waited = invoke(runner, "runs", "result", run.run_id, "--wait")
    assert waited.exit_code == 0, waited.output
    assert json.loads(waited.stdout) == ["before", "after"]


def test_runs_result_wait_gives_up_after_the_timeout(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(wf.waits_for_approval, args=["not-yet"])
    rt.drain()
    began = time.monotonic()
    result = invoke(runner, "runs", "result", run.run_id, "--wait", "--timeout", "0.3")
    assert_one_line_error(result, f"run {run.run_id} is still running after 0.3s")
    assert time.monotonic() - began < 10
    timed_out = invoke(runner, "runs", "result", run.run_id, "--wait", "--timeout", "0", "--json")
    assert_json_error(timed_out, "timeout")


# --- tracebacks ----------------------------------------------------------------------------


def test_runs_events_show_the_recorded_tracebacks(rt: LocalRuntime, runner: CliRunner) -> None:
    failed = start(wf.declined_payment, args=[3])
    rt.drain()
    body = ok_json(runner, "runs", "events", failed.run_id)
    [step_failed] = [e for e in body["events"] if e["type"] == "step_failed"]
    assert step_failed["data"]["error"]["message"] == "card declined for 3"
    assert (
        'raise FatalError(f"card declined for {amount}")' in step_failed["data"]["error"]["stack"]
    )
    [run_failed] = [e for e in body["events"] if e["type"] == "run_failed"]
    assert "return await charge(amount)" in run_failed["data"]["error"]["stack"]

    out = invoke(runner, "runs", "events", failed.run_id).stdout
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if " step_failed " in line)
    assert '"stack"' not in lines[at]  # the row keeps its one line of data...
    below = lines[at + 1 :]
    assert below[0].strip() == "Traceback (most recent call last):"  # ...and the stack follows
    assert any("raise FatalError" in line for line in below[:40])

    retried = start(wf.fetch_with_retries, args=["k"])
    rt.drain()
    retrying = [
        e
        for e in ok_json(runner, "runs", "events", retried.run_id)["events"]
        if e["type"] == "step_retrying"
    ]
    assert len(retrying) == 2
    assert all("ConnectionError: flaky attempt" in e["data"]["error"]["stack"] for e in retrying)


# --- runs events --follow -------------------------------------------------------------------


def _seqs(rows: list[str]) -> list[int]:
    return [int(row.split()[0]) for row in rows if row.split() and row.split()[0].isdigit()]


def test_follow_prints_events_until_the_run_ends(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(wf.naps_between_notes)
    rt.drain(skip_time=False)  # asleep: the rest happens while following
    before = len(rt.events(run.run_id))

    result = invoke(runner, "runs", "events", run.run_id, "--follow")
    assert result.exit_code == 0, result.output
    events = rt.events(run.run_id)
    assert len(events) > before and events[-1].type == "run_completed"
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["SEQ", "OFFSET", "TYPE", "CORRELATION", "DATA"]
    assert _seqs(lines[1:]) == [e.seq for e in events]  # each once, in order
    assert [line.split()[2] for line in lines[1:]] == [e.type for e in events]

    # Following an ended run prints its log and returns.
    again = invoke(runner, "runs", "events", run.run_id, "-f")
    assert again.exit_code == 0 and again.stdout == result.stdout


def test_follow_json_is_one_event_per_line(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(wf.declined_payment, args=[8])
    result = invoke(runner, "runs", "events", run.run_id, "--follow", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["seq"] for e in lines] == [e.seq for e in rt.events(run.run_id)]
    assert lines[-1]["type"] == "run_failed"
    assert all(e["runId"] == run.run_id for e in lines)


def test_follow_prints_what_arrives_while_it_waits(
    rt: LocalRuntime, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = start(wf.waits_for_approval, args=["follow-me"])
    rt.drain()
    waiting = len(rt.events(run.run_id))
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        # The first pause of the follow loop is when someone resumes the hook.
        if not pauses:
            resume_hook("follow-me", {"ok": 1})
        pauses.append(seconds)

    clock = SimpleNamespace(monotonic=time.monotonic, sleep=pause)
    monkeypatch.setattr(adapter.cli._follow, "time", clock)
    result = invoke(runner, "runs", "events", run.run_id, "--follow")
    assert result.exit_code == 0, result.output
    events = rt.events(run.run_id)
    assert events[waiting].type == "hook_received"
    assert _seqs(result.stdout.splitlines()[1:]) == [e.seq for e in events]
    assert result.stdout.count("SEQ") == 1  # one header for the whole stream
    assert pauses  # it did wait before the payload came


# --- hooks resume --run ---------------------------------------------------------------------


def test_hooks_resume_by_run_id(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(wf.waits_for_approval, args=["by-run"])
    rt.drain()
    result = invoke(runner, "hooks", "resume", "--run", run.run_id, "--payload", '{"yes": true}')
    assert result.exit_code == 0, result.output
    assert f"resumed run {run.run_id}" in result.stdout
    rt.drain()
    assert run.return_value == {"yes": True}

    # The run ended: it waits on no hook any more.
    gone = invoke(runner, "hooks", "resume", "--run", run.run_id)
    assert_one_line_error(gone, f"run {run.run_id} waits on no hook")
    assert_json_error(
        invoke(runner, "hooks", "resume", "--run", run.run_id, "--json"), "hook_not_found"
    )


def test_hooks_resume_by_run_and_correlation_id(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(wf.waits_for_two, args=["two-a", "two-b"])
    rt.drain()

    ambiguous = invoke(runner, "hooks", "resume", "--run", run.run_id)
    assert ambiguous.exit_code == 2, ambiguous.output
    [line] = ambiguous.stderr.strip().splitlines()
    assert "waits on 2 hooks" in line and "hook_1 (two-a)" in line and "hook_2 (two-b)" in line

    unknown = invoke(runner, "hooks", "resume", "--run", run.run_id, "--hook", "hook_9")
    assert_one_line_error(unknown, "has no hook 'hook_9'", "hook_1, hook_2")

    second = ok_json(runner, "hooks", "resume", "--run", run.run_id, "--hook", "hook_2")
    assert second == {"runId": run.run_id}
    first = ok_json(
        runner, "hooks", "resume", "--run", run.run_id, "--hook", "hook_1", "--payload", '"A"'
    )
    assert first == {"runId": run.run_id}
    rt.drain()
    assert run.return_value == ["A", None]


@pytest.mark.parametrize(
    "args",
    [
        ["hooks", "resume"],
        ["hooks", "resume", "tok", "--run", "wrun_x"],
        ["hooks", "resume", "tok", "--hook", "hook_1"],
        ["hooks", "resume", "--run", "wrun_x", "--payload", "{bad"],
    ],
    ids=["nothing", "token-and-run", "hook-without-run", "bad-payload"],
)
def test_hooks_resume_usage_errors(rt: LocalRuntime, runner: CliRunner, args: list[str]) -> None:
    result: Any = invoke(runner, *args)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: ")
