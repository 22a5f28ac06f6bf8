"""``adapter ui``: the inspector and the API served locally for a stack on "AWS" (moto,
in-process), read with this process's credentials; writes only from its own page."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws
from typer.testing import CliRunner

import adapter.cli.ui
from adapter import get_run, start
from adapter.dev import ApiServer
from adapter.world.aws import create_resources

from . import workflows as wf
from .helpers import invoke


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A stack's resources in moto, named by the ADAPTER_* variables, as for a deploy."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "ADAPTER_DEV_FILE"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws():
        env = create_resources("ui-test")
        os.environ.update(env)
        yield env


def request(
    port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


def serve_during(monkeypatch: pytest.MonkeyPatch, check: Any, runner: CliRunner, *args: str) -> Any:
    """Run ``adapter ui`` and call ``check(port)`` while it serves (instead of waiting
    for Ctrl-C); return the command's result."""
    servers: list[ApiServer] = []
    real_serve = adapter.cli.ui.serve

    def recording_serve(port: int, *rest: Any) -> ApiServer:
        servers.append(real_serve(port, *rest))
        return servers[-1]

    monkeypatch.setattr(adapter.cli.ui, "serve", recording_serve)
    monkeypatch.setattr(adapter.cli.ui, "wait_for_interrupt", lambda: check(servers[0].port))
    return invoke(runner, "ui", "--port", "0", *args)


def test_ui_serves_the_inspector_and_reads_the_stack_in_process(
    deployed: dict[str, str], runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = start(wf.child, args=[4])
    seen: dict[str, Any] = {}

    def check(port: int) -> None:
        status, headers, body = request(port, "GET", "/ui/")
        assert status == 200 and headers["content-type"].startswith("text/html")
        assert b'src="app.js"' in body
        status, _, body = request(port, "GET", "/runs")
        seen["runs"] = json.loads(body)
        status, _, body = request(port, "GET", f"/runs/{run.run_id}")
        seen["run"] = (status, json.loads(body))
        # A write from the inspector's own page (same origin) goes through.
        own = {"Origin": f"http://127.0.0.1:{port}", "Content-Type": "application/json"}
        seen["cancel"] = request(port, "POST", f"/runs/{run.run_id}/cancel", headers=own)[0]

    result = serve_during(monkeypatch, check, runner)
    assert result.exit_code == 0, result.output
    assert "run inspector: http://127.0.0.1:" in result.stderr and "/ui/" in result.stderr
    assert [r["runId"] for r in seen["runs"]["runs"]] == [run.run_id]
    assert seen["run"][0] == 200
    assert seen["run"][1]["workflowName"] == "tests.cli.workflows.child"
    assert seen["cancel"] == 202
    assert get_run(run.run_id).status == "cancelled"  # written to the stack itself


def test_ui_refuses_other_sites_and_other_host_names(
    deployed: dict[str, str], runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = start(wf.child, args=[5])
    answers: dict[str, tuple[int, Any]] = {}

    def check(port: int) -> None:
        def ask(name: str, method: str, path: str, headers: dict[str, str]) -> None:
            status, _, body = request(port, method, path, headers=headers)
            answers[name] = (status, json.loads(body))

        cancel = f"/runs/{run.run_id}/cancel"
        # JSON writes, so that what refuses them is the guard and not the media type
        # (a plain text/plain POST is a 415 already).
        json_ = {"Content-Type": "application/json"}
        ask("evil origin", "POST", cancel, {**json_, "Origin": "https://evil.example"})
        ask("cross site", "POST", cancel, {**json_, "Sec-Fetch-Site": "cross-site"})
        # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host.
        ask("rebound", "GET", "/runs", {"Host": f"evil.example:{port}"})
        ask("own page read", "GET", f"/runs/{run.run_id}", {"Sec-Fetch-Site": "same-origin"})

    result = serve_during(monkeypatch, check, runner)
    assert result.exit_code == 0, result.output
    for name in ("evil origin", "cross site", "rebound"):
        status, body = answers[name]
        assert status == 403, name
        assert body["error"]["code"] == "forbidden"
    assert answers["own page read"][0] == 200
    assert get_run(run.run_id).status == "pending"  # the refused cancels did nothing


def test_ui_without_a_stack_is_a_one_line_error(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for key in ("ADAPTER_TABLE_NAME", "ADAPTER_WORKFLOW_QUEUE_URL", "ADAPTER_STEP_QUEUE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, "ui", "--port", "0")
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: no adapter stack configured")
