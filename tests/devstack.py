"""A real ``adapter dev`` subprocess, for the suites that drive the dev stack from outside:
the CLI tests, the browser tests and their screenshot script."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    """A port nothing listens on (right now) on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env() -> dict[str, str]:
    """This environment minus anything that could point a child at another stack."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ADAPTER_", "AWS_", "POWERTOOLS_"))
    }
    env["PYTHONPATH"] = str(ROOT)  # children may run from another directory
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class DevStack:
    """A running ``adapter dev`` subprocess: its HTTP API, its log and its dev file."""

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
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def wait_until(self, what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"adapter dev exited early:\n{self.output()}"
            if check():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}\n{self.output()[-4000:]}")

    def wait_for_status(self, run_id: str, status: str, timeout: float = 30.0) -> dict[str, Any]:
        """Poll ``GET /runs/{id}`` until the run has ``status``; return its last answer."""
        seen: dict[str, Any] = {}

        def reached() -> bool:
            code, body = self.request("GET", f"/runs/{run_id}")
            seen.clear()
            seen.update(body)
            return code == 200 and body["status"] == status

        self.wait_until(f"run {run_id} to be {status} (last seen: {seen})", reached, timeout)
        return seen

    def stop(self, sig: signal.Signals = signal.SIGTERM, *, strict: bool = False) -> int:
        """Send ``sig`` and return the exit status; kill it if it does not stop in time
        (and, when ``strict``, fail)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
            if strict:
                raise AssertionError(
                    f"adapter dev did not stop in {STOP_TIMEOUT}s\n{self.output()}"
                ) from None
            return code


Stack = TypeVar("Stack", bound=DevStack)


def launch(workdir: Path, kind: type[Stack], *args: str, name: str = "dev") -> Stack:
    """Start ``adapter dev *args`` on free ports as a ``kind``; wait until it answers."""
    port = free_port()
    dev_file = workdir / f"{name}.json"
    log = workdir / f"{name}.log"
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
            env=child_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    stack = kind(proc, port, dev_file, log)

    def ready() -> bool:
        try:
            return stack.request("GET", "/runs?limit=1")[0] == 200 and dev_file.is_file()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    try:
        stack.wait_until("adapter dev to answer", ready, READY_TIMEOUT)
        stack.info()
    except BaseException:
        stack.stop()
        raise
    return stack
