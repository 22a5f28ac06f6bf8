"""Each sample, end to end on LocalRuntime."""

from __future__ import annotations

import pytest

from adapter import list_runs, resume_hook, start
from adapter.testing import LocalRuntime
from samples import payments
from samples.approval import request_approval
from samples.fanout import process_item, process_large_batch


def webhook_token(rt: LocalRuntime, run_id: str) -> str:
    return next(e.data.token for e in rt.events(run_id) if e.type == "hook_created")


def test_approval_approved_before_the_deadline(rt: LocalRuntime) -> None:
    run = start(request_approval, args=["o-1"])
    rt.drain(skip_time=False)
    resume_hook(webhook_token(rt, run.run_id), {"approved": True, "by": "grace"})
    assert run.return_value == {
        "order_id": "o-1",
        "decision": "approved",
        "summary": "order o-1 approved by grace",
    }


def test_approval_expires_after_the_deadline(rt: LocalRuntime) -> None:
    run = start(request_approval, args=["o-2"], kwargs={"timeout": "1d"})
    assert run.return_value["decision"] == "expired"
    types = [e.type for e in rt.events(run.run_id)]
    assert "wait_completed" in types and "hook_received" not in types


def test_payment_retries_through_the_gateway_and_charges_once(rt: LocalRuntime) -> None:
    payments.GATEWAY_CALLS.clear()
    payments.GATEWAY_CHARGES.clear()
    run = start(payments.pay, args=["ada@example.com", 1999])
    result = run.return_value
    assert result["attempts"] == 3
    assert len(payments.GATEWAY_CALLS) == 3 and len(set(payments.GATEWAY_CALLS)) == 1
    assert list(payments.GATEWAY_CHARGES.values()) == [1999]
    assert [e.type for e in rt.events(run.run_id)].count("step_retrying") == 2


def test_payment_with_an_invalid_amount_fails_fast(rt: LocalRuntime) -> None:
    from adapter import WorkflowRunFailedError

    with pytest.raises(WorkflowRunFailedError, match="invalid amount"):
        start(payments.pay, args=["bob@example.com", 0]).result()


def test_large_fan_out_in_chunks_reports_failures(rt: LocalRuntime) -> None:
    run = start(process_large_batch, args=[200, 50])
    result = run.return_value
    failing = [i for i in range(200) if i % 7 == 3]
    assert result["children"] == 200
    assert result["succeeded"] == 200 - len(failing)
    assert result["failed"] == len(failing)
    assert result["total"] == sum(i * i for i in range(200) if i not in failing)
    children = list_runs(workflow_name=process_item.__adapter_workflow__.name, limit=1000)
    assert len(children) == 200  # retried polls and chunks spawned nobody twice
