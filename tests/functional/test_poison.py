"""A message that keeps failing ends in the DLQ, and its run ends failed, visibly."""

from __future__ import annotations

import json

import boto3
import pytest

from adapter import WorkflowRunFailedError, list_runs, start
from adapter.runtime import _runtime as _turn
from adapter.testing import LocalRuntime

from . import workflows as wf


def test_a_poison_message_fails_its_run_and_lands_in_the_dlq(
    rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = _turn.run_workflow_turn
    calls = {"n": 0}
    run = start(wf.chain, args=[1])

    def broken(runtime, message, *, redelivered=False):  # type: ignore[no-untyped-def]
        if message.run_id == run.run_id:
            calls["n"] += 1
            raise RuntimeError("cannot decode this run")
        return original(runtime, message, redelivered=redelivered)

    monkeypatch.setattr(_turn, "run_workflow_turn", broken)
    healthy = start(wf.chain, args=[2])
    rt.drain()
    assert calls["n"] == 10  # the redrive policy's maxReceiveCount
    assert run.status == "failed"
    with pytest.raises(WorkflowRunFailedError) as caught:
        run.result()
    assert "dead-letter queue" in caught.value.message
    assert "cannot decode this run" in caught.value.message
    assert [r.run_id for r in list_runs(status="failed")] == [run.run_id]
    assert healthy.return_value == 10  # the rest of the batch and the queue carry on
    dlq = rt.env["ADAPTER_WORKFLOW_QUEUE_URL"] + "-dlq"
    moved = boto3.client("sqs").receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)
    assert [json.loads(m["Body"])["run_id"] for m in moved["Messages"]] == [run.run_id]
