"""Every accepted run ends, or is visibly stuck with its reason and a way back.

One test (or a few) per way a run used to be left ``running`` forever; each failed
before its fix. The failure model they pin:

* the code of a run fails it (an uncaught exception), cancelling ends it;
* the runtime fails it when its history cannot be read, or when one of its messages
  keeps failing for a reason that is not an outage (``error.kind``: ``unreadable``,
  ``delivery``); ``adapter runs retry`` reopens such a run;
* an outage (throttling, 5xx, timeouts) never fails a run nor spends a step's retries:
  deliveries back off, and a message that still runs out of deliveries leaves its run
  marked stuck (``list_runs(status="stuck")``), to be redriven or retried.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from adapter import (
    FatalError,
    HookConflictError,
    HookNotFoundError,
    RunTimeoutError,
    create_hook,
    get_run,
    list_runs,
    resume_hook,
    sleep,
    start,
    step,
    workflow,
)
from adapter.core.messages import WorkflowMessage
from adapter.testing import LocalRuntime
from adapter.world import STUCK
from adapter.world._resources import queue_visibility

from ..damage import corrupt_event, delete_payload_objects
from .conftest import assert_log_invariants

executions: dict[str, int] = {}


@pytest.fixture(autouse=True)
def _reset() -> None:
    executions.clear()


def _count(name: str) -> None:
    executions[name] = executions.get(name, 0) + 1


# --- 1. a run that creates the same hook token twice ---------------------------------


@workflow
async def approve_inline(order: str) -> Any:
    return await create_hook(token=f"approval:{order}")


@workflow
async def approve_twice(order: str) -> list[Any]:
    """The "ask again" pattern: an inline child asking for the same approval twice."""
    return [await approve_inline(order), await approve_inline(order)]


@workflow
async def two_live_hooks(token: str) -> str:
    first = create_hook(token=token)
    second = create_hook(token=token)
    try:
        await second
    except HookConflictError as exc:
        return f"conflict: {exc}"
    return f"no conflict: {await first}"


def test_a_token_reused_after_its_hook_resolved_is_handed_over(rt: LocalRuntime) -> None:
    run = start(approve_twice, args=["o-1"])
    rt.drain(skip_time=False)
    assert resume_hook("approval:o-1", "yes") == run.run_id
    rt.drain(skip_time=False)
    assert run.status == "running"  # asking again, with the same token
    assert resume_hook("approval:o-1", "still yes") == run.run_id
    assert run.return_value == ["yes", "still yes"]
    events = rt.events(run.run_id)
    assert_log_invariants(events)
    created = [e.correlation_id for e in events if e.type == "hook_created"]
    disposed = [e.correlation_id for e in events if e.type == "hook_disposed"]
    assert len(created) == 2 and sorted(disposed) == sorted(created)
    with pytest.raises(HookNotFoundError):
        resume_hook("approval:o-1", "late")


def test_two_live_hooks_with_one_token_are_a_conflict_in_the_log(rt: LocalRuntime) -> None:
    run = start(two_live_hooks, args=["dup:1"])
    assert run.return_value.startswith("conflict: ")
    assert "dup:1" in run.return_value
    created = [e for e in rt.events(run.run_id) if e.type == "hook_created"]
    assert [e.data.conflict is not None for e in created] == [False, True]


@pytest.mark.parametrize("end", ["cancel", "fail"])
def test_a_run_that_reused_a_token_can_be_cancelled_or_failed(rt: LocalRuntime, end: str) -> None:
    run = start(approve_twice, args=["o-2"])
    rt.drain(skip_time=False)
    resume_hook("approval:o-2", "yes")
    rt.drain(skip_time=False)  # the second hook holds the token now
    if end == "cancel":
        run.cancel()
        assert run.status == "cancelled"
    else:
        from adapter.core.events import ErrorInfo

        rt.runtime.fail(run.run_id, ErrorInfo(type="Stop", message="stopped by a test"))
        assert run.status == "failed"
    with pytest.raises(HookNotFoundError):
        resume_hook("approval:o-2", "after the end")
    rt.drain()
    assert_log_invariants(rt.events(run.run_id))


# --- 2. Run.result(timeout=...) inside a step on LocalRuntime --------------------------


@workflow
async def naps_an_hour() -> str:
    await sleep("1h")
    return "rested"


@step
async def wait_for_child_briefly() -> str:
    child = start(naps_an_hour)
    try:
        return str(child.result(timeout=30))
    except RunTimeoutError:
        return f"timed out:{child.run_id}"


@workflow
async def impatient_parent() -> str:
    return await wait_for_child_briefly()


def test_result_timeout_inside_a_step_fires_on_the_virtual_clock(rt: LocalRuntime) -> None:
    began = rt.now()
    run = start(impatient_parent)
    rt.drain(skip_time=False)
    answer = run.result(timeout=0)
    assert answer.startswith("timed out:")
    child = get_run(answer.removeprefix("timed out:"))
    assert child.status == "running"  # not driven through its hour
    assert rt.now() - began < timedelta(minutes=5)


# --- 3. long sleeps wake at (or after) their time, never late --------------------------


@workflow
async def naps(duration: str) -> str:
    await sleep(duration)
    return "awake"


@pytest.mark.parametrize("duration", ["30d", "16m", "1d"])
def test_advance_past_a_long_sleep_wakes_it(rt: LocalRuntime, duration: str) -> None:
    run = start(naps, args=[duration])
    rt.drain(skip_time=False)
    resume_at = next(e for e in rt.events(run.run_id) if e.type == "wait_created").data.resume_at
    rt.advance(duration)
    assert run.status == "completed"
    woke = next(e for e in rt.events(run.run_id) if e.type == "wait_completed")
    assert woke.created_at >= resume_at


# --- 4. unreadable history -------------------------------------------------------------


@step
async def big_result() -> str:
    return "x" * 500_000  # stored in S3


@workflow
async def keeps_a_big_result_then_naps() -> int:
    big = await big_result()
    await sleep("40d")
    return len(big)


def test_a_missing_payload_object_fails_the_run_with_the_reason(rt: LocalRuntime) -> None:
    run = start(keeps_a_big_result_then_naps)
    rt.drain(skip_time=False)
    assert run.status == "running"
    assert delete_payload_objects(rt) >= 1
    rt.runtime.journal.clear()  # a fresh container: the log is read again
    rt.drain()
    assert run.status == "failed"
    error = get_run(run.run_id)._rt.get_record(run.run_id).error
    assert error is not None and error.kind == "unreadable"
    assert "UnreadableHistoryError" in error.type and "runs retry" in error.message
    events = rt.runtime.readable_history(run.run_id)[1]  # reads keep working
    assert events[-1].type == "run_failed"


def test_a_run_with_a_missing_payload_can_still_be_cancelled(rt: LocalRuntime) -> None:
    run = start(keeps_a_big_result_then_naps)
    rt.drain(skip_time=False)
    delete_payload_objects(rt)
    rt.runtime.journal.clear()
    run.cancel()
    assert run.status == "cancelled"


def test_an_event_that_no_longer_decodes_fails_the_run(rt: LocalRuntime) -> None:
    run = start(naps, args=["1h"])
    rt.drain(skip_time=False)
    corrupt_event(rt, run.run_id)
    rt.runtime.journal.clear()
    rt.drain()
    assert run.status == "failed"
    record = rt.runtime.get_record(run.run_id)
    assert record.error is not None and record.error.kind == "unreadable"
    assert rt.runtime.readable_history(run.run_id)[1][-1].type == "run_failed"


# --- 5. a step error too large for an item ---------------------------------------------


@step
async def fails_loudly() -> None:
    _count("fails_loudly")
    raise FatalError("boom " + "e" * 600_000)


@workflow
async def loud_failure() -> None:
    await fails_loudly()


def test_a_huge_step_error_is_truncated_and_the_step_runs_once(rt: LocalRuntime) -> None:
    run = start(loud_failure)
    rt.drain()
    assert executions == {"fails_loudly": 1}
    assert run.status == "failed"
    record = rt.runtime.get_record(run.run_id)
    assert record.error is not None and record.error.type == "FatalError"
    assert record.error.message.startswith("boom eee")
    assert len(record.error.message) < 20_000 and "truncated" in record.error.message
    failed = next(e for e in rt.events(run.run_id) if e.type == "step_failed")
    assert failed.data.error.type == "FatalError"


# --- 6. deliveries that reset the receive count; a missing next message ----------------


@step
async def counted(name: str) -> str:
    _count(name)
    return name


@workflow
async def two_counted_steps() -> list[str]:
    return [await counted("a"), await counted("b")]


def test_a_lost_step_message_is_sent_again_by_the_sweep(
    rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The turn recorded ``step_created``, its send 'succeeded' and the message was lost:
    nothing is queued, no receive count will ever grow."""
    world = rt.runtime.world
    original = world.send
    dropped: list[Any] = []

    def lossy(messages: Any) -> None:
        keep = []
        for out in messages:
            if out.message.kind == "step" and not dropped:
                dropped.append(out)
            else:
                keep.append(out)
        if keep:
            original(keep)

    monkeypatch.setattr(world, "send", lossy)
    run = start(two_counted_steps)
    assert run.return_value == ["a", "b"]
    assert len(dropped) == 1
    assert executions == {"a": 1, "b": 1}
    assert_log_invariants(rt.events(run.run_id))


def test_a_redelivery_with_a_reset_receive_count_still_resends_lost_work(
    rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A turn died between its write and its send; the message comes back as if new
    (receive count 1: a redrive, a forwarded async retry, a restored snapshot)."""
    world = rt.runtime.world
    original = world.send
    crashed: list[bool] = []

    def dies_once(messages: Any) -> None:
        if any(out.message.kind == "step" for out in messages) and not crashed:
            crashed.append(True)
            raise ConnectionError("the process died after its write")
        original(messages)

    monkeypatch.setattr(world, "send", dies_once)
    run = start(two_counted_steps)
    rt.drain(skip_time=False)
    monkeypatch.setattr(world, "send", original)
    rt.runtime.journal.clear()
    stale = rt.runtime.stale_after
    rt.advance(stale + timedelta(seconds=1))
    rt.runtime.process(
        WorkflowMessage(run_id=run.run_id, deployment_id=run.deployment_id), receive_count=1
    )
    assert run.return_value == ["a", "b"]
    assert executions == {"a": 1, "b": 1}


# --- 7. an outage longer than the redrive budget -----------------------------------------


def _throttled(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
        operation,
    )


def test_an_outage_longer_than_the_budget_leaves_the_run_stuck_then_recoverable(
    rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = rt.runtime.world
    original = world.append
    outage = {"on": True, "hits": 0}

    def throttled_append(*args: Any, **kwargs: Any) -> int:
        if outage["on"]:
            outage["hits"] += 1
            raise _throttled("TransactWriteItems")
        return original(*args, **kwargs)

    monkeypatch.setattr(world, "append", throttled_append)
    began = rt.now()
    run = start(two_counted_steps)
    rt.drain()
    # Every delivery was spent, backing off: hours of outage, not ten tries in a row.
    assert outage["hits"] >= 10
    assert rt.now() - began > timedelta(hours=3)
    assert run.status == "pending"
    stuck = list_runs(status=STUCK)
    assert [r.run_id for r in stuck] == [run.run_id]
    mark = rt.runtime.get_record(run.run_id).stuck
    assert mark is not None and mark.kind == "transient" and "redrive" in mark.reason

    outage["on"] = False
    moved = rt.runtime.redrive()
    assert moved == {"workflow": 1, "step": 0}
    assert list_runs(status=STUCK) == []
    assert run.return_value == ["a", "b"]
    assert executions == {"a": 1, "b": 1}


def test_an_outage_during_a_step_does_not_spend_its_retries(
    rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = rt.runtime.world
    original = world.append
    state = {"throttle": 0}

    def flaky_append(run_id: str, expected_seq: int, batch: Any) -> int:
        if any(e.type == "step_started" for e in batch.events) and state["throttle"] < 6:
            state["throttle"] += 1
            raise _throttled("TransactWriteItems")
        return original(run_id, expected_seq, batch)

    monkeypatch.setattr(world, "append", flaky_append)
    run = start(two_counted_steps)
    assert run.return_value == ["a", "b"]
    assert state["throttle"] == 6  # more outage-failures than the step's 4 attempts
    started = [e for e in rt.events(run.run_id) if e.type == "step_started"]
    assert [e.data.attempt for e in started] == [1, 1]


# --- 8. stray messages -----------------------------------------------------------------


def test_a_stray_message_for_an_unknown_deployment_is_dropped(
    rt: LocalRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    run = start(two_counted_steps)
    stray = WorkflowMessage(run_id=run.run_id, deployment_id="99")
    for receive in range(1, 12):
        rt.runtime.process(stray, receive_count=receive)
    assert run.return_value == ["a", "b"]
    assert run.status == "completed"
    assert any("99" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("which", ["missing", "ended"])
def test_a_timer_for_a_missing_or_ended_run_is_dropped(rt: LocalRuntime, which: str) -> None:
    run_id = "no-such-run"
    deployment = "1"
    if which == "ended":
        run = start(two_counted_steps)
        run.return_value  # noqa: B018 - drive the run to its end
        run_id, deployment = run.run_id, run.deployment_id
    sends: list[Any] = []
    world = rt.runtime.world
    original = world.send

    def watch(messages: Any) -> None:
        sends.extend(messages)
        original(messages)

    world.send = watch  # type: ignore[method-assign]
    try:
        timer = WorkflowMessage(
            run_id=run_id,
            deployment_id=deployment,
            timer="w1",
            resume_at=rt.now() + timedelta(days=30),
        )
        rt.runtime.process(timer, receive_count=1)
    finally:
        world.send = original  # type: ignore[method-assign]
    assert sends == []  # not hopped on every 15 minutes until its date


# --- 9. a crashed step is retried after the function timeout, not 15 minutes ------------


class InvocationDied(BaseException):
    """The Lambda invocation was killed (a timeout, an out-of-memory)."""


@step
async def dies_the_first_time() -> str:
    _count("dies")
    if executions["dies"] == 1:
        raise InvocationDied()
    return "ok"


@workflow
async def survives_a_crash() -> str:
    return await dies_the_first_time()


def test_a_crashed_step_is_retried_within_the_function_timeout(rt: LocalRuntime) -> None:
    run = start(survives_a_crash)
    assert run.return_value == "ok"
    started = [e for e in rt.events(run.run_id) if e.type == "step_started"]
    assert [e.data.attempt for e in started] == [1, 2]
    crashed_at = started[0].created_at
    lease = rt.runtime.step_lease  # the function timeout (no Lambda context here)
    assert lease <= timedelta(seconds=300)
    assert started[1].created_at - crashed_at <= lease + timedelta(seconds=10)


def test_queue_visibility_and_step_lease_follow_the_function_timeout() -> None:
    assert queue_visibility(60) == 60
    assert queue_visibility(300) == 300
    from datetime import UTC, datetime

    with LocalRuntime() as rt:
        now = datetime(2026, 1, 1, tzinfo=UTC)
        lease = rt.runtime.lease_until(now, now + timedelta(seconds=300))
    assert timedelta(seconds=300) < lease - now <= timedelta(seconds=310)


# --- 10. failures are visible on the first delivery --------------------------------------


def test_the_first_failed_delivery_is_logged_with_the_run_and_reason(
    rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    world = rt.runtime.world
    original = world.append
    failures = {"n": 0}

    def fails_once(*args: Any, **kwargs: Any) -> int:
        if failures["n"] == 0:
            failures["n"] += 1
            raise RuntimeError("disk on fire")
        return original(*args, **kwargs)

    monkeypatch.setattr(world, "append", fails_once)
    caplog.set_level(logging.WARNING)
    run = start(two_counted_steps)
    rt.drain(skip_time=False)
    logged = [r for r in caplog.records if "disk on fire" in r.getMessage()]
    assert logged, "the first failure was not logged"
    assert run.run_id in logged[0].getMessage() or getattr(logged[0], "run_id", None) == run.run_id
    assert run.return_value == ["a", "b"]


# --- recovery ------------------------------------------------------------------------------


def test_redrive_moves_dead_letters_back_and_retry_reopens_a_delivery_failure(
    rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapter.runtime import _runtime

    original = _runtime.run_workflow_turn
    broken = {"on": True}

    def poison(services: Any, message: Any, **kwargs: Any) -> None:
        if broken["on"]:
            raise RuntimeError("a bug in this version")
        original(services, message, **kwargs)

    monkeypatch.setattr(_runtime, "run_workflow_turn", poison)
    run = start(two_counted_steps)
    rt.drain()
    assert run.status == "failed"
    record = rt.runtime.get_record(run.run_id)
    assert record.error is not None and record.error.kind == "delivery"
    sqs = boto3.client("sqs")
    dlq = rt.env["ADAPTER_WORKFLOW_QUEUE_URL"] + "-dlq"
    attributes = sqs.get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "1"

    broken["on"] = False  # the fix is deployed
    assert rt.runtime.redrive() == {"workflow": 1, "step": 0}
    assert rt.runtime.retry(run.run_id) == "reopened"
    assert run.return_value == ["a", "b"]
    kinds = [e.type for e in rt.events(run.run_id)]
    assert "run_resumed" in kinds and kinds[-1] == "run_completed"
    assert (
        json.loads(
            sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
        == 0
    )


def test_retry_refuses_a_run_its_own_code_failed(rt: LocalRuntime) -> None:
    from adapter.core.errors import WorldError

    run = start(loud_failure)
    rt.drain()
    assert run.status == "failed"
    with pytest.raises(WorldError, match="its own code"):
        rt.runtime.retry(run.run_id)


def test_reads_and_cancel_over_http_keep_working_when_history_is_unreadable(
    rt: LocalRuntime,
) -> None:
    from .test_http_api import call, v1_event

    run = start(keeps_a_big_result_then_naps)
    rt.drain(skip_time=False)
    delete_payload_objects(rt)
    rt.runtime.journal.clear()
    status, body = call(v1_event("GET", f"/runs/{run.run_id}/events"))
    assert status == 200
    assert [e["type"] for e in body["events"]][:2] == ["run_created", "run_started"]
    status, body = call(v1_event("GET", f"/runs/{run.run_id}"))
    assert status == 200 and body["status"] == "running"
    status, body = call(v1_event("POST", f"/runs/{run.run_id}/cancel"))
    assert status == 202 and body["status"] == "cancelled"
