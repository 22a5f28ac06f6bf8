"""A private, deterministic event loop for workflow code.

Workflow coroutines run here, never on the process's loop. It has no selector, no
threads and no wall clock: ``call_soon`` callbacks run in FIFO order until nothing is
ready, then control returns to the replay engine, which feeds it the next event.
``call_later``/``call_at`` become durable timers (recorded waits), so
``asyncio.sleep(n)``, ``asyncio.wait_for`` and ``asyncio.timeout`` work in workflow
code and replay identically.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
from asyncio import events
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, TypeVarTuple

from .errors import WorkflowContextError

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")


class TimerSource(Protocol):
    """Where durable timers come from: the replay engine."""

    def start_timer(self, resume_at: datetime) -> asyncio.Future[None]: ...


class WorkflowLoop(asyncio.AbstractEventLoop):
    """Runs ready callbacks in order; time only moves when the engine says so."""

    def __init__(self, time: float = 0.0, timers: TimerSource | None = None) -> None:
        self._ready: collections.deque[asyncio.Handle] = collections.deque()
        self._time = time
        self._timers = timers
        self._timer_futures: dict[
            int, asyncio.Future[None]
        ] = {}  # by id(): handles compare by value
        self._closed = False
        self._running = False
        self._exception: BaseException | None = None

    # --- what the engine uses --------------------------------------------------------

    def set_time(self, time: float) -> None:
        """Move the loop's clock (seconds since the epoch) to a recorded moment."""
        self._time = time

    def run_until_idle(self) -> None:
        """Run callbacks until none is ready. Re-raises an error a callback leaked."""
        previous = events._get_running_loop()
        events._set_running_loop(self)
        self._running = True
        try:
            while self._ready:
                handle = self._ready.popleft()
                if not handle._cancelled:
                    handle._run()
                if self._exception is not None:
                    exc, self._exception = self._exception, None
                    raise exc
        finally:
            self._running = False
            events._set_running_loop(previous)

    # --- the parts of AbstractEventLoop that futures, tasks and asyncio helpers use ------

    def call_soon(
        self,
        callback: Callable[[*_Ts], object],
        *args: *_Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        handle = asyncio.Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def call_soon_threadsafe(
        self,
        callback: Callable[[*_Ts], object],
        *args: *_Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        raise WorkflowContextError("workflow code cannot be woken from another thread")

    def call_at(
        self,
        when: float,
        callback: Callable[[*_Ts], object],
        *args: *_Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        if self._timers is None:
            raise WorkflowContextError("this loop has no durable timers")
        handle = asyncio.TimerHandle(when, callback, args, self, context)
        future = self._timers.start_timer(datetime.fromtimestamp(when, UTC))
        self._timer_futures[id(handle)] = future

        def fire(done: asyncio.Future[None]) -> None:
            self._timer_futures.pop(id(handle), None)
            if not handle.cancelled() and not done.cancelled():
                handle._run()

        future.add_done_callback(fire)
        return handle

    def call_later(
        self,
        delay: float,
        callback: Callable[[*_Ts], object],
        *args: *_Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        return self.call_at(self._time + delay, callback, *args, context=context)

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        future = self._timer_futures.pop(id(handle), None)
        if future is not None:
            future.cancel()

    def time(self) -> float:
        return self._time

    def create_future(self) -> asyncio.Future[Any]:
        return asyncio.Future(loop=self)

    def create_task(  # type: ignore[override]
        self,
        coro: Coroutine[Any, Any, _T] | Awaitable[_T],
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[_T]:
        if not asyncio.iscoroutine(coro):
            # A step call is an eager future (so asyncio.wait accepts it); let
            # asyncio.create_task and TaskGroup.create_task take it too.
            coro = _awaiting(coro)
        return asyncio.Task(coro, loop=self, name=name, context=context)

    def get_debug(self) -> bool:
        return False

    def is_running(self) -> bool:
        return self._running

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True
        self._ready.clear()

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        self.call_exception_handler(context)

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        # A callback that raises is a bug in the engine or a leaked error; surface it
        # instead of logging and carrying on with an inconsistent replay. Tasks that were
        # simply dropped unfinished at the end of a turn report "never retrieved" or
        # "destroyed but pending" here: those are expected and ignored.
        exc = context.get("exception")
        if isinstance(exc, BaseException) and "handle" in context:
            self._exception = exc

    def get_exception_handler(self) -> None:
        return None

    def set_exception_handler(self, handler: Any) -> None:
        raise WorkflowContextError("workflow loops do not take exception handlers")

    def run_in_executor(
        self, executor: Executor | None, func: Callable[[*_Ts], _T], *args: *_Ts
    ) -> asyncio.Future[_T]:
        raise WorkflowContextError(
            "workflow code cannot use executors or threads; put I/O in a @step"
        )


async def _awaiting(awaitable: Awaitable[_T]) -> _T:
    return await awaitable
