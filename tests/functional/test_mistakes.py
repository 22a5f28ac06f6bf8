"""Common mistakes in workflow code are told early, once, with the line and the fix."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
import uuid
from datetime import datetime

import boto3
import pytest

import adapter
from adapter import Registry, WorkflowNotRegisteredError, now, start
from adapter.core._mistakes import check_workflow_source
from adapter.testing import LocalRuntime, replay

from .test_http_api import call, v2_event

MISTAKES = "adapter.mistakes"


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == MISTAKES]


def _line_of(fn: object, text: str) -> int:
    import inspect

    lines, first = inspect.getsourcelines(fn)  # type: ignore[arg-type]
    return first + next(i for i, line in enumerate(lines) if text in line)


# --- wall clock, randomness, ids, I/O libraries: read from the source at @workflow ------


def test_wall_clock_and_randomness_are_named_at_decoration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=MISTAKES)
    reg = Registry()

    async def sloppy() -> list[object]:
        return [
            datetime.now(),
            time.time(),
            random.random(),
            uuid.uuid4(),
            now(),  # adapter.now(): fine
            adapter.random(),  # fine
        ]

    reg.workflow(name="mistakes.sloppy")(sloppy)
    found = _warnings(caplog)
    assert len(found) == 4, found
    for call_text, advice in (
        ("datetime.now()", "adapter.now()"),
        ("time.time()", "adapter.now()"),
        ("random.random()", "adapter.random()"),
        ("uuid.uuid4()", "@step"),
    ):
        [message] = [m for m in found if f"calls {call_text}" in m]
        assert f"{__file__}:{_line_of(sloppy, call_text)}" in message
        assert "'mistakes.sloppy'" in message and advice in message
    # A module imported twice registers its workflows again: no second warning.
    caplog.clear()
    check_workflow_source("mistakes.sloppy", sloppy)
    assert _warnings(caplog) == []


def test_io_libraries_in_workflow_code_are_named(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=MISTAKES)
    reg = Registry()

    @reg.workflow(name="mistakes.io")
    async def does_io() -> None:
        boto3.client("s3").list_buckets()
        socket.create_connection(("127.0.0.1", 9))

    found = _warnings(caplog)
    assert len(found) == 2, found
    assert all("move it into a @step" in m for m in found)
    assert any("boto3.client()" in m for m in found)
    assert any("socket.create_connection()" in m for m in found)


# --- a step called without await ----------------------------------------------------------

forgetful = Registry()


@forgetful.step(name="mistakes.notify")
async def notify(who: str) -> str:
    return f"told {who}"


@forgetful.step(name="mistakes.store")
async def store(who: str) -> str:
    return f"stored {who}"


@forgetful.workflow(name="mistakes.forgets")
async def forgets(who: str) -> str:
    notify(who)  # the mistake: never awaited
    stored, told = await asyncio.gather(store(who), notify("ops"))
    task = asyncio.get_running_loop().create_task(store("backup"))
    return f"{stored}, {told}, {await task}"


def test_a_step_never_awaited_is_named_and_the_run_replays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=MISTAKES)
    with LocalRuntime(registry=forgetful) as rt:
        run = start("mistakes.forgets", args=["ada"])
        assert run.return_value == "stored ada, told ops, stored backup"
        events = rt.events(run.run_id)
    [message] = _warnings(caplog)  # gathered and task-wrapped calls are fine
    assert "step 'mistakes.notify'" in message and "'mistakes.forgets'" in message
    assert f"{__file__}:{_line_of(forgets, 'notify(who)  #')}" in message
    assert "`await notify(...)`" in message
    # The forgotten call was still recorded: the run replays deterministically.
    assert replay(events, forgets).output == "stored ada, told ops, stored backup"
    assert [e.data.step_name for e in events if e.type == "step_created"] == [
        "mistakes.notify",
        "mistakes.store",
        "mistakes.notify",
        "mistakes.store",
    ]


# --- network I/O while a turn runs workflow code ------------------------------------------

chatty = Registry()


def _connect_locally() -> str:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(("127.0.0.1", 9))  # loopback, nothing listens: refused at once
        except OSError as exc:
            return type(exc).__name__
    return "connected"


@chatty.step(name="mistakes.fetch_in_step")
async def fetch_in_step() -> str:
    return _connect_locally()  # I/O in a step: the right place


@chatty.workflow(name="mistakes.chatty")
async def chatty_flow() -> list[str]:
    helper = _connect_locally  # hidden from the source check: the audit hook sees it
    return [await fetch_in_step(), helper()]


def test_network_io_in_a_workflow_turn_is_named_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=MISTAKES)
    with LocalRuntime(registry=chatty) as rt:
        first, second = start(chatty_flow), start(chatty_flow)
        assert first.return_value[1] == second.return_value[1]
        rt.drain()
    found = _warnings(caplog)
    assert len(found) == 1, found  # not for the step, not again for the second run
    assert found[0].startswith("socket.connect in workflow 'mistakes.chatty'")
    assert f"{__file__}:{_line_of(chatty_flow, 'helper()]')}" in found[0]
    assert "move it into a @step" in found[0]


# --- an unknown workflow name -------------------------------------------------------------


def test_a_bare_name_suggests_the_registered_one() -> None:
    reg = Registry()
    reg.workflow(name="myapp.orders.process_order")(forgets.__wrapped__)  # type: ignore[attr-defined]
    reg.workflow(name="myapp.billing.refund")(chatty_flow.__wrapped__)  # type: ignore[attr-defined]
    for asked in ("process_order", "myapp.order.process_order", "myapp.orders.proces_order"):
        with pytest.raises(WorkflowNotRegisteredError) as caught:
            reg.get_workflow(asked)
        assert caught.value.suggestions == ["myapp.orders.process_order"]
        assert "did you mean 'myapp.orders.process_order'?" in str(caught.value)
    with pytest.raises(WorkflowNotRegisteredError) as unrelated:
        reg.get_workflow("zzz")
    assert unrelated.value.suggestions == [] and "did you mean" not in str(unrelated.value)


def test_start_and_the_http_api_suggest_the_registered_name() -> None:
    with LocalRuntime(registry=forgetful):
        with pytest.raises(WorkflowNotRegisteredError, match=r"did you mean 'mistakes\.forgets'"):
            start("forgets")
        status, body = call(v2_event("POST", "/runs", {"workflow": "forgets"}))
    assert status == 404 and body["error"]["code"] == "workflow_not_found"
    assert "did you mean 'mistakes.forgets'?" in body["error"]["message"]
