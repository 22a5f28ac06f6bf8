"""A real ``adapter dev`` subprocess and Debian's chromium, for the browser tests and the
screenshot script (``python -m tests.browser.screenshots``)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = "tests.browser.workflows"
READY_TIMEOUT = 60.0
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A port nothing listens on (right now) on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def chromium_path() -> str | None:
    """Debian's chromium (``apt-get install chromium``), never a downloaded browser."""
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def launch_chromium(playwright: Any) -> Any:
    """Start headless chromium through Playwright.

    Raises:
        RuntimeError: when chromium is not installed.
    """
    path = chromium_path()
    if path is None:
        raise RuntimeError(
            "chromium is not installed: `apt-get install -y chromium` (make test does it); "
            "the browser tests never download a browser"
        )
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)


def _child_env() -> dict[str, str]:
    # Nothing from this shell may point the stack at another one.
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ADAPTER_", "AWS_", "POWERTOOLS_"))
    }
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class DevServer:
    """A running ``adapter dev`` subprocess serving the HTTP API and the page."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ui(self) -> str:
        return f"{self.url}/ui/"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def start_run(self, workflow: str, *args: Any) -> str:
        code, body = self.request(
            "POST", "/runs", {"workflow": f"{WORKFLOWS}.{workflow}", "args": list(args)}
        )
        assert code == 202, body
        return str(body["runId"])

    def wait_until(self, what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"adapter dev exited early:\n{self.output()}"
            if check():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}\n{self.output()[-4000:]}")

    def wait_for_status(self, run_id: str, status: str, timeout: float = 30.0) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        def reached() -> bool:
            code, body = self.request("GET", f"/runs/{run_id}")
            seen.clear()
            seen.update(body)
            return code == 200 and body["status"] == status

        self.wait_until(f"run {run_id} to be {status} (last seen: {seen})", reached, timeout)
        return seen

    def wait_for_event(self, run_id: str, event_type: str, timeout: float = 30.0) -> None:
        def recorded() -> bool:
            events = self.request("GET", f"/runs/{run_id}/events")[1]["events"]
            return any(e["type"] == event_type for e in events)

        self.wait_until(f"{event_type} in run {run_id}", recorded, timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_dev(workdir: Path) -> DevServer:
    """Start ``adapter dev`` with the browser workflows on free ports; wait until it answers."""
    port = free_port()
    log = workdir / "adapter-dev.log"
    with log.open("wb") as out:  # a file, not a pipe: a full pipe would block the stack
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "adapter.cli",
                "dev",
                WORKFLOWS,
                "--port",
                str(port),
                "--moto-port",
                str(free_port()),
                "--dev-file",
                str(workdir / "adapter-dev.json"),
            ],
            cwd=ROOT,
            env=_child_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = DevServer(proc, port, log)

    def ready() -> bool:
        try:
            return server.request("GET", "/runs?limit=1")[0] == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    try:
        server.wait_until("adapter dev to answer", ready, READY_TIMEOUT)
    except BaseException:
        server.stop()
        raise
    return server
