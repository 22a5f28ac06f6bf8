"""Running ``adapter`` commands in tests, and reading what they print."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from adapter.cli import app


def invoke(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def ok_json(runner: CliRunner, *args: str) -> Any:
    result = invoke(runner, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_one_line_error(result: Any, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def timeline(output: str) -> list[str]:
    """The lines of the timeline section of ``runs show``."""
    section = output.split("\nTimeline (", 1)[1].split("\n\n", 1)[0]
    return section.splitlines()[1:]


def assert_json_error(result: Any, code: str, *fragments: str, exit_code: int = 1) -> None:
    """With --json, an error is one JSON object on stderr: ``{"error": {"code", "message"}}``."""
    assert result.exit_code == exit_code, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    body = json.loads(lines[0])
    assert body == {"error": {"code": code, "message": body["error"]["message"]}}
    for fragment in fragments:
        assert fragment in body["error"]["message"]


def step_lines(output: str, names: list[str]) -> list[str]:
    """The timeline lines of ``runs show``, in output order, for the given step names."""
    short = [name.rsplit(".", 1)[-1] for name in names]
    return [line for line in timeline(output) if " step " in line and any(s in line for s in short)]
