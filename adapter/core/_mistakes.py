"""Common mistakes in workflow code, told early and once: logged warnings, never errors.

Workflow code is replayed on every turn, so it must take the same path each time and do
no I/O of its own. Three checks, each cheap and scoped to workflow code:

* at ``@workflow`` time, the function's source is read for calls to the wall clock,
  randomness, ids, sleeping threads and I/O libraries (``datetime.now()``,
  ``random.random()``, ``uuid.uuid4()``, ``time.sleep()``, ``requests.get()``...),
  resolved through the module's globals so ``adapter.now()`` is never mistaken for one;
* a step called and never awaited (nor gathered, waited on or made a task of) by the
  time the workflow ends: the call was recorded and scheduled, its result lost;
* network or process I/O while a workflow turn runs its code (a Python audit hook,
  installed once, that does nothing outside workflow code): ``socket.connect`` and kin.

Each warning names the workflow and the file:line, and says what to use instead.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import datetime as _datetime
import inspect
import logging
import os
import random as _random
import secrets
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterable
from types import FrameType
from typing import Any

from ._context import current_workflow

logger = logging.getLogger("adapter.mistakes")

_ADAPTER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_ASYNCIO_DIR = os.path.dirname(os.path.abspath(asyncio.__file__)) + os.sep

_NOW = "use adapter.now(): it is the recorded time, the same on every replay"
_RANDOM = "use adapter.random(): it is seeded by the run id, the same on every replay"
_ID = "derive it from adapter.random(), or make it in a @step (its result is recorded)"
_SLEEP = "use `await adapter.sleep(...)` (durable, costs nothing while it waits)"
_IO = "I/O in workflow code: move it into a @step (it runs again on every replay)"


def _banned() -> dict[Any, tuple[str, str]]:
    """Callables workflow code must not call: ``{callable: (shown name, advice)}``."""
    table: dict[Any, tuple[str, str]] = {}
    for owner, names in (
        (_datetime.datetime, ("now", "utcnow", "today")),
        (_datetime.date, ("today",)),
    ):
        for name in names:
            table[getattr(owner, name)] = (f"{owner.__name__}.{name}()", _NOW)
    for name in ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "localtime"):
        table[getattr(time, name)] = (f"time.{name}()", _NOW)
    table[time.sleep] = ("time.sleep()", _SLEEP)
    for name in (
        "random",
        "randint",
        "randrange",
        "choice",
        "choices",
        "shuffle",
        "sample",
        "uniform",
        "gauss",
        "getrandbits",
        "randbytes",
    ):
        table[getattr(_random, name)] = (f"random.{name}()", _RANDOM)
    for name in ("uuid1", "uuid4"):
        table[getattr(uuid, name)] = (f"uuid.{name}()", _ID)
    for name in ("token_hex", "token_bytes", "token_urlsafe", "randbelow", "choice"):
        table[getattr(secrets, name)] = (f"secrets.{name}()", _ID)
    table[os.urandom] = ("os.urandom()", _ID)
    table[builtins.open] = ("open()", _IO)
    return table


_BANNED = _banned()
# Libraries whose functions do I/O: any call into them from workflow code is a mistake.
_IO_MODULES = frozenset(
    {
        "requests",
        "httpx",
        "aiohttp",
        "urllib.request",
        "urllib3",
        "http.client",
        "socket",
        "boto3",
        "botocore",
        "aioboto3",
        "psycopg",
        "psycopg2",
        "pymysql",
        "redis",
    }
)


def _is_io_module(module: str) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:i]) in _IO_MODULES for i in range(1, len(parts) + 1))


_warned: set[tuple[str, ...]] = set()
_warned_lock = threading.Lock()


def warn_once(key: tuple[str, ...], message: str, *args: object) -> None:
    """Log ``message`` unless a warning with ``key`` was logged already."""
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    logger.warning(message, *args)


# --- at decoration: read the source ------------------------------------------------------


def check_workflow_source(name: str, fn: Callable[..., Any]) -> None:
    """Warn about calls in ``fn``'s body that break replay (see the module docstring)."""
    try:
        lines, first = inspect.getsourcelines(fn)
        tree = ast.parse(textwrap.dedent("".join(lines)))
        filename = inspect.getsourcefile(fn) or "?"
    except (OSError, TypeError, SyntaxError):
        return  # no source to read (a REPL, exec'd code): nothing to say
    scope = {**vars(builtins), **getattr(fn, "__globals__", {})}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        found = _resolve(node.func, scope)
        if found is None:
            continue
        shown, advice = found
        site = f"{filename}:{first + node.lineno - 1}"
        warn_once(
            ("source", name, site),
            "workflow %r calls %s at %s: workflow code is replayed, so it must not; %s",
            name,
            shown,
            site,
            advice,
        )


def _resolve(func: ast.expr, scope: dict[str, Any]) -> tuple[str, str] | None:
    chain: list[str] = []
    while isinstance(func, ast.Attribute):
        chain.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name) or func.id not in scope:
        return None  # a local, an argument or a name imported later: not knowable here
    try:
        target = scope[func.id]
        for attr in reversed(chain):
            if isinstance(inspect.getattr_static(target, attr), property):
                return None  # never run user code to find out
            target = getattr(target, attr)
        if target in _BANNED:
            return _BANNED[target]
    except Exception:  # no such attribute, an unhashable value: not one of ours
        return None
    module = getattr(target, "__module__", None)
    if callable(target) and isinstance(module, str) and _is_io_module(module):
        return ".".join([func.id, *reversed(chain)]) + "()", _IO
    return None


# --- at the end of a workflow: steps never awaited ---------------------------------------


class StepCall(asyncio.Future[Any]):
    """What calling a step in workflow code returns: a future that knows whether the code
    waited on it (``await``, ``gather``, ``wait``, a task made of it)."""

    def __init__(self, step_name: str, *, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop=loop)
        self.step_name = step_name
        self.site = _user_site(sys._getframe(1))
        self.waited = False

    def __await__(self) -> Generator[Any, None, Any]:
        self.waited = True
        return super().__await__()

    __iter__ = __await__

    def add_done_callback(self, fn: Any, *, context: Any = None) -> None:
        self.waited = True
        super().add_done_callback(fn, context=context)


def warn_unawaited(workflow_name: str, calls: Iterable[asyncio.Future[Any]]) -> None:
    """Warn about each step call the ended workflow never waited on."""
    for call in calls:
        if isinstance(call, StepCall) and not call.waited:
            warn_once(
                ("unawaited", workflow_name, call.site),
                "workflow %r called step %r at %s without awaiting it: the step was "
                "scheduled but its result is never used; write `await %s(...)` (or gather it)",
                workflow_name,
                call.step_name,
                call.site,
                call.step_name.rpartition(".")[2],
            )


def _user_site(frame: FrameType | None) -> str:
    """file:line of the innermost frame outside adapter's own code."""
    while frame is not None and frame.f_code.co_filename.startswith(_ADAPTER_DIR):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else "?"


# --- while a turn runs workflow code: I/O ------------------------------------------------

_IO_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.getaddrinfo",
        "socket.sendto",
        "http.client.connect",
        "urllib.Request",
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
    }
)
_hook_installed = False


def install_io_audit() -> None:
    """Install the audit hook once (audit hooks cannot be removed: outside workflow code,
    and for every other event, it returns at once)."""
    global _hook_installed
    if _hook_installed:
        return
    with _warned_lock:
        if _hook_installed:
            return
        _hook_installed = True
    sys.addaudithook(_audit)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event not in _IO_EVENTS:
        return
    runtime = current_workflow()
    if runtime is None:
        return
    workflow = getattr(getattr(runtime, "workflow", None), "name", "?")
    site = _workflow_site(sys._getframe(1))
    warn_once(
        ("io", workflow, event, site),
        "%s in workflow %r at %s: %s",
        event,
        workflow,
        site,
        _IO,
    )


def _workflow_site(frame: FrameType | None) -> str:
    """file:line of the outermost frame of workflow code: the line of the workflow (or
    of the helper it awaits) that led to the I/O, under the library frames that did it."""
    found: FrameType | None = None
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith((_ADAPTER_DIR, _ASYNCIO_DIR)) and found is not None:
            break
        found = frame
        frame = frame.f_back
    return f"{found.f_code.co_filename}:{found.f_lineno}" if found is not None else "?"
