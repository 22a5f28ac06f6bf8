"""The chaos workloads: workflows on a registry of their own, and the jobs that run them.

Every workflow here is deterministic: its result is a function of its input, whatever
order the steps finish in and however often a step runs, so a run under faults must
return exactly what the fault-free run returns.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from adapter import (
    FatalError,
    Registry,
    WorkflowRunCancelledError,
    WorkflowRunFailedError,
    create_hook,
    get_run,
    get_step_metadata,
    sleep,
    start,
)

CHAOS = Registry()
POLL_ATTEMPTS = 20

_lock = threading.Lock()
executions: Counter[str] = Counter()
"""How often each step function body ran, by ``"<step name>:<step id>"``."""


def executed(name: str) -> None:
    step_id = get_step_metadata().step_id
    with _lock:
        executions[f"{name}:{step_id}"] += 1


def reset() -> None:
    with _lock:
        executions.clear()


# --- steps ------------------------------------------------------------------------------


@CHAOS.step(name="chaos.add")
def add(x: int, y: int) -> int:
    executed("chaos.add")
    return x + y


@CHAOS.step(name="chaos.square")
async def square(x: int) -> int:
    executed("chaos.square")
    return x * x


@CHAOS.step(name="chaos.total")
def total(values: list[int]) -> int:
    executed("chaos.total")
    return sum(values)


@CHAOS.step(name="chaos.flaky", max_retries=5)
def flaky(x: int) -> int:
    """Fails its first two attempts (by attempt number, so the outcome is stable)."""
    executed("chaos.flaky")
    attempt = get_step_metadata().attempt
    if attempt < 3:
        raise ConnectionError(f"flaky attempt {attempt}")
    return x * 10


@CHAOS.step(name="chaos.broken", max_retries=1)
def broken(x: int) -> int:
    executed("chaos.broken")
    raise ValueError(f"broken({x}) never works")


@CHAOS.step(name="chaos.declined")
def declined() -> None:
    executed("chaos.declined")
    raise FatalError("card declined")


@CHAOS.step(name="chaos.blob")
def blob(size: int) -> str:
    executed("chaos.blob")
    return "x" * size


@CHAOS.step(name="chaos.measure")
def measure(text: str) -> int:
    executed("chaos.measure")
    return len(text)


@CHAOS.step(name="chaos.spawn", max_retries=20)
def spawn(sizes: list[int]) -> list[str]:
    """Start one ``chaos.chain`` child per size (idempotent across retries)."""
    executed("chaos.spawn")
    return [start("chaos.chain", args=[n]).run_id for n in sizes]


@CHAOS.step(name="chaos.collect", max_retries=30)
def collect(run_ids: list[str]) -> list[int]:
    """Wait for the children (the fan-out cookbook's polling step).

    Polling reads the run item again and again; the injector fails those reads above
    botocore's own retries, so the step retries them itself as botocore would.
    """
    executed("chaos.collect")
    results = []
    for run_id in run_ids:
        for attempt in range(POLL_ATTEMPTS):
            try:
                results.append(get_run(run_id).return_value)
                break
            except (WorkflowRunFailedError, WorkflowRunCancelledError):
                raise
            except Exception:
                if attempt == POLL_ATTEMPTS - 1:
                    raise
    return results


# --- workflows ----------------------------------------------------------------------------


@CHAOS.workflow(name="chaos.chain")
async def chain(n: int) -> int:
    value = 0
    for i in range(1, n + 1):
        value = await add(value, i)
    return value


@CHAOS.workflow(name="chaos.fanout")
async def fanout(n: int) -> dict[str, Any]:
    squares = list(await asyncio.gather(*(square(i) for i in range(n))))
    return {"squares": squares, "total": await total(squares)}


@CHAOS.workflow(name="chaos.retrying")
async def retrying(x: int) -> int:
    first = await add(x, 1)
    return await flaky(first)


@CHAOS.workflow(name="chaos.sleeper")
async def sleeper(x: int) -> int:
    a = await add(x, 1)
    await sleep("1h")
    b = await add(a, 1)
    await sleep(30)
    return await add(b, 1)


@CHAOS.workflow(name="chaos.hooked")
async def hooked(token: str) -> int:
    first = await add(1, 1)
    payload = await create_hook(token=token)
    return await add(first, payload)


@CHAOS.workflow(name="chaos.spawner")
async def spawner(sizes: list[int]) -> list[int]:
    run_ids = await spawn(sizes)
    return await collect(run_ids)


@CHAOS.workflow(name="chaos.doomed")
async def doomed(x: int) -> int:
    await add(x, 1)
    return await broken(x)  # fails for good: the run fails, by design


@CHAOS.workflow(name="chaos.catcher")
async def catcher() -> str:
    try:
        await declined()
    except FatalError as exc:
        return f"caught {exc.message}"
    return "not reached"


@CHAOS.workflow(name="chaos.big")
async def big(size: int) -> int:
    text = await blob(size)  # above the 64 KB inline limit: kept in S3
    return await measure(text)


@CHAOS.workflow(name="chaos.big_nap")
async def big_nap(size: int) -> int:
    text = await blob(size)  # in S3 while the run sleeps
    await sleep("40d")
    return await measure(text)


@CHAOS.step(name="chaos.huge_failure")
def huge_failure(size: int) -> None:
    executed("chaos.huge_failure")
    raise FatalError("x" * size)  # an error over DynamoDB's item limit


@CHAOS.workflow(name="chaos.oversized")
async def oversized(size: int) -> dict[str, Any]:
    try:
        await huge_failure(size)
    except FatalError as exc:
        return {
            "caught": type(exc).__name__,
            "kept": exc.message.startswith("xxxx"),
            "truncated": len(exc.message) < size,
        }
    return {"caught": None}


# --- delivery scenarios: a step outliving its lease, a Lambda timeout --------------------

on_first_attempt: dict[str, Any] = {}
"""Callbacks a test installs: ``"outlive"`` runs inside the first attempt of
``chaos.outlive_lease`` (while the step is still running)."""


class LambdaTimeout(BaseException):
    """The Lambda runtime killed the invocation: not an ``Exception``, nothing catches it."""


@CHAOS.step(name="chaos.outlive_lease")
def outlive_lease(x: int) -> dict[str, int]:
    executed("chaos.outlive_lease")
    attempt = get_step_metadata().attempt
    callback = on_first_attempt.get("outlive")
    if attempt == 1 and callback is not None:
        callback()  # the clock jumps past the lease; the message is delivered again
    return {"x": x, "attempt": attempt}


@CHAOS.workflow(name="chaos.outlives")
async def outlives(x: int) -> dict[str, Any]:
    before = await add(x, 1)
    slow = await outlive_lease(before)
    return {"slow": slow, "after": await add(slow["x"], 1)}


@CHAOS.step(name="chaos.dies_once")
async def dies_once(x: int) -> int:
    """Times out (the process dies) the first time it runs for a given input."""
    executed("chaos.dies_once")
    key = f"dies_once:{get_step_metadata().step_id}"
    with _lock:
        first = executions[key] == 0
        executions[key] += 1
    if first:
        raise LambdaTimeout(f"Task timed out after 900.00 seconds (dies_once({x}))")
    return x * 3


@CHAOS.workflow(name="chaos.timeouts")
async def timeouts(n: int) -> dict[str, Any]:
    first = await dies_once(n)
    fanned = list(await asyncio.gather(*(dies_once(i) for i in range(n))))
    return {"first": first, "fanned": fanned, "last": await add(first, 1)}


@CHAOS.workflow(name="chaos.collector")
async def collector(token: str, count: int) -> list[Any]:
    hook = create_hook(token=token)
    received = []
    async for payload in hook:
        received.append(payload)
        if len(received) == count:
            break
    return received


@CHAOS.workflow(name="chaos.wide")
async def wide(n: int) -> int:
    """A fan-out wider than one DynamoDB transaction (100 items): its first turn's
    ``step_created`` events are written in two transactions."""
    values = await asyncio.gather(*(add(i, 1) for i in range(n)))
    return await total(list(values))


# --- jobs -----------------------------------------------------------------------------------


@dataclass
class Job:
    """One run to start: which workflow, its input, how it must end.

    Attributes:
        label: Names the job in reports and keys the fault-free baseline.
        hook: ``(token, payload)`` to resume once the run waits on its hook.
        expect_status: ``"completed"``, or ``"failed"`` for a workflow built to fail.
        expected: The result a correct run returns (checked against the baseline too).
    """

    label: str
    workflow: str
    args: list[Any] = field(default_factory=list)
    hook: tuple[str, Any] | None = None
    expect_status: str = "completed"
    expected: Any = None


def standard_jobs(tag: str) -> list[Job]:
    """The workload mix of one chaos scenario; ``tag`` keeps hook tokens unique."""
    token = f"chaos-hook-{tag}"
    return [
        Job("chain", "chaos.chain", [5], expected=15),
        Job(
            "fanout",
            "chaos.fanout",
            [6],
            expected={"squares": [0, 1, 4, 9, 16, 25], "total": 55},
        ),
        Job("retrying", "chaos.retrying", [7], expected=80),
        Job("sleeper", "chaos.sleeper", [1], expected=4),
        Job("hooked", "chaos.hooked", [token], hook=(token, 40), expected=42),
        Job("spawner", "chaos.spawner", [[2, 3]], expected=[3, 6]),
        Job("doomed", "chaos.doomed", [3], expect_status="failed", expected="StepFailedError"),
        Job("catcher", "chaos.catcher", [], expected="caught card declined"),
        Job("big", "chaos.big", [70_000], expected=70_000),
    ]
