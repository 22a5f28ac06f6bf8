"""Nothing is lost when an invocation dies between its DynamoDB write and its SQS send."""

from __future__ import annotations

from typing import Any

import pytest

from adapter import start
from adapter.testing import LocalRuntime

from . import workflows as wf
from .conftest import assert_log_invariants


@pytest.fixture(autouse=True)
def _reset() -> None:
    wf.reset()


class CrashOnSend:
    """Makes the world's n-th send (of the given message kind) raise, once."""

    def __init__(self, rt: LocalRuntime, kind: str, nth: int = 1) -> None:
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
                raise ConnectionError("simulated crash after the DynamoDB write")
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
    crash = CrashOnSend(rt, "workflow", 1)
    monkeypatch.setattr(rt.runtime.world, "send", crash)
    with pytest.raises(ConnectionError):
        start(wf.chain, args=[7], idempotency_key="order-7")
    assert rt.drain() == 0  # the run is written, its first message was lost
    again = start(wf.chain, args=[7], idempotency_key="order-7")  # a client retry
    assert again.return_value == 30
    assert len(rt.runtime.world.list_runs(workflow_name=None, status=None, limit=5)) == 1
    assert_log_invariants(rt.events(again.run_id))
