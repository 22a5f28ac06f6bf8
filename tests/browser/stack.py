"""A real ``adapter dev`` subprocess and Debian's chromium, for the browser tests and the
screenshot script (``python -m tests.browser.screenshots``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.devstack import DevStack, launch

WORKFLOWS = "tests.browser.workflows"
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


class DevServer(DevStack):
    """``adapter dev`` serving the browser workflows, the HTTP API and the page."""

    @property
    def ui(self) -> str:
        return f"{self.url}/ui/"

    def start_run(self, workflow: str, *args: Any) -> str:
        code, body = self.request(
            "POST", "/runs", {"workflow": f"{WORKFLOWS}.{workflow}", "args": list(args)}
        )
        assert code == 202, body
        return str(body["runId"])

    def wait_for_event(self, run_id: str, event_type: str, timeout: float = 30.0) -> None:
        def recorded() -> bool:
            events = self.request("GET", f"/runs/{run_id}/events")[1]["events"]
            return any(e["type"] == event_type for e in events)

        self.wait_until(f"{event_type} in run {run_id}", recorded, timeout)


def start_dev(workdir: Path) -> DevServer:
    """Start ``adapter dev`` with the browser workflows on free ports; wait until it answers."""
    return launch(workdir, DevServer, WORKFLOWS, name="adapter-dev")
