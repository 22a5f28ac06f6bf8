"""Nothing is lost when an invocation dies between its DynamoDB write and its SQS send."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from adapter import get_run, resume_hook, start
from adapter.testing import LocalRuntime

from . import primitives as p
from . import workflows as wf
from .conftest import assert_log_invariants


@pytest.fixture(autouse=True)
def _reset() -> None:
    wf.reset()


class ProcessDied(BaseException):
    """The invocation or the caller's process died (nothing in it catches this)."""


class CrashOnSend:
    """Makes the world's n-th send (of the given message kind) raise, once."""

    def __init__(
        self,
        rt: LocalRuntime,
        kind: str,
        nth: int = 1,
        error: type[BaseException] = ConnectionError,
    ) -> None:
        self.error = error
        self.world = rt.runtime.world
        self.original = self.world.send
        self.kind = kind
        self.remaining = nth
        self.crashed = 0

    def __call__(self, messages: Any) -> None:
        if any(m.message.kind == self.kind for m in messages) and self.crashed == 0:
            self.remaining -= 1
            if self.remaining == 0:
                self.crashed += 1
                raise self.error("simulated crash after the DynamoDB write")
        self.original(messages)


# The 1st step message is sent by the first workflow turn; the 2nd and 3rd by step
# invocations, right after recording a result together with the next step.
@pytest.mark.parametrize(("kind", "nth"), [("step", 1), ("step", 2), ("step", 3)])
def test_a_crash_between_write_and_send_is_recovered_on_redelivery(
    rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch, kind: str, nth: int
) -> None:
    crash = CrashOnSend(rt, kind, nth)
    monkeypatch.setattr(rt.runtime.world, "send", crash)
    run = start(wf.chain, args=[7])
    assert run.return_value == 30
    assert crash.crashed == 1
    events = rt.events(run.run_id)
    assert_log_invariants(events)
    assert wf.calls == {"double:7": 1, "increment:14": 1, "double:15": 1}


def test_a_crash_after_start_wrote_the_run_is_recovered_by_starting_again(
    rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash = CrashOnSend(rt, "workflow", 1, ProcessDied)
    monkeypatch.setattr(rt.runtime.world, "send", crash)
    with pytest.raises(ProcessDied):
        start(wf.chain, args=[7], idempotency_key="order-7")
    again = start(wf.chain, args=[7], idempotency_key="order-7")  # a client retry
    assert again.return_value == 30
    assert len(rt.runtime.world.list_runs(workflow_name=None, status=None, limit=5)) == 1
    assert_log_invariants(rt.events(again.run_id))


def test_a_run_whose_start_died_before_sending_is_woken_by_the_sweep(
    rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rt.runtime.world, "send", CrashOnSend(rt, "workflow", 1, ProcessDied))
    with pytest.raises(ProcessDied):
        start(wf.chain, args=[7])  # no key: the caller cannot find this run again
    (orphan,) = rt.runtime.world.list_runs(workflow_name=None, status="pending", limit=5)
    # Not yet stalled for long: the sweep leaves it alone.
    assert rt.runtime.wake_stalled(timedelta(minutes=2)) == []
    rt.clock.advance_to(rt.now() + timedelta(minutes=3))
    assert [r.run_id for r in rt.runtime.wake_stalled(timedelta(minutes=2))] == [orphan.run_id]
    rt.drain()
    assert get_run(orphan.run_id).return_value == 30


def test_a_hook_payload_whose_wake_up_was_lost_is_woken_by_the_sweep(
    rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = start(p.collects_three, args=["lost-wake"])
    rt.drain()
    monkeypatch.setattr(rt.runtime.world, "send", CrashOnSend(rt, "workflow", 1))
    # Recorded, but its wake-up failed: that is left to the stall sweep, not raised (a
    # caller seeing an error would retry and record the payload twice).
    assert resume_hook("lost-wake", 1) == run.run_id
    monkeypatch.undo()
    resume_hook("lost-wake", 2)
    resume_hook("lost-wake", 3)
    assert run.return_value == [1, 2, 3]


def test_the_sweep_runs_from_the_sqs_handler_every_few_minutes(
    rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapter.aws import _sqs

    calls: list[timedelta] = []
    monkeypatch.setattr(_sqs, "_last_sweep", float("-inf"))

    def wake(older: timedelta, **kwargs: object) -> list[object]:
        if "already" not in kwargs:  # the handler's sweep, not LocalRuntime's idle one
            calls.append(older)
        return []

    monkeypatch.setattr(rt.runtime, "wake_stalled", wake)
    start(wf.chain, args=[1])
    rt.drain()
    assert calls == [_sqs.STALLED_AFTER]  # once, then not again within the interval


def test_start_succeeds_when_only_its_first_message_failed(
    rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rt.runtime.world, "send", CrashOnSend(rt, "workflow", 1))
    run = start(wf.chain, args=[2])  # the run is written: the sweep sends what failed
    monkeypatch.undo()
    assert run.return_value == 10
    assert len(rt.runtime.world.list_runs(workflow_name=None, status=None, limit=5)) == 1
