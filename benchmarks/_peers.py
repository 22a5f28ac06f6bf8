"""Peers: the same n-step sequential chain on other durable-execution runtimes.

* **AWS Lambda durable functions**, local testing runner
  (``aws-durable-execution-sdk-python`` + ``aws-durable-execution-sdk-python-testing``):
  a ``@durable_execution`` handler calling ``context.step(...)`` n times, run with
  ``DurableFunctionTestRunner`` (its defaults: in-memory store, time skipping on).
* **DBOS Transact** with a SQLite system database (a file in a temporary directory):
  a ``@DBOS.workflow`` calling a ``@DBOS.step`` n times, started with
  ``DBOS.start_workflow(...)`` and awaited with ``handle.get_result()``.

Both run the steps *inside* the workflow's invocation/process and checkpoint each
result; ours runs every step as its own invocation, dispatched through SQS.

Every system (ours included) is a context manager yielding ``run(n) -> seconds``:
the suite sets them all up, then interleaves their runs (ours, theirs, ours, ...) so a
busy machine slows them alike and the ratios stay meaningful. A peer that cannot be
imported or set up is recorded with its error; the rest goes on.
"""

from __future__ import annotations

import contextlib
import gc
import json
import shutil
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

Run = Callable[[int], float]  # run an n-step chain; return its start-to-result seconds
System = Callable[[dict[str, Any]], AbstractContextManager[Run]]


def error_info(exc: BaseException) -> dict[str, Any]:
    return {
        "ok": False,
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": traceback.format_exc(limit=8),
    }


def fit(medians: dict[int, float]) -> dict[str, float]:
    """Per-step and fixed cost from two chain lengths (a line through two medians)."""
    small, large = min(medians), max(medians)
    per_step = (medians[large] - medians[small]) / (large - small)
    fixed = medians[small] - small * per_step
    return {
        "per_step_ms": per_step * 1000,
        "fixed_ms": fixed * 1000,
        "steps_per_s": large / medians[large],
    }


def summarize(samples: dict[int, list[float]]) -> dict[str, Any]:
    medians = {n: statistics.median(s) for n, s in samples.items()}
    return {
        "ok": True,
        "seconds": {str(n): s for n, s in sorted(samples.items())},
        "median_s": {str(n): m for n, m in sorted(medians.items())},
        **fit(medians),
    }


def interleave(
    systems: dict[str, System], sizes: tuple[int, ...], repeat: int
) -> dict[str, dict[str, Any]]:
    """Set every system up, warm each once, then time them round-robin."""
    results: dict[str, dict[str, Any]] = {}
    samples: dict[str, dict[int, list[float]]] = {}
    with contextlib.ExitStack() as stack:
        runs: dict[str, Run] = {}
        for name, system in systems.items():
            info: dict[str, Any] = {}
            try:
                run = stack.enter_context(system(info))
                run(min(sizes))  # warm-up
            except Exception as exc:
                results[name] = {**error_info(exc), **info}
                continue
            runs[name] = run
            results[name] = info
            samples[name] = {}
        for _ in range(repeat):
            for n in sizes:
                for name in list(runs):
                    # Garbage left by the run before must not be collected during this
                    # one, whichever system made it.
                    gc.collect()
                    try:
                        samples[name].setdefault(n, []).append(runs[name](n))
                    except Exception as exc:
                        results[name].update(error_info(exc))
                        del runs[name]
        for name in runs:
            results[name].update(summarize(samples[name]))
    return results


def _check(n: int, value: Any) -> None:
    if value != n:
        raise AssertionError(f"a {n}-step chain returned {value!r}")


def _versions(*names: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


# --- AWS Lambda durable functions: local testing runner --------------------------------


@contextlib.contextmanager
def aws_durable(info: dict[str, Any]) -> Iterator[Run]:
    info["versions"] = _versions(
        "aws-durable-execution-sdk-python", "aws-durable-execution-sdk-python-testing"
    )
    info["setup"] = "DurableFunctionTestRunner(handler): in-memory store, skip_time=True"
    from aws_durable_execution_sdk_python.context import DurableContext, durable_step
    from aws_durable_execution_sdk_python.execution import (  # type: ignore[attr-defined]
        InvocationStatus,
        durable_execution,
    )
    from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

    @durable_step
    def bump(step_context: Any, x: int) -> int:
        return x + 1

    @durable_execution
    def chain(event: Any, context: DurableContext) -> int:
        x = 0
        for i in range(int(event["n"])):
            x = context.step(bump(x), name=f"bump-{i}")
        return x

    counter = {"runs": 0}
    with DurableFunctionTestRunner(handler=chain) as runner:

        def run(n: int) -> float:
            counter["runs"] += 1
            began = time.perf_counter()
            result = runner.run(
                input=json.dumps({"n": n}),
                execution_timeout=600,
                execution_name=f"bench-{counter['runs']}",
            )
            elapsed = time.perf_counter() - began
            if result.status is not InvocationStatus.SUCCEEDED:
                raise RuntimeError(f"run ended {result.status}: {result.error}")
            _check(n, json.loads(result.result) if result.result is not None else None)
            return elapsed

        yield run


# --- DBOS Transact on SQLite ---------------------------------------------------------------


@contextlib.contextmanager
def dbos_sqlite(info: dict[str, Any]) -> Iterator[Run]:
    info["versions"] = _versions("dbos")
    info["setup"] = (
        "DBOS(config={system_database_url: sqlite:///<tmp>/dbos.sqlite}); "
        "DBOS.start_workflow(chain, n).get_result()"
    )
    from dbos import DBOS

    directory = tempfile.mkdtemp(prefix="bench-dbos-")
    launched = False
    try:
        DBOS(
            config={
                "name": "adapter-bench",
                "system_database_url": f"sqlite:///{directory}/dbos.sqlite",
                "log_level": "ERROR",
            }
        )

        @DBOS.step()
        def bump(x: int) -> int:
            return x + 1

        @DBOS.workflow()
        def chain(n: int) -> int:
            x = 0
            for _ in range(n):
                x = bump(x)
            return x

        DBOS.launch()
        launched = True

        def run(n: int) -> float:
            began = time.perf_counter()
            value = DBOS.start_workflow(chain, n).get_result()
            elapsed = time.perf_counter() - began
            _check(n, value)
            return elapsed

        yield run
    finally:
        if launched:
            with contextlib.suppress(Exception):
                DBOS.destroy(destroy_registry=True)
        shutil.rmtree(directory, ignore_errors=True)
