"""The README's bad-input table, one test per row: a clear error, nothing written
half-way, no crash of the batch."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from adapter import (
    HookNotFoundError,
    IdempotencyConflictError,
    WorkflowArgumentsError,
    WorkflowNotRegisteredError,
    get_run,
    list_runs,
    resume_hook,
    start,
)
from adapter.aws import handler
from adapter.core.errors import PayloadTooLargeError, RunNotFoundError, SerializationError
from adapter.testing import LocalRuntime
from adapter.world._payloads import PayloadStore

from . import primitives as p
from . import workflows as wf
from .test_http_api import v2_event


def nothing_written(rt: LocalRuntime) -> bool:
    return rt.runtime.world.list_runs(workflow_name=None, status=None, limit=10) == []


def test_unknown_workflow(rt: LocalRuntime) -> None:
    with pytest.raises(WorkflowNotRegisteredError, match="not registered"):
        start("billing.nope")
    assert nothing_written(rt)


@pytest.mark.parametrize(
    ("args", "kwargs"), [("abc", None), (42, None), ((), [1, 2]), ({"a": 1}, None)]
)
def test_bad_arguments(rt: LocalRuntime, args: Any, kwargs: Any) -> None:
    with pytest.raises(TypeError):
        start(wf.chain, args=args, kwargs=kwargs)
    assert nothing_written(rt)


@pytest.mark.parametrize("value", [{1, 2}, object(), float("nan"), {1: "non-string key"}])
def test_non_serializable_arguments(rt: LocalRuntime, value: Any) -> None:
    with pytest.raises(SerializationError, match="cannot serialize the arguments of workflow"):
        start(wf.chain, args=[value])
    assert nothing_written(rt)


def test_non_serializable_hook_payload(rt: LocalRuntime) -> None:
    run = start(p.collects_three, args=["bad-payload"])
    rt.drain()
    before = len(rt.events(run.run_id))
    with pytest.raises(SerializationError, match="hook payload"):
        resume_hook("bad-payload", {"when": object()})
    assert len(rt.events(run.run_id)) == before


def test_oversized_payload_without_a_bucket_is_refused_whole(rt: LocalRuntime) -> None:
    rt.runtime.world.payloads = PayloadStore(None, None)  # type: ignore[attr-defined]
    with pytest.raises(PayloadTooLargeError, match="ADAPTER_BUCKET_NAME"):
        start(wf.chain, args=["x" * 400_000])
    assert nothing_written(rt)


def test_oversized_payload_with_a_bucket_goes_to_s3(rt: LocalRuntime) -> None:
    run = start(p.echo_workflow, args=["y" * 500_000])
    assert run.return_value == 500_000


def _sqs_event(rt: LocalRuntime, bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def test_malformed_sqs_messages_fail_alone_and_write_nothing(rt: LocalRuntime) -> None:
    run = start(wf.chain, args=[3])
    good = json.dumps({"kind": "workflow", "run_id": run.run_id, "deployment_id": "1"})
    bad = [
        "not json at all",
        "[]",  # wrong shape
        json.dumps({"kind": "teleport", "run_id": run.run_id, "deployment_id": "1"}),
        json.dumps({"kind": "workflow", "run_id": "../../etc/passwd", "deployment_id": "1"}),
        json.dumps({"kind": "step", "run_id": run.run_id, "deployment_id": "1"}),  # no step
    ]
    response = handler(_sqs_event(rt, [*bad, good]), None)
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [
        f"m{i}" for i in range(len(bad))
    ]
    types = [e.type for e in rt.events(run.run_id)]
    assert types == ["run_created", "run_started", "step_created"]  # the good one ran


def test_malformed_api_gateway_event_is_a_400(rt: LocalRuntime) -> None:
    response = handler({"requestContext": {}, "httpMethod": "GET", "headers": "x"}, None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "invalid_request"


def test_hook_token_held_by_another_running_run(rt: LocalRuntime) -> None:
    start(p.waits_on_hook_then_steps, args=["dup"])
    rt.drain()
    second = start(p.waits_on_hook_then_steps, args=["dup"])
    rt.drain()
    assert second.status == "failed"
    assert get_run(second.run_id).status == "failed"


def test_resuming_a_finished_run(rt: LocalRuntime) -> None:
    run = start(p.collects_three, args=["done-hook"])
    rt.drain()
    for i in range(3):
        resume_hook("done-hook", i)
    assert run.return_value == [0, 1, 2]
    with pytest.raises(HookNotFoundError):
        resume_hook("done-hook", 4)


def test_unknown_run_id(rt: LocalRuntime) -> None:
    with pytest.raises(RunNotFoundError):
        get_run("wrun_DOESNOTEXIST")


def test_cancelling_a_finished_run_changes_nothing(rt: LocalRuntime) -> None:
    run = start(wf.chain, args=[1])
    assert run.return_value == 6
    events = rt.events(run.run_id)
    run.cancel()
    assert run.status == "completed" and rt.events(run.run_id) == events


def test_logs_carry_no_payloads_unless_debug(
    rt: LocalRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    run = start(p.collects_three, args=["secret-hook"])
    rt.drain()
    for secret in ("TOP-SECRET-1", "TOP-SECRET-2", "TOP-SECRET-3"):
        resume_hook("secret-hook", {"card": secret})
    assert len(run.return_value) == 3
    assert list_runs()
    assert "TOP-SECRET" not in caplog.text
    assert run.run_id in caplog.text  # the logs do say what happened


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [([], None), ([1, 2], None), ([], {"y": 1}), ([1], {"x": 2})],
    ids=["missing", "too-many", "unknown-keyword", "twice"],
)
def test_arguments_that_do_not_fit_the_signature(rt: LocalRuntime, args: Any, kwargs: Any) -> None:
    with pytest.raises(WorkflowArgumentsError, match=r"do not fit workflow .*chain'\(x\): "):
        start(wf.chain, args=args, kwargs=kwargs)
    assert nothing_written(rt)
    assert issubclass(WorkflowArgumentsError, TypeError)  # what calling the function raises


def test_an_idempotency_key_names_one_workflow_and_one_input(rt: LocalRuntime) -> None:
    first = start(wf.chain, args=[1], idempotency_key="order-1")
    assert start(wf.chain, args=[1], idempotency_key="order-1").run_id == first.run_id
    with pytest.raises(IdempotencyConflictError, match="other arguments"):
        start(wf.chain, args=[2], idempotency_key="order-1")
    with pytest.raises(IdempotencyConflictError, match=r"of workflow .*chain"):
        start(wf.child, args=[1], idempotency_key="order-1")
    assert [r.run_id for r in list_runs()] == [first.run_id]
    rt.drain()
    assert first.result() == 6  # chain(1): double, increment, double


def test_an_idempotency_key_finds_its_run_when_the_input_went_to_s3(rt: LocalRuntime) -> None:
    big = "y" * 500_000  # stored as an S3 object: compared once read back
    first = start(p.echo_workflow, args=[big], idempotency_key="big-1")
    assert start(p.echo_workflow, args=[big], idempotency_key="big-1").run_id == first.run_id
    with pytest.raises(IdempotencyConflictError):
        start(p.echo_workflow, args=[big + "z"], idempotency_key="big-1")
    assert first.return_value == 500_000


def test_a_retried_step_finds_its_child_even_with_new_arguments(rt: LocalRuntime) -> None:
    """A key derived inside a step is compared by workflow only: a retry may build its
    arguments anew and must still find the child its first attempt started."""
    wf.reset()
    parent = start(wf.spawner_with_changing_arguments, args=[10])
    rt.drain()
    child_id = parent.result()
    assert wf.calls["spawn_attempts"] == 2
    children = [r for r in list_runs() if r.workflow_name.endswith(".child")]
    assert [r.run_id for r in children] == [child_id]
    assert get_run(child_id).result() == 22  # started once, by the first attempt: 10 + 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"workflow": "tests.functional.workflows.chain", "args": []}, 400, "invalid_arguments"),
        (
            {"workflow": "tests.functional.workflows.chain", "args": [5], "idempotencyKey": "k"},
            409,
            "idempotency_conflict",
        ),
    ],
)
def test_start_refusals_over_http(rt: LocalRuntime, body: Any, status: int, code: str) -> None:
    start(wf.chain, args=[1], idempotency_key="k")
    response = handler(v2_event("POST", "/runs", body), None)
    assert response["statusCode"] == status, response["body"]
    assert json.loads(response["body"])["error"]["code"] == code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1" * 5000, "invalid_json"),  # over Python's 4,300-digit integer limit
        ("[" * 100_000 + "]" * 100_000, "invalid_json"),  # deeper than the recursion limit
    ],
    ids=["huge-int", "deep"],
)
def test_bodies_python_cannot_hold_are_a_400(rt: LocalRuntime, raw: str, code: str) -> None:
    response = handler(v2_event("POST", "/runs", raw_body=raw), None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == code


@pytest.mark.parametrize("body", ["not base64!", base64.b64encode(b"\xff\xfe{}").decode()])
def test_a_body_that_is_not_base64_utf8_text_is_a_400(rt: LocalRuntime, body: str) -> None:
    event = v2_event("POST", "/runs", raw_body="{}")
    event["body"], event["isBase64Encoded"] = body, True
    response = handler(event, None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "invalid_body"


def test_a_hook_token_too_long_to_store_fails_the_run_at_once(rt: LocalRuntime) -> None:
    """3,000 characters once sat `pending` for 10 deliveries, then failed with DynamoDB's
    "hashkey exceeded 2048 bytes": it is refused where the workflow creates the hook."""
    run = start(p.collects_three, args=["x" * 3000])
    rt.drain()
    assert run.status == "failed"
    error = run.record().error
    assert error is not None and error.type == "InvalidHookTokenError"
    assert "at most 1024 bytes" in error.message
    assert [e.type for e in rt.events(run.run_id) if e.type == "hook_created"] == []
    with pytest.raises(HookNotFoundError):
        resume_hook("x" * 3000, {"ok": True})  # answered without asking storage
