"""Profiling across threads with pyinstrument.

LocalRuntime runs each SQS message as an "invocation", on the driving thread or, when
that thread cannot host one (inside another invocation, or running an event loop), on a
pooled thread; pyinstrument profiles one thread at a time. :class:`ThreadProfiler`
therefore starts a profiler inside every thread started while it is active, then merges
the sessions: invocation threads are folded into one ``<invocations>`` root so their
call trees add up, and samples of a thread blocked in ``threading`` (joining an
invocation thread, or waiting for one to start) are dropped: they would count the same
wall time twice.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Innermost frame of a known package gets the sample (stdlib frames such as copy, json or
# threading are charged to the package that called them).
_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("/benchmarks/", "benchmark harness"),
    ("/adapter/testing/", "adapter: LocalRuntime poller"),
    ("/adapter/core/", "adapter: core (replay engine, serde, events)"),
    ("/adapter/runtime/", "adapter: runtime (turns, steps)"),
    ("/adapter/world/", "adapter: world (DynamoDB/SQS items)"),
    ("/adapter/aws/", "adapter: aws (SQS handler)"),
    ("/adapter/_moto/", "adapter: moto tuning (moto's own work, done our way)"),
    ("/adapter/", "adapter: other"),
    ("/moto/dynamodb/", "moto: DynamoDB backend"),
    ("/moto/sqs/", "moto: SQS backend"),
    ("/moto/core/", "moto: core (request dispatch, response serialization)"),
    ("/moto/", "moto: other"),
    ("/botocore/serialize.py", "botocore: serialize requests"),
    ("/botocore/validate.py", "botocore: validate parameters"),
    ("/botocore/parsers.py", "botocore: parse responses"),
    ("/botocore/auth.py", "botocore: sign requests"),
    ("/botocore/signers.py", "botocore: sign requests"),
    ("/botocore/hooks.py", "botocore: event hooks"),
    ("/botocore/", "botocore: other (endpoints, retries, models)"),
    ("/boto3/", "boto3"),
    ("/pydantic", "pydantic"),
    ("/aws_lambda_powertools/", "powertools (batch processor, logger)"),
    ("/werkzeug/", "werkzeug (moto parses requests with it)"),
    ("/flask/", "flask (moto server)"),
    ("/urllib3/", "urllib3 (HTTP client)"),
)
# A thread blocked in threading.py (join, Event/Condition.wait: waiting for another
# thread to start or finish) is idle: its samples would count the same wall time twice.
_WAITING = ("_wait_for_tstate_lock\x00", "join\x00", "wait\x00")


def _category(frame_id: str) -> str | None:
    path = frame_id.split("\x00")[1] if "\x00" in frame_id else ""
    for needle, name in _CATEGORIES:
        if needle in path:
            return name
    return None


def _function(frame_id: str) -> str:
    parts = frame_id.split("\x00")
    name = parts[0]
    path = parts[1] if len(parts) > 1 else ""
    line = parts[2].split("\x01")[0] if len(parts) > 2 else ""
    cls = ""
    for attr in frame_id.split("\x01")[1:]:
        if attr.startswith("c"):
            cls = attr[1:] + "."
    path = _short(path)
    return f"{cls}{name}  ({path}:{line})"


def _short(path: str) -> str:
    """``moto/sqs/models.py``, ``copy.py``, ``adapter/testing/_pump.py``: no install prefixes."""
    path = re.sub(r"^.*/lib/python3\.\d+/(site-packages/)?", "", path)
    root = str(Path(__file__).resolve().parent.parent) + "/"
    return path[len(root) :] if path.startswith(root) else path


@dataclass
class ThreadProfiler:
    """Profile threads started while :meth:`threads` is active, and the calling thread
    while :meth:`main` is active.

    Threads that already exist are not seen: enter :meth:`threads` *before* whatever
    creates the worker threads (LocalRuntime's invocation pool starts its threads on
    first use, so enter it before the runtime's first message).
    """

    interval: float = 0.001
    sessions: list[Any] = field(default_factory=list)

    @contextmanager
    def threads(self) -> Iterator[None]:
        from pyinstrument import Profiler

        original_run = threading.Thread.run
        sessions = self.sessions
        interval = self.interval
        started: list[threading.Thread] = []

        def run(thread: threading.Thread) -> None:
            started.append(thread)
            profiler = Profiler(interval=interval, async_mode="disabled")
            profiler.start()
            try:
                original_run(thread)
            finally:
                sessions.append(profiler.stop())

        threading.Thread.run = run  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            threading.Thread.run = original_run  # type: ignore[method-assign]
            # A session is kept when its thread ends: pooled threads end after the pool
            # shuts down, which may be just after this block. Wait for them.
            for thread in started:
                thread.join(timeout=30)

    @contextmanager
    def main(self) -> Iterator[None]:
        from pyinstrument import Profiler

        profiler = Profiler(interval=self.interval, async_mode="disabled")
        profiler.start()
        try:
            yield
        finally:
            self.sessions.append(profiler.stop())

    # --- analysis ------------------------------------------------------------------------

    def records(self) -> list[tuple[list[str], float]]:
        """All samples as (stack, seconds), threads folded, join waits dropped."""
        merged: list[tuple[list[str], float]] = []
        for session in self.sessions:
            for stack, seconds in session.frame_records:
                frames = list(stack)
                if _waits_for_thread(frames):
                    continue  # a thread waiting for another thread
                if frames and "\x00<thread>\x00" in frames[0]:
                    name = frames[0].split("\x00")[0]
                    root = "<invocations>" if name.startswith("invoke") else f"<{name}>"
                    frames = [f"{root}\x00<thread>\x000", *_strip_bootstrap(frames[1:])]
                merged.append((frames, seconds))
        return merged

    def session(self) -> Any:
        from pyinstrument.session import Session

        first = self.sessions[-1]  # the main thread's
        records = self.records()
        return Session(
            frame_records=records,
            start_time=first.start_time,
            duration=first.duration,
            min_interval=first.min_interval,
            max_interval=first.max_interval,
            sample_count=len(records),
            start_call_stack=first.start_call_stack,
            target_description=first.target_description,
            cpu_time=first.cpu_time,
            sys_path=first.sys_path,
            sys_prefixes=first.sys_prefixes,
        )

    def breakdown(self) -> dict[str, float]:
        """Sampled seconds by package, each sample charged to its innermost known frame."""
        totals: Counter[str] = Counter()  # seconds, not counts
        for frames, seconds in self.records():
            owner = "other (stdlib, threads, interpreter)"
            for frame in reversed(frames):
                category = _category(frame)
                if category is not None:
                    owner = category
                    break
            totals[owner] += seconds  # type: ignore[assignment]
        return {name: float(seconds) for name, seconds in totals.most_common()}

    def hotspots(self, limit: int = 10) -> list[tuple[str, float]]:
        """Functions with the most self time (the leaf frame of each sample)."""
        totals: Counter[str] = Counter()
        for frames, seconds in self.records():
            if frames:
                totals[_function(frames[-1])] += seconds  # type: ignore[assignment]
        return [(name, float(seconds)) for name, seconds in totals.most_common(limit)]

    def inclusive(self, patterns: dict[str, str]) -> dict[str, float]:
        """Seconds of samples whose stack matches each regex (frames joined by newlines,
        a frame being ``name\\x00path\\x00line...``)."""
        compiled = {label: re.compile(p) for label, p in patterns.items()}
        totals: dict[str, float] = dict.fromkeys(patterns, 0.0)
        for frames, seconds in self.records():
            joined = "\n".join(frames)
            for label, pattern in compiled.items():
                if pattern.search(joined):
                    totals[label] += seconds
        return totals

    def render(self) -> str:
        from pyinstrument.renderers import ConsoleRenderer

        session = self.session()
        tree = ConsoleRenderer(unicode=False, color=False, show_all=False).render(session)
        return tree


def _waits_for_thread(frames: list[str]) -> bool:
    tail = frames[-4:]
    if any(frame.startswith(_WAITING) and "/threading.py\x00" in frame for frame in tail):
        return True
    # An idle pool worker: concurrent.futures' _worker blocked on its work queue.
    return any("/concurrent/futures/thread.py\x00" in f for f in frames[-3:-1]) and (
        "get\x00" in frames[-1]
    )


def _strip_bootstrap(frames: list[str]) -> list[str]:
    out = list(frames)
    while out and ("/threading.py\x00" in out[0] or "/benchmarks/_profiling.py" in out[0]):
        out.pop(0)
    return out
