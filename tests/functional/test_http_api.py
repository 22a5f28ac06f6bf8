"""The HTTP API through ``adapter.aws.handler`` with real-shaped API Gateway events."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from adapter.aws import handler
from adapter.testing import LocalRuntime

from . import primitives as p
from . import workflows as wf


def v1_event(
    method: str,
    path: str,
    body: Any = None,
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "127.0.0.1"},
            "accountId": "123456789012",
            "apiId": "1234567890",
        },
        "body": text,
        "isBase64Encoded": False,
    }


def v2_event(
    method: str,
    path: str,
    body: Any = None,
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    if base64_body and text is not None:
        text = base64.b64encode(text.encode()).decode()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": "application/json"},
        "queryStringParameters": query,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "12/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390,
        },
        "body": text,
        "isBase64Encoded": base64_body,
    }


def call(event: dict[str, Any]) -> tuple[int, Any]:
    response = handler(event, None)
    headers = response.get("headers") or {
        k: v[0] for k, v in response.get("multiValueHeaders", {}).items()
    }
    assert headers["Content-Type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture(autouse=True)
def _reset() -> None:
    wf.reset()
    p.reset()


def test_post_runs_answers_the_status_the_run_was_accepted_with(
    rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a second read, which a fast worker could answer with ``running``: the record
    start() wrote (or, for a known idempotency key, found)."""
    body = {"workflow": wf.chain.__adapter_workflow__.name, "args": [2], "idempotencyKey": "k1"}
    reads: list[str] = []
    get_record = type(rt.runtime).get_record

    def counted(self: Any, run_id: str) -> Any:
        reads.append(run_id)
        return get_record(self, run_id)

    monkeypatch.setattr(type(rt.runtime), "get_record", counted)
    status, first = call(v2_event("POST", "/runs", body))
    assert status == 202 and first["status"] == "pending" and reads == []
    rt.drain()
    reads.clear()
    status, again = call(v2_event("POST", "/runs", body))
    assert status == 202 and again == {"runId": first["runId"], "status": "completed"}
    assert reads == []


@pytest.mark.parametrize("make", [v1_event, v2_event], ids=["rest-v1", "http-v2"])
def test_start_read_list_events_cancel_and_hooks(rt: LocalRuntime, make: Any) -> None:
    status, body = call(
        make("POST", "/runs", {"workflow": wf.chain.__adapter_workflow__.name, "args": [2]})
    )
    assert status == 202 and body["status"] == "pending"
    run_id = body["runId"]
    rt.drain()
    status, run = call(make("GET", f"/runs/{run_id}"))
    assert status == 200
    assert run["runId"] == run_id and run["status"] == "completed" and run["output"] == 10
    assert run["deploymentId"] == "1" and run["createdAt"] and run["completedAt"]

    status, listed = call(make("GET", "/runs", query={"status": "completed", "limit": "5"}))
    assert status == 200 and [r["runId"] for r in listed["runs"]] == [run_id]

    status, events = call(make("GET", f"/runs/{run_id}/events"))
    assert status == 200
    assert [e["seq"] for e in events["events"]] == list(range(1, len(events["events"]) + 1))
    assert events["events"][-1]["type"] == "run_completed"

    status, body = call(
        make(
            "POST",
            "/runs",
            {
                "workflow": p.collects_three.__adapter_workflow__.name,
                "kwargs": {"token": "api-hook"},
            },
        )
    )
    hooked = body["runId"]
    rt.drain()
    for i in range(3):
        status, resumed = call(make("POST", "/hooks/api-hook", {"n": i}))
        assert status == 202 and resumed == {"runId": hooked}
    rt.drain()
    assert call(make("GET", f"/runs/{hooked}"))[1]["output"] == [{"n": 0}, {"n": 1}, {"n": 2}]

    status, body = call(
        make("POST", "/runs", {"workflow": p.sleeps_a_day.__adapter_workflow__.name})
    )
    sleeping = body["runId"]
    rt.drain(skip_time=False)
    status, cancelled = call(make("POST", f"/runs/{sleeping}/cancel"))
    assert status == 202 and cancelled["status"] == "cancelled"
    assert call(make("GET", f"/runs/{sleeping}"))[1]["status"] == "cancelled"


@pytest.mark.parametrize("make", [v1_event, v2_event], ids=["rest-v1", "http-v2"])
@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("POST", "/runs", {"raw_body": "{not json"}, 400, "invalid_json"),
        ("POST", "/runs", {"body": {"args": [1]}}, 400, "invalid_request"),
        ("POST", "/runs", {"body": ["a", "list"]}, 400, "invalid_request"),
        ("POST", "/runs", {"body": {"workflow": "w", "surprise": 1}}, 400, "invalid_request"),
        ("POST", "/runs", {"body": {"workflow": "no.such.workflow"}}, 404, "workflow_not_found"),
        (
            "POST",
            "/runs",
            {"body": {"workflow": "tests.functional.workflows.chain", "deploymentId": "v9"}},
            400,
            "unknown_deployment",
        ),
        (
            "POST",
            "/runs",
            {"raw_body": json.dumps({"workflow": "x", "args": ["y" * 300_000]})},
            413,
            "payload_too_large",
        ),
        ("GET", "/runs/wrun_nope", {}, 404, "run_not_found"),
        ("GET", "/runs/wrun_nope/events", {}, 404, "run_not_found"),
        ("POST", "/runs/wrun_nope/cancel", {}, 404, "run_not_found"),
        ("POST", "/hooks/no-such-token", {"body": {}}, 404, "hook_not_found"),
        ("GET", "/runs", {"query": {"status": "sleepy"}}, 400, "invalid_request"),
        ("GET", "/runs", {"query": {"limit": "many"}}, 400, "invalid_request"),
        ("GET", "/nowhere", {}, 404, "not_found"),
    ],
)
def test_bad_input_gets_the_pinned_4xx_shape(
    rt: LocalRuntime,
    make: Any,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    code: str,
) -> None:
    got_status, body = call(make(method, path, **kwargs))
    assert got_status == status
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert "Traceback" not in body["error"]["message"]


def test_base64_bodies_are_decoded(rt: LocalRuntime) -> None:
    event = v2_event(
        "POST",
        "/runs",
        {"workflow": wf.chain.__adapter_workflow__.name, "args": [1]},
        base64_body=True,
    )
    status, body = call(event)
    assert status == 202 and body["runId"].startswith("wrun_")


def test_idempotency_key_over_http(rt: LocalRuntime) -> None:
    body = {"workflow": wf.chain.__adapter_workflow__.name, "args": [1], "idempotencyKey": "k-1"}
    first = call(v2_event("POST", "/runs", body))[1]["runId"]
    second = call(v2_event("POST", "/runs", body))[1]["runId"]
    assert first == second


def test_a_malformed_api_event_is_a_400_not_a_crash(rt: LocalRuntime) -> None:
    event = v1_event("GET", "/runs")
    event["headers"] = "not-a-dict"
    response = handler(event, None)
    assert response["statusCode"] == 400
