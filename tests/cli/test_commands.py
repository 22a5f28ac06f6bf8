"""Every ``adapter`` command through typer's CliRunner, against a LocalRuntime."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapter import get_run, start
from adapter.cli import app
from adapter.testing import LocalRuntime
from samples.onboarding import onboard_user
from samples.orders import fulfill_order
from tests.devstack import free_port

from . import workflows as wf
from .helpers import (
    assert_json_error,
    assert_one_line_error,
    invoke,
    ok_json,
    step_lines,
    timeline,
)

ONBOARDING_STEPS = [
    "samples.onboarding.create_account",
    "samples.onboarding.send_email",
    "samples.onboarding.send_push_notification",
    "samples.onboarding.setup_preferences",
]


# --- start -------------------------------------------------------------------------------


def test_start_prints_the_run_and_json(rt: LocalRuntime, runner: CliRunner) -> None:
    result = invoke(runner, "start", "samples.onboarding.onboard_user", "--args", '["a@b.c"]')
    assert result.exit_code == 0, result.output
    assert "started run wrun_" in result.stdout
    assert "samples.onboarding.onboard_user" in result.stdout

    body = ok_json(
        runner,
        "start",
        "samples.onboarding.onboard_user",
        "--args",
        '["b@c.d"]',
        "--idempotency-key",
        "signup-b",
    )
    assert body["status"] == "pending" and body["runId"].startswith("wrun_")
    again = ok_json(
        runner,
        "start",
        "samples.onboarding.onboard_user",
        "--args",
        '["b@c.d"]',
        "--idempotency-key",
        "signup-b",
    )
    assert again["runId"] == body["runId"]  # the key gives back the first run
    rt.drain()
    assert get_run(body["runId"]).return_value["user_id"] == "user_b"


def test_start_with_kwargs_and_wait(rt: LocalRuntime, runner: CliRunner) -> None:
    result = invoke(
        runner,
        "start",
        "samples.orders.fulfill_order",
        "--kwargs",
        '{"order_id": "o-7", "items": ["pen"], "amount_cents": 250}',
        "--wait",
    )
    assert result.exit_code == 0, result.output
    assert "✔ completed" in result.stdout
    output = json.loads(result.stdout.split("\n", 1)[1])
    assert output["order_id"] == "o-7" and output["charge_id"] == "charge_o-7_250"

    body = ok_json(
        runner, "start", "samples.onboarding.onboard_user", "--args", '["w@x.y"]', "--wait"
    )
    assert body["status"] == "completed"
    assert body["output"]["user_id"] == "user_w"
    assert body["workflowName"] == "samples.onboarding.onboard_user"


def test_start_wait_exits_1_when_the_run_fails(rt: LocalRuntime, runner: CliRunner) -> None:
    result = invoke(
        runner, "start", "tests.cli.workflows.declined_payment", "--args", "[42]", "--wait"
    )
    assert result.exit_code == 1
    assert "✖ failed" in result.stdout
    assert "card declined for 42" in result.stdout

    body = json.loads(
        invoke(
            runner,
            "start",
            "tests.cli.workflows.declined_payment",
            "--args",
            "[7]",
            "--wait",
            "--json",
        ).stdout
    )
    assert body["status"] == "failed"
    assert "card declined for 7" in body["error"]["message"]


def test_start_imports_the_workflow_module_by_name(rt: LocalRuntime, runner: CliRunner) -> None:
    # samples.fanout is not imported by this test module: the CLI imports it from the name.
    body = ok_json(runner, "start", "samples.fanout.process_item", "--args", "[4]", "--wait")
    assert body["output"] == 16


def test_start_rejects_bad_input(rt: LocalRuntime, runner: CliRunner) -> None:
    bad_json = invoke(runner, "start", "samples.onboarding.onboard_user", "--args", "[oops")
    assert bad_json.exit_code == 2
    assert "not valid JSON" in bad_json.output

    not_a_list = invoke(runner, "start", "samples.onboarding.onboard_user", "--args", '{"a": 1}')
    assert not_a_list.exit_code == 2
    assert "JSON array" in not_a_list.output

    unknown = invoke(runner, "start", "samples.onboarding.no_such_workflow")
    assert_one_line_error(unknown, "'samples.onboarding.no_such_workflow' is not registered")

    missing_module = invoke(runner, "start", "nowhere.at_all.flow")
    assert_one_line_error(missing_module, "is not registered")


# --- runs ls -------------------------------------------------------------------------------


def test_runs_ls_table_json_and_filters(rt: LocalRuntime, runner: CliRunner) -> None:
    done = start(onboard_user, args=["ls@x.y"])
    rt.drain()
    failed = start(wf.declined_payment, args=[1])
    rt.drain()
    pending = start(onboard_user, args=["later@x.y"])  # not drained: stays pending

    result = invoke(runner, "runs", "ls")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "RUN",
        "ID",
        "WORKFLOW",
        "STATUS",
        "DEPLOYMENT",
        "CREATED",
        "DURATION",
    ]
    by_id = {line.split()[0]: line for line in lines[1:]}
    assert list(by_id) == [pending.run_id, failed.run_id, done.run_id]  # newest first
    assert "✔ completed" in by_id[done.run_id]
    assert "✖ failed" in by_id[failed.run_id]
    assert "○ pending" in by_id[pending.run_id]
    assert "samples.onboarding.onboard_user" in by_id[done.run_id]

    body = ok_json(runner, "runs", "ls")
    assert [r["runId"] for r in body["runs"]] == [pending.run_id, failed.run_id, done.run_id]
    assert body["runs"][2]["status"] == "completed"
    assert body["runs"][2]["output"]["user_id"] == "user_ls"
    assert body["runs"][1]["error"]["message"] == "card declined for 1"

    only_failed = ok_json(runner, "runs", "ls", "--status", "failed")
    assert [r["runId"] for r in only_failed["runs"]] == [failed.run_id]
    onboarding = ok_json(runner, "runs", "ls", "--workflow", "samples.onboarding.onboard_user")
    assert [r["runId"] for r in onboarding["runs"]] == [pending.run_id, done.run_id]
    assert len(ok_json(runner, "runs", "ls", "--limit", "1")["runs"]) == 1

    nothing = invoke(runner, "runs", "ls", "--workflow", "no.such.workflow")
    assert nothing.exit_code == 0 and "no runs matching the filters" in nothing.stdout

    bad_status = invoke(runner, "runs", "ls", "--status", "sleeping")
    assert bad_status.exit_code == 2
    assert "must be one of" in bad_status.output


# --- runs show ------------------------------------------------------------------------------


def test_runs_show_onboarding_timeline(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(onboard_user, args=["ada@example.com"])
    rt.drain()

    result = invoke(runner, "runs", "show", run.run_id)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"Run         {run.run_id}" in out
    assert "Status      ✔ completed" in out
    assert 'Input       {"args": ["ada@example.com"], "kwargs": {}}' in out
    assert '"user_id": "user_ada"' in out.split("Output", 1)[1].splitlines()[0]
    assert "Child runs: none" in out
    assert re.search(r"Timeline \(\d+ events, ", out)

    lines = step_lines(out, ONBOARDING_STEPS)
    assert len(lines) == 4
    for line, name in zip(lines, ONBOARDING_STEPS, strict=True):
        short = name.rsplit(".", 1)[-1]
        assert f" {short} " in line
        assert "1 attempt " in line
        assert line.rstrip().endswith("✔ completed")
        offset, bar = line.split()[:2]
        assert offset.startswith("+")
        assert len(bar) == 24 and set(bar) <= {"·", "█"} and "█" in bar
    # Steps run one after the other: each bar starts no earlier than the previous one.
    starts = [line.split()[1].index("█") for line in lines]
    assert starts == sorted(starts)

    body = ok_json(runner, "runs", "show", run.run_id)
    assert body["runId"] == run.run_id and body["status"] == "completed"
    assert body["input"] == {"args": ["ada@example.com"], "kwargs": {}}
    assert body["output"]["notifications"] == [
        "email:welcome:user_ada",
        "push:user_ada:Welcome aboard!",
    ]
    assert body["children"] == [] and body["parentRunId"] is None
    timeline = body["timeline"]
    assert [span["name"] for span in timeline] == ONBOARDING_STEPS
    assert all(span["kind"] == "step" and span["outcome"] == "completed" for span in timeline)
    assert all(span["attempts"] == 1 and span["duration"] >= 0 for span in timeline)
    offsets = [span["startOffset"] for span in timeline]
    assert offsets == sorted(offsets) and offsets[0] >= 0


def test_runs_show_a_retried_step_with_its_attempts(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(wf.fetch_with_retries, args=["k1"])
    rt.drain()
    assert run.return_value == "value of k1"

    out = invoke(runner, "runs", "show", run.run_id).stdout
    [line] = step_lines(out, ["tests.cli.workflows.flaky_fetch"])
    assert "3 attempts" in line and "✔ completed" in line

    [span] = ok_json(runner, "runs", "show", run.run_id)["timeline"]
    assert span["name"] == "tests.cli.workflows.flaky_fetch"
    assert span["attempts"] == 3 and span["outcome"] == "completed"
    # The retries' backoff is inside the step's span.
    assert span["duration"] >= 2.0


def test_runs_show_a_failed_run(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(wf.declined_payment, args=[99])
    rt.drain()
    out = invoke(runner, "runs", "show", run.run_id).stdout
    assert "Status      ✖ failed" in out
    assert "card declined for 99" in out.split("Error", 1)[1].splitlines()[0]
    [line] = step_lines(out, ["tests.cli.workflows.charge"])
    assert "1 attempt " in line and line.rstrip().endswith("✖ failed")
    # The error is on the next line, under the bar; its traceback in its own section.
    detail = timeline(out)[timeline(out).index(line) + 1]
    assert detail.split() == ["└", "FatalError:", "card", "declined", "for", "99"]
    tracebacks = out.split("\nTracebacks\n", 1)[1]
    assert "  step charge (step_1), attempt 1:" in tracebacks
    assert 'in charge\n        raise FatalError(f"card declined for {amount}")' in tracebacks
    assert f"  run {run.run_id}:" in tracebacks
    assert "in declined_payment\n        return await charge(amount)" in tracebacks

    body = ok_json(runner, "runs", "show", run.run_id)
    assert body["status"] == "failed" and "output" not in body
    assert body["error"]["message"] == "card declined for 99"
    assert "return await charge(amount)" in body["error"]["stack"]
    assert body["timeline"][0]["outcome"] == "failed"


def test_runs_show_sleeps_hooks_and_running_runs(rt: LocalRuntime, runner: CliRunner) -> None:
    napping = start(wf.naps_between_notes)
    hooked = start(wf.waits_for_approval, args=["approve-1"])
    rt.drain(skip_time=False)  # the sleep is not due, the hook is not resumed

    body = ok_json(runner, "runs", "show", napping.run_id)
    assert body["status"] == "running"
    assert [(s["kind"], s["outcome"]) for s in body["timeline"]] == [
        ("step", "completed"),
        ("sleep", "sleeping"),
    ]
    assert body["timeline"][1]["name"] == "sleep 5m00s" and body["timeline"][1]["duration"] is None
    out = invoke(runner, "runs", "show", napping.run_id).stdout
    assert "Status      ● running" in out and "so far" in out
    assert "sleep 5m00s" in out and "◷ sleeping" in out

    hook = ok_json(runner, "runs", "show", hooked.run_id)["timeline"]
    assert hook == [
        {
            "kind": "hook",
            "correlationId": hook[0]["correlationId"],
            "name": "hook approve-1",
            "startOffset": hook[0]["startOffset"],
            "duration": None,
            "attempts": 0,
            "outcome": "waiting",
            "detail": "",
        }
    ]

    rt.drain()  # the clock jumps past the sleep
    done = ok_json(runner, "runs", "show", napping.run_id)
    assert done["output"] == ["before", "after"]
    assert [s["outcome"] for s in done["timeline"]] == ["completed", "completed", "completed"]
    # Measured from when the wait was recorded, a moment after the workflow's clock
    # (the last event) the 5 minutes count from.
    assert done["timeline"][1]["duration"] == pytest.approx(300, abs=1)


def test_runs_show_child_runs_and_parent(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(wf.parent)
    rt.drain()
    child_ids = run.return_value

    body = ok_json(runner, "runs", "show", run.run_id)
    assert [c["runId"] for c in body["children"]] == child_ids
    assert [c["output"] for c in body["children"]] == [2, 4]
    out = invoke(runner, "runs", "show", run.run_id).stdout
    assert "Child runs (2)" in out
    for child_id in child_ids:
        [line] = [line for line in out.splitlines() if line.startswith(f"  {child_id}")]
        assert "tests.cli.workflows.child" in line and "✔ completed" in line
        assert "(spawn_two)" in line

    child = ok_json(runner, "runs", "show", child_ids[0])
    assert child["parentRunId"] == run.run_id
    assert child["children"] == []
    assert f"Parent      {run.run_id}" in invoke(runner, "runs", "show", child_ids[1]).stdout

    order = start(fulfill_order, args=["o-1", ["book"], 100])
    rt.drain()
    report_id = order.return_value["report_run_id"]
    assert [c["runId"] for c in ok_json(runner, "runs", "show", order.run_id)["children"]] == [
        report_id
    ]


# --- runs events ----------------------------------------------------------------------------


def test_runs_events(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(onboard_user, args=["ev@x.y"])
    rt.drain()
    events = rt.events(run.run_id)

    body = ok_json(runner, "runs", "events", run.run_id)
    assert [e["seq"] for e in body["events"]] == [e.seq for e in events]
    assert [e["type"] for e in body["events"]] == [e.type for e in events]
    assert body["events"][0]["data"]["workflow_name"] == "samples.onboarding.onboard_user"
    assert body["events"][-1]["type"] == "run_completed"
    created = [e for e in body["events"] if e["type"] == "step_created"]
    assert [e["data"]["step_name"] for e in created] == ONBOARDING_STEPS
    assert all(e["runId"] == run.run_id and e["createdAt"] for e in body["events"])

    result = invoke(runner, "runs", "events", run.run_id)
    assert result.exit_code == 0
    rows = result.stdout.splitlines()[1:]
    assert len(rows) == len(events)
    assert [row.split()[2] for row in rows] == [e.type for e in events]
    assert rows[2].split()[3] == "step_1"


# --- runs cancel, hooks resume ----------------------------------------------------------------


def test_runs_cancel(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(wf.waits_for_approval, args=["cancel-me"])
    rt.drain()
    assert run.status == "running"

    result = invoke(runner, "runs", "cancel", run.run_id)
    assert result.exit_code == 0
    assert f"cancelled run {run.run_id} (was running)" in result.stdout
    assert run.status == "cancelled"
    assert ok_json(runner, "runs", "cancel", run.run_id) == {
        "runId": run.run_id,
        "status": "cancelled",
    }
    assert "already cancelled" in invoke(runner, "runs", "cancel", run.run_id).stdout

    done = start(onboard_user, args=["c@x.y"])
    rt.drain()
    result = invoke(runner, "runs", "cancel", done.run_id)
    assert result.exit_code == 0 and "already completed; nothing to cancel" in result.stdout
    assert done.status == "completed"


def test_hooks_resume(rt: LocalRuntime, runner: CliRunner) -> None:
    run = start(wf.waits_for_approval, args=["approve-2"])
    rt.drain()

    result = invoke(runner, "hooks", "resume", "approve-2", "--payload", '{"approved": true}')
    assert result.exit_code == 0, result.output
    assert f"resumed run {run.run_id}" in result.stdout
    rt.drain()
    assert run.return_value == {"approved": True}

    hook = ok_json(runner, "runs", "show", run.run_id)["timeline"][0]
    assert hook["kind"] == "hook" and hook["outcome"] == "received" and hook["attempts"] == 1

    other = start(wf.waits_for_approval, args=["approve-3"])
    rt.drain()
    assert ok_json(runner, "hooks", "resume", "approve-3") == {"runId": other.run_id}
    rt.drain()
    assert other.return_value is None

    unknown = invoke(runner, "hooks", "resume", "no-such-token", "--payload", "1")
    assert_one_line_error(unknown, "no-such-token")
    bad = invoke(runner, "hooks", "resume", "approve-2", "--payload", "{nope")
    assert bad.exit_code == 2 and "not valid JSON" in bad.output


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["runs", "show"],
        ["runs", "show", "--json"],
        ["runs", "events"],
        ["runs", "events", "--follow", "--json"],
        ["runs", "cancel"],
        ["runs", "result"],
        ["runs", "result", "--wait", "--json"],
        ["hooks", "resume", "--run"],
    ],
    ids=["show", "show-json", "events", "follow-json", "cancel", "result", "result-json", "hook"],
)
def test_unknown_run_id(rt: LocalRuntime, runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(app, [*command, "wrun_does_not_exist"])
    if "--json" in command:
        assert_json_error(result, "run_not_found", "no run with id 'wrun_does_not_exist'")
    else:
        assert_one_line_error(result, "no run with id 'wrun_does_not_exist'")


def _fake_stack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "ADAPTER_TABLE_NAME": "t",
        "ADAPTER_WORKFLOW_QUEUE_URL": "http://127.0.0.1:1/123456789012/w",
        "ADAPTER_STEP_QUEUE_URL": "http://127.0.0.1:1/123456789012/s",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("ADAPTER_FUNCTION_NAME", raising=False)


@pytest.mark.parametrize(
    "command",
    [
        ["runs", "ls"],
        ["runs", "show", "wrun_x"],
        ["runs", "events", "wrun_x", "--json"],
        ["runs", "cancel", "wrun_x"],
        ["hooks", "resume", "tok"],
        ["start", "samples.onboarding.onboard_user", "--args", '["a@b.c"]'],
    ],
    ids=["ls", "show", "events", "cancel", "resume", "start"],
)
def test_unreachable_endpoint(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    _fake_stack_env(monkeypatch)
    closed = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, [*command, "--endpoint-url", closed])
    if "--json" in command:
        assert_json_error(result, "unreachable", f"cannot reach the endpoint {closed}")
    else:
        assert_one_line_error(result, f"cannot reach the endpoint {closed}")


def test_unreachable_endpoint_as_a_global_option(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_stack_env(monkeypatch)
    closed = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["--endpoint-url", closed, "runs", "ls"])
    assert_one_line_error(result, f"cannot reach the endpoint {closed}")


def test_unreachable_endpoint_past_the_preflight(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # botocore's own EndpointConnectionError (the endpoint went away after the check)
    # gets the same treatment.
    from adapter.cli import _connection

    _fake_stack_env(monkeypatch)
    monkeypatch.setattr(_connection, "check_endpoint", lambda url, source: None)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    closed = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["runs", "show", "wrun_x", "--endpoint-url", closed])
    assert_one_line_error(result, "cannot reach", closed)


def test_missing_configuration(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key in list(os.environ):
        if key.startswith("ADAPTER_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    for command in (["runs", "ls"], ["runs", "show", "wrun_x"], ["start", "a.b"]):
        result = runner.invoke(app, command)
        assert_one_line_error(result, "no adapter stack configured", "adapter dev")


def test_dev_file_is_found_from_a_subdirectory(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key in list(os.environ):
        if key.startswith(("ADAPTER_", "AWS_")):
            monkeypatch.delenv(key)
    port = free_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "ADAPTER_TABLE_NAME": "adapter-dev-runs",
        "ADAPTER_WORKFLOW_QUEUE_URL": f"http://127.0.0.1:{port}/123456789012/adapter-dev-workflow",
        "ADAPTER_STEP_QUEUE_URL": f"http://127.0.0.1:{port}/123456789012/adapter-dev-step",
    }
    (tmp_path / ".adapter-dev.json").write_text(json.dumps({"env": env, "pid": 1}))
    nested = tmp_path / "src" / "app"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    result = runner.invoke(app, ["runs", "ls"])
    # The file was found (its endpoint is named) and the stack it names is gone.
    assert_one_line_error(result, f"http://127.0.0.1:{port}", "is `adapter dev`")
    assert str(tmp_path / ".adapter-dev.json") in result.stderr

    (tmp_path / ".adapter-dev.json").write_text("{not json")
    for key in list(os.environ):  # what the first invocation loaded from the file
        if key.startswith(("ADAPTER_", "AWS_")):
            monkeypatch.delenv(key)
    assert_one_line_error(runner.invoke(app, ["runs", "ls"]), "cannot read")


def test_dev_file_drives_a_live_stack(
    rt: LocalRuntime, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # With the ADAPTER_* variables unset, the dev file's are used (here: the LocalRuntime's,
    # whose active runtime answers).
    env = dict(rt.env)
    for key in env:
        monkeypatch.delenv(key)
    (tmp_path / ".adapter-dev.json").write_text(json.dumps({"env": env}))
    monkeypatch.setenv("ADAPTER_DEV_FILE", str(tmp_path / ".adapter-dev.json"))
    run = start(onboard_user, args=["df@x.y"])
    rt.drain()
    assert ok_json(runner, "runs", "show", run.run_id)["status"] == "completed"


def test_help_lists_every_command(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("dev", "start", "runs", "hooks"):
        assert command in result.stdout
    runs = runner.invoke(app, ["runs", "--help"]).stdout
    for command in ("ls", "show", "events", "cancel"):
        assert command in runs


def test_start_with_a_bare_name_suggests_the_full_one(rt: LocalRuntime, runner: CliRunner) -> None:
    bare = invoke(runner, "start", "onboard_user", "--args", '["a@b.c"]')
    assert_one_line_error(
        bare, "'onboard_user' is not registered: did you mean 'samples.onboarding.onboard_user'?"
    )
    as_json = invoke(runner, "start", "onboard_user", "--json")
    assert_json_error(
        as_json, "workflow_not_found", "did you mean 'samples.onboarding.onboard_user'?"
    )


def test_start_refusals_are_one_line_with_their_codes(rt: LocalRuntime, runner: CliRunner) -> None:
    name = "samples.onboarding.onboard_user"
    assert_one_line_error(invoke(runner, "start", name, "--args", "[]"), "do not fit workflow")
    assert_json_error(
        invoke(runner, "start", name, "--args", '["a", "b"]', "--json"), "invalid_arguments"
    )
    invoke(runner, "start", name, "--args", '["k@x.y"]', "--idempotency-key", "k-1")
    assert_json_error(
        invoke(
            runner, "start", name, "--args", '["other@x.y"]', "--idempotency-key", "k-1", "--json"
        ),
        "idempotency_conflict",
        "other arguments",
    )
