"""The dev stack itself: moto, the worker and the HTTP API in one process."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from ..runtime import Runtime
from ..world import ENV_API_URL, ENV_DEV_FILE, ENV_STEP_QUEUE, ENV_WORKFLOW_QUEUE
from ._common import (
    DEFAULT_MOTO_PORT,
    DEFAULT_PORT,
    DEFAULT_PREFIX,
    DEV_FILE_NAME,
    DEV_FUNCTION_TIMEOUT,
    SHUTDOWN_GRACE_SECONDS,
    DevStackError,
)
from ._http import UI_PREFIX, ApiServer
from ._modules import import_modules, resolve_modules
from ._motoserver import (
    MotoServer,
    SerializedApp,
    apply_environment,
    ensure_resources,
    stack_environment,
)
from ._poller import Worker, lambda_processor
from ._runtime import FastSleeps, Sweeper, dev_runtime, print_failed_attempts
from ._state import RestoreSummary, StateSaver, StateStore


@dataclass
class DevStackInfo:
    """What ``.adapter-dev.json`` holds: how a CLI (or a script) reaches the stack."""

    api_url: str
    endpoint_url: str
    env: dict[str, str]
    modules: list[str]
    workflows: list[str]
    state_dir: str | None
    pid: int = field(default_factory=os.getpid)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_json(self) -> dict[str, Any]:
        return {
            "api_url": self.api_url,
            "endpoint_url": self.endpoint_url,
            "env": self.env,
            "modules": self.modules,
            "workflows": self.workflows,
            "state_dir": self.state_dir,
            "pid": self.pid,
            "started_at": self.started_at,
        }


class DevStack:
    """The embedded local stack: moto, the worker and the HTTP API in this process.

    Args:
        modules: Workflow modules to import (see :func:`resolve_modules`).
        port: HTTP API port (0: any free port).
        moto_port: moto server port (0: any free port).
        state_dir: Keep the data across restarts there (see :class:`StateStore`).
        dev_file: Where to write the connection file (default ``./.adapter-dev.json``).
        prefix: Resource name prefix.
        out: Where the banner and request lines go (a ``rich`` console or ``print``).
        function_timeout: Seconds a step attempt owns its step (see
            :data:`DEV_FUNCTION_TIMEOUT`).
        sleep_scale: Wake each sleep after this fraction of its length (1: on time).
        verbose: Print the traceback of every failed step attempt.
    """

    def __init__(
        self,
        modules: Sequence[str] | None = None,
        *,
        port: int = DEFAULT_PORT,
        moto_port: int = DEFAULT_MOTO_PORT,
        state_dir: Path | None = None,
        dev_file: Path | None = None,
        prefix: str = DEFAULT_PREFIX,
        out: Callable[[str], None] = print,
        function_timeout: float = DEV_FUNCTION_TIMEOUT,
        sleep_scale: float = 1.0,
        verbose: bool = False,
    ) -> None:
        if not 0 < sleep_scale <= 1:
            raise DevStackError(f"the sleep scale must be above 0 and at most 1, not {sleep_scale}")
        if function_timeout <= 0:
            raise DevStackError(f"the function timeout must be positive, not {function_timeout}")
        self.modules = resolve_modules(modules)
        self.port = port
        self.moto_port = moto_port
        self.state = StateStore(state_dir, prefix) if state_dir is not None else None
        self.dev_file = dev_file or Path.cwd() / DEV_FILE_NAME
        self.prefix = prefix
        self.out = out
        self.function_timeout = function_timeout
        self.sleep_scale = sleep_scale
        self.verbose = verbose
        self.env: dict[str, str] = {}
        self.info: DevStackInfo | None = None
        self.restored: RestoreSummary | None = None
        self.workflows: list[str] = []
        self.runtime: Runtime | None = None
        self._moto: MotoServer | None = None
        self._api: ApiServer | None = None
        self._worker: Worker | None = None
        self._saver: StateSaver | None = None
        self._sweeper: Sweeper | None = None
        self._fast: FastSleeps | None = None
        self._stop = threading.Event()
        self._stopped = False

    def start(self) -> DevStackInfo:
        """Bring everything up; return the connection info (also written to the dev file).

        Raises:
            DevStackError: a module that does not import, a port in use, a bad state file.
        """
        from ..runtime import activate, reset_env_runtime

        # User code first: an import error should stop us before anything is listening.
        self.workflows = import_modules(self.modules, warn=self.out)
        self._api = ApiServer(self.port, on_request=self._log_request, after_write=self._durable)
        try:
            self._moto = MotoServer(self.moto_port)
            self._moto.start()
            apply_environment(stack_environment(self._moto.url))
            resources, created = ensure_resources(self.prefix)
            if self.state is not None and created:
                self.restored = self.state.restore(resources)
            self.env = {
                **stack_environment(self._moto.url),
                **resources,
                ENV_API_URL: self._api.url,  # so create_webhook().url points here
            }
            os.environ.update(self.env)
            reset_env_runtime()
            self.runtime = dev_runtime(self._api.url)
            activate(self.runtime)  # the HTTP API's runtime too
            if self.verbose:
                print_failed_attempts(self.runtime, self.out)
            if self.sleep_scale < 1:
                self._fast = FastSleeps(self.runtime, self.sleep_scale)
                self._fast.install()
            self._worker = Worker(
                [resources[ENV_WORKFLOW_QUEUE], resources[ENV_STEP_QUEUE]],
                process=lambda_processor(self.function_timeout, self.runtime),
            )
            if self.state is not None:
                worker = self._worker
                self._saver = StateSaver(
                    self.state,
                    resources,
                    changes=lambda: SerializedApp.writes + worker.processed,
                    redelivering=worker.redelivering,
                )
                self._saver.start()
            self._worker.start()
            # Whatever the last process left without a message (it died between a write
            # and its send) is sent now, then every few seconds.
            self._sweeper = Sweeper(self.runtime)
            self._sweeper.start()
            self._api.start()
        except BaseException:
            self.stop()
            raise
        self.info = DevStackInfo(
            api_url=self._api.url,
            endpoint_url=self._moto.url,
            env=self.env,
            modules=self.modules,
            workflows=self.workflows,
            state_dir=str(self.state.state_dir.resolve()) if self.state else None,
        )
        write_dev_file(self.dev_file, self.info)
        return self.info

    def request_stop(self) -> None:
        """Ask :meth:`run` to stop (safe from a signal handler or another thread)."""
        self._stop.set()

    def run(self) -> int:
        """Start, print the banner, serve until SIGINT/SIGTERM, stop cleanly; exit status."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self.start()
            self.out(self.banner())
            self._stop.wait()
            self.out("stopping…")
            return 0
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        """Stop the HTTP API, the worker, save the state, stop moto (idempotent)."""
        from ..runtime import deactivate

        if self._stopped:
            return
        self._stopped = True
        if self._api is not None:
            self._api.stop()
        if self._sweeper is not None:
            self._sweeper.stop()
        if self._fast is not None:
            self._fast.close()
        if self._worker is not None:
            abandoned = self._worker.stop()
            if abandoned:
                self.out(
                    f"{len(abandoned)} invocation(s) still running after "
                    f"{SHUTDOWN_GRACE_SECONDS:.0f}s were abandoned"
                    + ("; they run again at the next start" if self.state else "")
                )
        if self._saver is not None:
            assert self.state is not None
            try:
                counts = self._saver.stop()
            except Exception as exc:
                self.out(f"saving the state to {self.state.path} failed: {exc}")
            else:
                if counts is not None:
                    self.out(
                        f"state saved to {self.state.path} ({counts['items']} items, "
                        f"{counts['messages']} messages, {counts['objects']} objects)"
                    )
        if self.runtime is not None:
            deactivate(self.runtime)
        if self._moto is not None:
            self._moto.stop()
        remove_dev_file(self.dev_file)

    # --- internals ---------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stop.is_set():
            # A second Ctrl-C means "now": skip the graceful path.
            os._exit(130)
        self._stop.set()

    def _durable(self) -> None:
        if self._saver is not None:
            self._saver.durable()

    def _log_request(self, method: str, path: str, status: int, seconds: float) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        self.out(f"{stamp} {method} {path} {status} {seconds * 1000:.0f}ms")

    def banner(self) -> str:
        """The text printed once everything is up."""
        assert self.info is not None
        example = next(
            (w for w in self.workflows if w.endswith("onboard_user")),
            self.workflows[0] if self.workflows else "my.module.my_workflow",
        )
        if self.state is None:
            state = "in memory (pass --state-dir DIR to keep runs across restarts)"
        elif self.restored is None:
            state = f"{self.state.path} (new)"
        else:
            state = (
                f"{self.state.path} (restored {self.restored.runs} runs, "
                f"{self.restored.messages} queued messages)"
            )
        lines = [
            "adapter dev stack is up",
            f"  HTTP API   {self.info.api_url}",
            f"  inspector  {self.info.api_url}{UI_PREFIX}/",
            f"  moto       {self.info.endpoint_url}",
            f"  state      {state}",
            f"  modules    {', '.join(self.modules)}",
            "  workflows  " + (", ".join(self.workflows) or "(none registered)"),
            "",
            "Try it:",
            f"  curl -X POST {self.info.api_url}/runs -d "
            f"'{json.dumps({'workflow': example, 'args': ['ada@example.com']})}'",
            f"  adapter runs ls        (finds this stack through {self.dev_file})",
            "",
            "Or point any shell, script or the CLI at it:",
            *(f"  export {key}={value}" for key, value in self.env.items()),
            "",
            "Ctrl-C stops everything.",
        ]
        return "\n".join(lines)


def write_dev_file(path: Path, info: DevStackInfo) -> None:
    """Write the connection file the CLI looks for."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(info.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def remove_dev_file(path: Path) -> None:
    """Remove the connection file if this process wrote it (another stack may own it)."""
    try:
        owner = json.loads(path.read_text(encoding="utf-8")).get("pid")
    except (OSError, ValueError):
        return
    if owner == os.getpid():
        path.unlink(missing_ok=True)


def find_dev_file(start: Path | None = None) -> Path | None:
    """The nearest ``.adapter-dev.json`` in ``start`` (default: cwd) or its parents, or the
    file named by ``ADAPTER_DEV_FILE``."""
    named = os.environ.get(ENV_DEV_FILE)
    if named:
        return Path(named) if Path(named).is_file() else None
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / DEV_FILE_NAME
        if candidate.is_file():
            return candidate
    return None
