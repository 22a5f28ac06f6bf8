"""``adapter dev`` end to end: a real subprocess, real HTTP, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def base_env() -> dict[str, str]:
    """This environment minus anything that could point a child at another stack."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ADAPTER_", "AWS_", "POWERTOOLS_"))
    }
    env["PYTHONPATH"] = str(ROOT)  # the CLI subprocesses may run from another directory
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Dev:
    """A running ``adapter dev`` subprocess."""

    proc: subprocess.Popen[bytes]
    port: int
    dev_file: Path
    log: Path
    _info: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def info(self) -> dict[str, Any]:
        # Read once: the file goes away when the stack stops.
        if not self._info:
            self._info.update(json.loads(self.dev_file.read_text()))
        return self._info

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def cli(
        self, *args: str, cwd: Path = ROOT, with_env: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the CLI as a subprocess, with the environment the dev stack advertises."""
        env = base_env()
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

    def wait_until(self, what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"adapter dev exited early:\n{self.output()}"
            if check():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}\n{self.output()}")

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        """SIGINT (as Ctrl-C would) or SIGTERM; return the exit status."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"adapter dev did not stop in {STOP_TIMEOUT}s\n{self.output()}"
            ) from None


def launch(tmp_path: Path, *args: str, name: str = "dev") -> Dev:
    """Start ``adapter dev`` on free ports and wait until its HTTP API answers."""
    port = free_port()
    dev_file = tmp_path / f"{name}.json"
    log = tmp_path / f"{name}.log"
    with log.open("wb") as out:  # a file, not a pipe: a full pipe would block the stack
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "adapter.cli",
                "dev",
                *args,
                "--port",
                str(port),
                "--moto-port",
                str(free_port()),
                "--dev-file",
                str(dev_file),
            ],
            cwd=ROOT,
            env=base_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    dev = Dev(proc, port, dev_file, log)

    def ready() -> bool:
        try:
            return dev.request("GET", "/runs?limit=1")[0] == 200 and dev_file.is_file()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    dev.wait_until("the dev stack to answer", ready, READY_TIMEOUT)
    dev.info()
    return dev


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[Dev]]:
    """Dev stacks a test started; any left running at the end are killed."""
    started: list[Dev] = []
    yield started
    for dev in started:
        if dev.proc.poll() is None:
            dev.proc.kill()
            dev.proc.wait()


def wait_for_status(dev: Dev, run_id: str, status: str, timeout: float = 30.0) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def reached() -> bool:
        code, body = dev.request("GET", f"/runs/{run_id}")
        seen.update(body)
        return code == 200 and body["status"] == status

    dev.wait_until(f"run {run_id} to be {status} (last seen: {seen})", reached, timeout)
    return seen


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
    run = wait_for_status(dev, run_id, "completed")
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
    order = wait_for_status(dev, body["runId"], "completed")
    report_id = order["output"]["report_run_id"]
    assert wait_for_status(dev, report_id, "completed")["output"].startswith("report o-9")

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
    run = wait_for_status(again, run_id, "completed")
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
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: cannot import workflow module 'no_such_module_xyz': no module named "
        f"'no_such_module_xyz' (looked in {ROOT} and the installed packages)"
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
            env=base_env(),
            capture_output=True,
            text=True,
            timeout=50,
        )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: port {port} on 127.0.0.1 is already in use")
    assert "--port" in result.stderr and "Traceback" not in result.stderr
