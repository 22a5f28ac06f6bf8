"""``adapter dev`` end to end: a real subprocess, real HTTP, real signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import devstack
from tests.devstack import ROOT, DevStack, child_env


class Dev(DevStack):
    """``adapter dev`` as the CLI tests drive it: stopped with Ctrl-C, and a CLI beside it."""

    def cli(
        self, *args: str, cwd: Path = ROOT, with_env: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the CLI as a subprocess, with the environment the dev stack advertises."""
        env = child_env()
        if with_env:
            env.update(self.info()["env"])
        return subprocess.run(
            [sys.executable, "-m", "adapter.cli", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def stop(self, sig: signal.Signals = signal.SIGINT, *, strict: bool = True) -> int:
        """SIGINT (as Ctrl-C would) or SIGTERM; return the exit status."""
        return super().stop(sig, strict=strict)


def launch(tmp_path: Path, *args: str, name: str = "dev") -> Dev:
    return devstack.launch(tmp_path, Dev, *args, name=name)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[Dev]]:
    """Dev stacks a test started; any left running at the end are killed."""
    started: list[Dev] = []
    yield started
    for dev in started:
        if dev.proc.poll() is None:
            dev.proc.kill()
            dev.proc.wait()


@pytest.mark.timeout(120)
def test_dev_stack_end_to_end(tmp_path: Path, running: list[Dev]) -> None:
    dev = launch(tmp_path)
    running.append(dev)
    banner = dev.output()
    assert dev.url in banner
    assert "samples.onboarding.onboard_user" in banner
    info = dev.info()
    for key in ("ADAPTER_TABLE_NAME", "ADAPTER_WORKFLOW_QUEUE_URL", "AWS_ENDPOINT_URL"):
        assert f"export {key}={info['env'][key]}" in banner
    assert info["api_url"] == dev.url and info["env"]["ADAPTER_API_URL"] == dev.url

    # Exactly as against API Gateway.
    code, body = dev.request(
        "POST", "/runs", {"workflow": "samples.onboarding.onboard_user", "args": ["a@b.c"]}
    )
    assert code == 202 and body["status"] == "pending"
    run_id = body["runId"]
    run = dev.wait_for_status(run_id, "completed")
    assert run["output"]["user_id"] == "user_a"
    assert run["deploymentId"] == "$LATEST"
    code, events = dev.request("GET", f"/runs/{run_id}/events")
    assert code == 200 and events["events"][-1]["type"] == "run_completed"
    assert dev.request("GET", "/runs/wrun_nope")[0] == 404
    code, error = dev.request("POST", "/runs", {"workflow": "no.such.workflow"})
    assert code == 404 and error["error"]["code"] == "workflow_not_found"

    # A run spawning another one from a step: both are processed by the worker.
    code, body = dev.request(
        "POST",
        "/runs",
        {"workflow": "samples.orders.fulfill_order", "args": ["o-9", ["pen"], 300]},
    )
    order = dev.wait_for_status(body["runId"], "completed")
    report_id = order["output"]["report_run_id"]
    assert dev.wait_for_status(report_id, "completed")["output"].startswith("report o-9")

    # The CLI, as a separate process, with the environment the stack advertises.
    shown = dev.cli("runs", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    body = json.loads(shown.stdout)
    assert body["status"] == "completed" and body["output"] == run["output"]
    assert [s["name"].rsplit(".", 1)[1] for s in body["timeline"]] == [
        "create_account",
        "send_email",
        "send_push_notification",
        "setup_preferences",
    ]
    order_shown = json.loads(dev.cli("runs", "show", order["runId"], "--json").stdout)
    assert [c["runId"] for c in order_shown["children"]] == [report_id]

    listed = dev.cli("runs", "ls")
    assert listed.returncode == 0, listed.stderr
    assert run_id in listed.stdout and report_id in listed.stdout
    assert "✔ completed" in listed.stdout

    # Without any variable: the CLI finds the stack through the dev file, from a
    # subdirectory of where it is.
    (tmp_path / "sub").mkdir()
    (tmp_path / ".adapter-dev.json").write_text(dev.dev_file.read_text())
    found = dev.cli("runs", "ls", "--json", cwd=tmp_path / "sub", with_env=False)
    assert found.returncode == 0, found.stderr
    assert run_id in [r["runId"] for r in json.loads(found.stdout)["runs"]]

    started = dev.cli(
        "start", "samples.onboarding.onboard_user", "--args", '["cli@x.y"]', "--wait", "--json"
    )
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["output"]["user_id"] == "user_cli"

    assert dev.stop() == 0
    out = dev.output()
    assert "stopping" in out and "Traceback" not in out
    assert not dev.dev_file.exists()  # the connection file goes with the stack

    gone = dev.cli("runs", "ls")
    assert gone.returncode == 1
    assert gone.stderr.startswith("error: cannot reach the endpoint")
    assert "Traceback" not in gone.stderr


@pytest.mark.timeout(120)
def test_state_dir_keeps_a_sleeping_run_across_a_restart(
    tmp_path: Path, running: list[Dev]
) -> None:
    state = tmp_path / "state"
    dev = launch(tmp_path, "tests.cli.sleepy", "--state-dir", str(state), name="first")
    running.append(dev)
    assert "tests.cli.sleepy.nap" in dev.output()
    assert "(new)" in dev.output()
    code, body = dev.request("POST", "/runs", {"workflow": "tests.cli.sleepy.nap", "args": ["zz"]})
    assert code == 202
    run_id = body["runId"]

    def sleeping() -> bool:
        events = dev.request("GET", f"/runs/{run_id}/events")[1]["events"]
        return any(e["type"] == "wait_created" for e in events)

    dev.wait_until("the run to sleep", sleeping)
    assert dev.stop() == 0
    assert "state saved to" in dev.output()
    assert (state / "moto-state.json").is_file()

    again = launch(tmp_path, "tests.cli.sleepy", "--state-dir", str(state), name="second")
    running.append(again)
    assert "restored 1 runs, 1 queued messages" in again.output()
    run = again.wait_for_status(run_id, "completed")
    assert run["output"] == ["before zz", "after zz"]
    events = again.request("GET", f"/runs/{run_id}/events")[1]["events"]
    types = [e["type"] for e in events]
    assert types.count("wait_created") == 1 and types.count("wait_completed") == 1
    assert types[-1] == "run_completed"
    # Each step ran once: nothing was replayed twice across the restart.
    assert types.count("step_completed") == 2
    assert again.stop(signal.SIGTERM) == 0
    assert "state saved to" in again.output().split("restored", 1)[1]


@pytest.mark.timeout(60)
def test_dev_reports_a_module_that_does_not_import(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "adapter.cli", "dev", "no_such_module_xyz", "--port", "0"],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == 2  # a bad argument: a usage error
    assert result.stderr.strip() == (
        "error: cannot import workflow module 'no_such_module_xyz': no module named "
        f"'no_such_module_xyz' (looked in {ROOT} and the installed packages)"
    )


@pytest.mark.timeout(60)
def test_dev_shows_the_traceback_of_a_module_that_raises(tmp_path: Path) -> None:
    (tmp_path / "broken_flows_xyz.py").write_text(
        "import json\n\n\ndef helper():\n    raise RuntimeError('no config file')\n\n\nhelper()\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "adapter.cli", "dev", "broken_flows_xyz", "--port", "0"],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert 'broken_flows_xyz.py", line 8, in <module>' in result.stderr
    assert 'broken_flows_xyz.py", line 5, in helper' in result.stderr
    assert "importlib" not in result.stderr  # the user's frames only
    assert lines[-2] == "RuntimeError: no config file"
    assert lines[-1] == (
        "error: importing workflow module 'broken_flows_xyz' failed: RuntimeError: "
        "no config file (traceback above)"
    )


@pytest.mark.timeout(60)
def test_dev_suggests_the_module_name_for_a_file_path() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "adapter.cli", "dev", "samples/orders.py", "--port", "0"],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: 'samples/orders.py' is a file path; adapter dev takes module names: "
        "did you mean `adapter dev samples.orders`?"
    )


@pytest.mark.timeout(60)
def test_dev_reports_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "adapter.cli", "dev", "--port", str(port)],
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=50,
        )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: port {port} on 127.0.0.1 is already in use")
    assert "--port" in result.stderr and "Traceback" not in result.stderr
