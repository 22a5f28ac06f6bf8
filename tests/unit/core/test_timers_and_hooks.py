"""Durable timers (``sleep``, asyncio timers) and hooks in the replay engine."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapter.core import (
    CreateHook,
    Registry,
    ScheduleStep,
    StartTimer,
    WorkflowTurn,
    create_hook,
    create_webhook,
    now,
    serde,
    sleep,
)
from adapter.core.errors import HookConflictError, InvalidHookTokenError, WorkflowContextError
from adapter.core.events import HookCreated, HookCreatedData, WaitCreated, WaitCreatedData

from .histories import History, output_of, stamp


def _counting_step(reg: Registry, calls: Counter[str], name: str) -> Any:
    def fn(x: Any = None) -> str:
        calls[name] += 1
        return f"{name}:{x}"

    return reg.step(name=name)(fn)


# --- sleep ----------------------------------------------------------------------


def test_sleep_issues_a_durable_timer() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> list[datetime]:
        before = now()
        await sleep("1h")
        return [before, now()]

    history = History(reg, "w")
    first = history.turn()
    assert first.status == "suspended"
    assert first.commands == [StartTimer("wait_1", stamp(1) + timedelta(hours=1))]

    history.record(first.commands)
    waiting = history.turn()
    assert waiting.status == "suspended"
    assert waiting.commands == []
    assert waiting.timers == [("wait_1", stamp(1) + timedelta(hours=1))]

    history.wake("wait_1")
    # now() after the sleep is the time the log recorded the wake-up
    assert output_of(history.turn()) == [stamp(1), stamp(3)]


def test_sleep_until_an_aware_datetime() -> None:
    reg = Registry()
    at = datetime(2030, 6, 1, 9, 0, tzinfo=UTC)

    @reg.workflow(name="w")
    async def w() -> str:
        await sleep(at)
        return "woke"

    outcome = History(reg, "w").turn()
    assert outcome.commands == [StartTimer("wait_1", at)]


def test_sleep_with_a_naive_datetime_or_bad_duration_fails_the_run() -> None:
    reg = Registry()

    @reg.workflow(name="naive")
    async def naive() -> None:
        await sleep(datetime(2030, 1, 1))

    @reg.workflow(name="bad")
    async def bad() -> None:
        await sleep("soon")

    for name, text in (("naive", "timezone-aware"), ("bad", "not a duration")):
        outcome = History(reg, name).turn()
        assert outcome.status == "failed"
        assert outcome.error is not None
        assert outcome.error.type == "ValueError"
        assert text in outcome.error.message


def test_sleep_outside_a_workflow_is_refused() -> None:
    with pytest.raises(WorkflowContextError, match="sleep"):
        sleep("1s")


def test_asyncio_sleep_becomes_a_durable_timer() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> str:
        await asyncio.sleep(30)
        return "done"

    history = History(reg, "w")
    (command,) = history.turn().commands
    assert isinstance(command, StartTimer)
    assert command.correlation_id == "wait_1"
    assert abs(command.resume_at - (stamp(1) + timedelta(seconds=30))) < timedelta(milliseconds=1)
    assert output_of(history.run()) == "done"


def test_timers_and_steps_share_one_counter() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    a = _counting_step(reg, calls, "a")
    b = _counting_step(reg, calls, "b")

    @reg.workflow(name="w")
    async def w() -> list[str]:
        first = await a(1)
        await sleep("5m")
        return [first, await b(2)]

    history = History(reg, "w")
    assert output_of(history.run()) == ["a:1", "b:2"]
    assert history.created_log() == ["step_1", "wait_2", "step_3"]
    assert calls == Counter({"a": 1, "b": 1})


def test_recorded_resume_at_wins_on_replay() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> None:
        await sleep("1h")

    history = History(reg, "w")
    recorded_at = datetime(2024, 1, 1, 18, 0, tzinfo=UTC)
    history.append(WaitCreated, "wait_1", data=WaitCreatedData(resume_at=recorded_at))
    outcome = history.turn()
    assert outcome.commands == []
    assert outcome.timers == [("wait_1", recorded_at)]


def test_wait_for_a_step_that_finishes_in_time() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    a = _counting_step(reg, calls, "a")

    @reg.workflow(name="w")
    async def w() -> str:
        return await asyncio.wait_for(a("x"), timeout=60)

    history = History(reg, "w")
    first = history.turn()
    assert [type(c) for c in first.commands] == [ScheduleStep, StartTimer]
    history.record(first.commands)
    history.execute(first.commands[0])  # the step completes before the timer fires
    assert output_of(history.turn()) == "a:x"


def test_wait_for_times_out_when_the_timer_fires_first() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    a = _counting_step(reg, calls, "a")

    @reg.workflow(name="w")
    async def w() -> str:
        try:
            return await asyncio.wait_for(a("x"), timeout=60)
        except TimeoutError:
            return "timed out"

    history = History(reg, "w")
    first = history.turn()
    history.record(first.commands)
    history.wake("wait_2")
    history.execute(first.commands[0])  # too late: recorded after the wake-up
    assert output_of(history.turn()) == "timed out"
    assert history.replay() == history.replay()


def test_timer_cancelled_within_the_turn_is_not_issued() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    a = _counting_step(reg, calls, "a")

    @reg.workflow(name="w")
    async def w() -> str:
        await asyncio.wait_for(asyncio.sleep(0), timeout=60)  # finishes at once
        return await a()

    outcome = History(reg, "w").turn()
    assert outcome.status == "suspended"
    assert outcome.commands == [
        ScheduleStep("step_2", "a", serde.to_json({"args": [], "kwargs": {}}))
    ]


def test_race_between_sleep_and_step() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    a = _counting_step(reg, calls, "a")

    @reg.workflow(name="w")
    async def w() -> str:
        work = a()
        done, _ = await asyncio.wait([work, sleep("1d")], return_when=asyncio.FIRST_COMPLETED)
        return "work" if work in done else "timeout"

    for wake_first, expected in ((True, "timeout"), (False, "work")):
        history = History(reg, "w")
        first = history.turn()
        history.record(first.commands)
        if wake_first:
            history.wake("wait_2")
        history.execute(first.commands[0])
        if not wake_first:
            history.wake("wait_2")
        assert output_of(history.turn()) == expected


def test_cancelling_one_of_two_equal_asyncio_timers_keeps_the_other() -> None:
    """Two ``call_later`` timers with the same delay and callback are still two timers.

    ``asyncio.TimerHandle`` compares by value (when, callback, args), so keying the
    loop's timer table by handle lets one handle's cancel reach the other's timer.
    """
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> str:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        first = loop.call_later(5, event.set)
        loop.call_later(5, event.set)
        first.cancel()
        await event.wait()
        return "woke"

    outcome = History(reg, "w").turn()
    assert outcome.status == "suspended"
    # the live timer (the second) must be scheduled, the cancelled one must not
    assert [c.correlation_id for c in outcome.commands] == ["wait_2"]


# --- hooks ----------------------------------------------------------------------


def test_hook_receives_a_payload() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> dict[str, Any]:
        hook = create_hook(token="approval:o-1", metadata={"order": "o-1"})
        return {"token": hook.token, "payload": await hook}

    history = History(reg, "w")
    first = history.turn()
    assert first.commands == [CreateHook("hook_1", "approval:o-1", {"order": "o-1"})]
    history.record(first.commands)
    waiting = history.turn()
    assert waiting.status == "suspended"
    assert waiting.hooks == [("hook_1", "approval:o-1")]

    history.receive("hook_1", {"approved": True, "at": datetime(2024, 1, 2, tzinfo=UTC)})
    final = history.turn()
    assert output_of(final) == {
        "token": "approval:o-1",
        "payload": {"approved": True, "at": datetime(2024, 1, 2, tzinfo=UTC)},
    }
    # a run that ends reports its open hooks so the runtime can release the tokens
    assert final.hooks == [("hook_1", "approval:o-1")]


def test_hook_payloads_arrive_in_log_order() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> list[Any]:
        received = []
        async for payload in create_hook(token="t"):
            received.append(payload)
            if len(received) == 3:
                return received
        return received

    history = History(reg, "w")
    history.record(history.turn().commands)
    for payload in ("one", 2, ("three",)):
        history.receive("hook_1", payload)
    assert output_of(history.turn()) == ["one", 2, ("three",)]


def test_payloads_received_before_the_await_are_kept() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    a = _counting_step(reg, calls, "a")

    @reg.workflow(name="w")
    async def w() -> list[Any]:
        hook = create_hook(token="t")
        await a()
        return [await hook, await hook]

    history = History(reg, "w")
    history.record(history.turn().commands)
    history.receive("hook_1", "early-1")
    history.receive("hook_1", "early-2")
    history.execute(history.created["step_2"])
    assert output_of(history.turn()) == ["early-1", "early-2"]


def test_generated_token_is_replay_stable() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> str:
        hook = create_hook()
        await hook
        return hook.token

    history = History(reg, "w")
    (command,) = history.turn().commands
    assert isinstance(command, CreateHook)
    assert len(command.token) >= 32
    history.record([command])
    history.receive("hook_1", None)
    assert output_of(history.turn()) == command.token
    assert output_of(history.replay()) == command.token


def test_webhook_url() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> str:
        return create_webhook(token="abc").url

    definition = reg.get_workflow("w")
    history = History(reg, "w")
    outcome = WorkflowTurn(definition, history.events, webhook_base_url="https://api.x/").run()
    assert output_of(outcome) == "https://api.x/hooks/abc"


def test_a_generated_webhook_is_public_and_a_chosen_one_is_not() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> list[str]:
        generated, chosen = create_webhook(), create_webhook(token="a/b")
        plain = create_hook()
        await asyncio.gather(generated.next(), chosen.next(), plain.next())
        return [generated.url, chosen.url, generated.token]

    definition = reg.get_workflow("w")
    history = History(reg, "w")
    first = WorkflowTurn(definition, history.events, webhook_base_url="https://api.x").run()
    assert [(c.token == "a/b", c.webhook) for c in first.commands] == [  # type: ignore[union-attr]
        (False, True),
        (True, False),
        (False, False),
    ]
    history.record(first.commands)
    for cid in ("hook_1", "hook_2", "hook_3"):
        history.receive(cid, None)
    outcome = WorkflowTurn(definition, history.events, webhook_base_url="https://api.x").run()
    generated_url, chosen_url, token = output_of(outcome)
    assert generated_url == f"https://api.x/webhooks/{token}"
    assert chosen_url == "https://api.x/hooks/a%2Fb"  # the IAM route, percent-encoded
    assert [e.data.webhook for e in history.events if e.type == "hook_created"] == [
        True,
        False,
        False,
    ]


def test_conflicting_token_fails_the_await() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> str:
        try:
            await create_hook(token="taken")
        except HookConflictError as exc:
            return f"conflict: {exc}"
        return "no"

    history = History(reg, "w")
    history.append(
        HookCreated,
        "hook_1",
        data=HookCreatedData(token="taken", conflict="token 'taken' is held by another run"),
    )
    outcome = history.turn()
    assert output_of(outcome) == "conflict: token 'taken' is held by another run"
    assert outcome.hooks == []  # a conflicting hook holds no token


def test_hooks_outside_a_workflow_are_refused() -> None:
    with pytest.raises(WorkflowContextError, match="create_hook"):
        create_hook()
    with pytest.raises(WorkflowContextError, match="create_webhook"):
        create_webhook()


def test_unserializable_hook_metadata_fails_the_run() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> None:
        create_hook(metadata={1, 2})

    outcome = History(reg, "w").turn()
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.type == "SerializationError"
    assert "hook metadata" in outcome.error.message


def test_hook_payload_after_a_lost_race_reaches_the_next_await() -> None:
    """The documented race ``asyncio.wait([sleep(...), hook.next()])``, then ``await hook``.

    When the sleep wins, the ``next()`` future is abandoned; a payload that arrives
    later must still reach the code awaiting the hook, not the abandoned future.
    """
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> dict[str, Any]:
        hook = create_hook(token="approval")
        done, _ = await asyncio.wait(
            [sleep("1h"), hook.next()], return_when=asyncio.FIRST_COMPLETED
        )
        reminded = len(done) == 1
        return {"reminded": reminded, "decision": await hook}

    history = History(reg, "w")
    history.record(history.turn().commands)
    history.wake("wait_2")  # the hour passes first
    assert history.turn().status == "suspended"
    history.receive("hook_1", "approved")
    assert output_of(history.turn()) == {"reminded": True, "decision": "approved"}


def test_changing_a_step_into_a_sleep_is_non_determinism() -> None:
    v1, v2 = Registry(), Registry()
    a = v1.step(name="a")(lambda: "a")

    @v1.workflow(name="w")
    async def w1() -> str:
        return await a()

    @v2.workflow(name="w")
    async def w2() -> None:
        await sleep("1s")

    history = History(v1, "w")
    history.record(history.turn().commands)
    outcome = WorkflowTurn(v2.get_workflow("w"), history.events).run()
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.type == "NonDeterminismError"
    assert "step 'a'" in outcome.error.message
    assert "wait" in outcome.error.message


@pytest.mark.parametrize(
    ("token", "why"),
    [("", "non-empty"), ("x" * 1025, "at most 1024 bytes"), ("a\ud800", "surrogate")],
    ids=["empty", "too-long", "surrogate"],
)
def test_a_token_that_cannot_be_stored_is_refused_at_create_hook(token: str, why: str) -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> str:
        try:
            create_hook(token=token)
        except InvalidHookTokenError as exc:
            return str(exc)
        return "accepted"

    outcome = WorkflowTurn(reg.get_workflow("w"), History(reg, "w").events).run()
    assert why in output_of(outcome)
    assert not outcome.commands  # nothing is recorded for it
