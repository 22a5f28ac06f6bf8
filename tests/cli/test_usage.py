"""The command line itself: --version, help, usage errors and exit codes, the shape of
errors, and the width of the timeline."""

from __future__ import annotations

import json
from importlib.metadata import version
from typing import Any

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

import adapter.cli.runs
from adapter import start
from adapter.cli import CliError, app
from adapter.core.errors import AdapterError
from adapter.testing import LocalRuntime

from . import workflows as wf
from .helpers import assert_json_error, assert_one_line_error, invoke, timeline

COMMANDS = [
    [],
    ["start"],
    ["dev"],
    ["runs"],
    ["runs", "ls"],
    ["runs", "show"],
    ["runs", "events"],
    ["runs", "result"],
    ["runs", "cancel"],
    ["runs", "wake"],
    ["runs", "retry"],
    ["runs", "redrive"],
    ["hooks"],
    ["hooks", "resume"],
    ["ui"],
]


def test_version(runner: CliRunner) -> None:
    result = invoke(runner, "--version")
    assert result.exit_code == 0
    assert result.stdout == f"adapter {version('adapter')}\n"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "adapter")
def test_help_has_no_type_noise(runner: CliRunner, command: list[str]) -> None:
    result = invoke(runner, *command, "--help")
    assert result.exit_code == 0, result.output
    # No "<bool>" beside a flag, no "<str>" or "<list[str]>" beside a named argument.
    for noise in ("<bool>", "<str>", "<list"):
        assert noise not in result.stdout
    assert "--help" in result.stdout


def test_help_paragraphs_wrap_to_the_terminal(runner: CliRunner) -> None:
    """A docstring's source line breaks do not show: each command's summary is one line
    in its group's list, and a long paragraph fills the width before it wraps."""
    listing = runner.invoke(app, ["runs", "--help"], env={"COLUMNS": "100"}).stdout
    summaries = {
        "ls": "List runs, newest first, a page at a time.",
        "retry": "Bring back a stuck run, or one the runtime (not its code) failed.",
        "redrive": "Move dead-lettered messages back to their queues.",
    }
    for command, summary in summaries.items():
        [line] = [line for line in listing.splitlines() if f" {command} " in line]
        assert line.strip("│ ").split(None, 1)[1].rstrip(" │") == summary
    detail = runner.invoke(app, ["runs", "retry", "--help"], env={"COLUMNS": "80"}).stdout
    lines = [line.strip() for line in detail.splitlines()]
    first = lines.index(summaries["retry"]) + 2  # the next paragraph, after a blank line
    paragraph = lines[first : lines.index("", first)]
    assert paragraph[0].startswith("A stuck run's open work is sent again.")
    assert len(paragraph) >= 2 and all(len(line) > 60 for line in paragraph[:-1])


def test_help_documents_the_exit_codes(runner: CliRunner) -> None:
    for command in ([], ["runs"], ["start"]):
        out = " ".join(invoke(runner, *command, "--help").stdout.split())
        assert "Exit status: 0 success; 1 failure" in out and "2 usage error" in out
    runs = invoke(runner, "runs", "--help").stdout
    for command in ("ls", "show", "events", "result", "cancel", "wake", "retry", "redrive"):
        assert command in runs


@pytest.mark.parametrize(
    ("args", "fragment", "command_path"),
    [
        (["runs", "ls", "--nope"], "No such option: --nope", "adapter runs ls"),
        (["runs", "show"], "Missing argument 'RUN_ID'", "adapter runs show"),
        (["runs", "ls", "--status", "sleeping"], "must be one of", "adapter runs ls"),
        (["runs", "ls", "--limit", "0"], "--limit", "adapter runs ls"),
        (["start", "a.b", "--args", "[oops"], "not valid JSON", "adapter start"),
        (["runs", "frobnicate"], "No such command 'frobnicate'", "adapter runs"),
    ],
    ids=["option", "argument", "status", "limit", "json", "command"],
)
def test_usage_errors_are_one_line_and_exit_2(
    runner: CliRunner, args: list[str], fragment: str, command_path: str
) -> None:
    result = invoke(runner, *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and fragment in line
    assert line.endswith(f"(see `{command_path} --help`)")

    as_json = invoke(runner, *args, "--json")
    assert_json_error(as_json, "usage", fragment, exit_code=2)


def test_json_errors_go_to_stderr_in_the_api_shape(rt: LocalRuntime, runner: CliRunner) -> None:
    result = invoke(runner, "hooks", "resume", "no-such-token", "--json")
    assert_json_error(result, "hook_not_found", "no-such-token")
    unknown = invoke(runner, "start", "tests.cli.workflows.nope", "--json")
    assert_json_error(unknown, "workflow_not_found", "is not registered")
    # After "--", "--json" is an argument, not the option.
    assert invoke(runner, "runs", "show", "--", "--json").stderr.startswith("error: ")


def test_unexpected_errors(
    rt: LocalRuntime, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = start(wf.child, args=[1])
    rt.drain()

    def boom(run_id: str) -> Any:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(adapter.cli.runs, "child_runs", boom)
    result = invoke(runner, "runs", "show", run.run_id)
    assert_one_line_error(result, "RuntimeError: boom second line", "ADAPTER_DEBUG=1")
    assert_json_error(
        invoke(runner, "runs", "show", run.run_id, "--json"), "internal_error", "boom"
    )
    monkeypatch.setenv("ADAPTER_DEBUG", "1")
    debug = runner.invoke(app, ["runs", "show", run.run_id])
    assert isinstance(debug.exception, RuntimeError)  # the traceback, for CLI debugging


def test_cli_errors_are_adapter_errors() -> None:
    assert issubclass(CliError, AdapterError)
    assert CliError("x", code="unreachable").code == "unreachable"


def test_the_timeline_fits_100_columns(
    rt: LocalRuntime, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: the timeline stays narrow
    run = start(wf.long_names, args=["t" * 120])
    rt.drain()
    out = invoke(runner, "runs", "show", run.run_id).stdout
    lines = timeline(out)
    assert len(lines) == 3  # the step, its error, the hook
    assert all(cell_len(line) <= 100 for line in lines), [cell_len(line) for line in lines]
    step, error, hook = lines
    assert " a_step_whose_name_is_far" in step and "…" in step and "✖ failed" in step
    assert error.split()[:5] == ["└", "FatalError:", "a", "very", "long"]
    assert error.endswith("…")
    assert " hook tttt" in hook and "◌ waiting" in hook
    # The full names are still there in --json.
    spans = json.loads(invoke(runner, "runs", "show", run.run_id, "--json").stdout)["timeline"]
    assert spans[0]["name"] == wf.LONG_STEP_NAME and spans[1]["name"] == "hook " + "t" * 120
