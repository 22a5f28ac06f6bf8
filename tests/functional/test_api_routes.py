"""The routes of issues 17 and 19 through ``adapter.aws.handler``: webhooks (public, only
``create_webhook()`` hooks, repeated deliveries recorded once), the timeline, wake, retry,
redrive, run listing pages, and the OpenAPI document every answer conforms to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from adapter import start
from adapter.testing import LocalRuntime

from . import primitives as p
from . import workflows as wf
from .test_http_api import call, v1_event, v2_event

MAKERS = pytest.mark.parametrize("make", [v1_event, v2_event], ids=["rest-v1", "http-v2"])


@pytest.fixture(autouse=True)
def _reset() -> None:
    wf.reset()
    p.reset()


def with_headers(event: dict[str, Any], **headers: str) -> dict[str, Any]:
    event["headers"] = {**event["headers"], **headers}
    if "multiValueHeaders" in event:
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    return event


def with_request_id(event: dict[str, Any], request_id: str) -> dict[str, Any]:
    event["requestContext"]["requestId"] = request_id
    return event


def hook_token(rt: LocalRuntime, run_id: str) -> str:
    return next(e.data.token for e in rt.events(run_id) if e.type == "hook_created")


def received(rt: LocalRuntime, run_id: str) -> int:
    return sum(e.type == "hook_received" for e in rt.events(run_id))


# --- webhooks -----------------------------------------------------------------------------


@MAKERS
def test_a_webhook_is_resumed_through_the_public_route(rt: LocalRuntime, make: Any) -> None:
    run = start(p.waits_for_webhook)
    rt.drain(skip_time=False)
    token = hook_token(rt, run.run_id)
    assert p.calls[f"/webhooks/{token}"] == 1  # Webhook.url names the public route
    status, body = call(make("POST", f"/webhooks/{token}", {"approved": True}))
    assert (status, body) == (202, {"runId": run.run_id})
    assert run.return_value == {"approved": True}


@MAKERS
@pytest.mark.parametrize("kind", ["create_hook", "chosen-token webhook"])
def test_the_public_route_refuses_every_other_hook(rt: LocalRuntime, make: Any, kind: str) -> None:
    if kind == "create_hook":
        run = start(p.collects_three, args=["plain-token"])
    else:
        run = start(p.waits_for_named_webhook, args=["chosen-token"])
    rt.drain(skip_time=False)
    token = hook_token(rt, run.run_id)
    before = rt.events(run.run_id)
    status, body = call(make("POST", f"/webhooks/{token}", {"x": 1}))
    assert status == 404 and body["error"]["code"] == "hook_not_found"
    assert rt.events(run.run_id) == before  # nothing recorded
    # The same message as for a token nobody holds: the route tells nothing apart.
    unknown = call(make("POST", "/webhooks/nobody-holds-this", {"x": 1}))[1]
    assert body["error"]["message"].replace(token, "T") == unknown["error"]["message"].replace(
        "nobody-holds-this", "T"
    )
    # The IAM-authenticated route resumes any hook.
    assert call(make("POST", f"/hooks/{token}", {"x": 1})) == (202, {"runId": run.run_id})
    assert received(rt, run.run_id) == 1


def test_a_chosen_token_webhook_url_is_the_iam_route(rt: LocalRuntime) -> None:
    run = start(p.waits_for_named_webhook, args=["order/1 ?&"])
    rt.drain(skip_time=False)
    assert p.calls["/hooks/order%2F1%20%3F%26"] == 1  # percent-encoded
    timeline = call(v2_event("GET", f"/runs/{run.run_id}/timeline"))[1]
    assert [h["webhook"] for h in timeline["hooks"]] == [False]


@MAKERS
def test_a_repeated_idempotency_key_is_recorded_once(rt: LocalRuntime, make: Any) -> None:
    run = start(p.collects_three, args=["tok"])
    rt.drain(skip_time=False)
    for request_id in ("first", "second"):  # a new request id: only the key is the same
        event = with_request_id(
            with_headers(make("POST", "/hooks/tok", {"n": 1}), **{"Idempotency-Key": "k1"}),
            request_id,
        )
        assert call(event) == (202, {"runId": run.run_id})
    assert received(rt, run.run_id) == 1
    other = with_headers(make("POST", "/hooks/tok", {"n": 2}), **{"Idempotency-Key": "k2"})
    assert call(other) == (202, {"runId": run.run_id})
    assert received(rt, run.run_id) == 2


@MAKERS
def test_a_repeated_webhook_request_is_recorded_once(rt: LocalRuntime, make: Any) -> None:
    """By its API Gateway request id when it has no Idempotency-Key; answered with the
    same run id even after the payload ended the run and disposed of the hook."""
    run = start(p.waits_for_webhook)
    rt.drain(skip_time=False)
    token = hook_token(rt, run.run_id)
    event = with_request_id(make("POST", f"/webhooks/{token}", {"ok": 1}), "req-1")
    assert call(event) == (202, {"runId": run.run_id})
    assert run.return_value == {"ok": 1}  # the hook is disposed now
    again = with_request_id(make("POST", f"/webhooks/{token}", {"ok": 1}), "req-1")
    assert call(again) == (202, {"runId": run.run_id})
    assert received(rt, run.run_id) == 1
    other = with_request_id(make("POST", f"/webhooks/{token}", {"ok": 2}), "req-2")
    assert call(other)[1]["error"]["code"] == "hook_not_found"


def test_deliveries_with_different_keys_are_each_recorded(rt: LocalRuntime) -> None:
    run = start(p.collects_three, args=["three"])
    rt.drain(skip_time=False)
    for n in range(3):
        event = with_headers(
            v2_event("POST", "/hooks/three", {"n": n}), **{"idempotency-key": str(n)}
        )
        assert call(event)[0] == 202
    assert run.return_value == [{"n": 0}, {"n": 1}, {"n": 2}]


# --- timeline, wake, retry, redrive ----------------------------------------------------------


@MAKERS
def test_timeline_wake_retry_and_redrive(rt: LocalRuntime, make: Any) -> None:
    run = start(p.sleeps_a_day)
    rt.drain(skip_time=False)
    status, timeline = call(make("GET", f"/runs/{run.run_id}/timeline"))
    assert status == 200 and timeline["runId"] == run.run_id
    (wait,) = timeline["waits"]
    assert wait["completedAt"] is None
    status, woke = call(make("POST", f"/runs/{run.run_id}/wake"))
    assert (status, woke) == (202, {"runId": run.run_id, "woken": [wait["correlationId"]]})
    assert call(make("POST", f"/runs/{run.run_id}/wake"))[1]["woken"] == []
    rt.drain(skip_time=False)
    assert run.status == "completed"
    status, refused = call(make("POST", f"/runs/{run.run_id}/retry"))
    assert status == 409 and refused["error"]["code"] == "not_retryable"
    assert call(make("POST", "/redrive")) == (202, {"workflow": 0, "step": 0})
    assert call(make("POST", "/redrive", {"limit": 5})) == (202, {"workflow": 0, "step": 0})


def test_wake_names_one_sleep_and_retry_resumes_a_stuck_run(rt: LocalRuntime) -> None:
    run = start(p.sleeps_a_day)
    rt.drain(skip_time=False)
    body = {"correlationId": "wait_99"}
    assert call(v2_event("POST", f"/runs/{run.run_id}/wake", body))[1]["woken"] == []
    rt.runtime.mark_stuck(run.run_id, "its messages kept failing")
    assert call(v2_event("GET", "/runs", query={"status": "stuck"}))[1]["runs"][0]["runId"] == (
        run.run_id
    )
    status, retried = call(v2_event("POST", f"/runs/{run.run_id}/retry"))
    assert (status, retried) == (202, {"runId": run.run_id, "retried": "resumed"})
    assert call(v2_event("GET", "/runs", query={"status": "stuck"}))[1]["runs"] == []


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("GET", "/runs/wrun_nope/timeline", {}, 404, "run_not_found"),
        ("POST", "/runs/wrun_nope/wake", {}, 404, "run_not_found"),
        ("POST", "/runs/wrun_nope/retry", {}, 404, "run_not_found"),
        ("POST", "/runs/wrun_nope/wake", {"body": {"sleep": "x"}}, 400, "invalid_request"),
        ("POST", "/redrive", {"body": {"limit": 0}}, 400, "invalid_request"),
        ("POST", "/redrive", {"raw_body": "{"}, 400, "invalid_json"),
        ("GET", "/runs", {"query": {"cursor": "bm90IGEgY3Vyc29y"}}, 400, "invalid_cursor"),
        ("GET", "/runs", {"query": {"cursor": "%%%"}}, 400, "invalid_cursor"),
        ("GET", "/runs", {"query": {"since": "yesterday"}}, 400, "invalid_request"),
        ("GET", "/runs", {"query": {"until": "2030-01-01T00:00:00"}}, 400, "invalid_request"),
        (
            "GET",
            "/runs",
            {"query": {"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"}},
            400,
            "invalid_request",
        ),
        ("GET", "/runs", {"query": {"limit": "1001"}}, 400, "invalid_request"),
        ("GET", "/runs", {"query": {"limit": "0"}}, 400, "invalid_request"),
        ("POST", "/webhooks/x", {"raw_body": "[1,"}, 400, "invalid_json"),
    ],
)
def test_bad_input_to_the_new_routes(
    rt: LocalRuntime, method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    got, body = call(v2_event(method, path, **kwargs))
    assert (got, body["error"]["code"]) == (status, code)
    assert set(body["error"]) == {"code", "message"}


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "application/x-www-form-urlencoded", "text/plain", "application/xml"],
)
def test_bodies_declared_as_anything_but_json_are_415(rt: LocalRuntime, content_type: str) -> None:
    for body in (None, {"a": 1}):  # also without a body: the type alone is refused
        event = with_headers(
            v2_event("POST", "/webhooks/x", body), **{"content-type": content_type}
        )
        status, answer = call(event)
        assert (status, answer["error"]["code"]) == (415, "unsupported_media_type")


# --- listing pages -------------------------------------------------------------------------


def test_get_runs_pages_with_a_cursor_and_a_created_range(rt: LocalRuntime) -> None:
    first_at = rt.now()
    runs = []
    for n in range(7):
        runs.append(start(wf.child, args=[n]))
        rt.advance("1s")
    newest_first = [r.run_id for r in reversed(runs)]
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        status, page = call(v2_event("GET", "/runs", query=query))
        assert status == 200 and len(page["runs"]) <= 3
        seen += [r["runId"] for r in page["runs"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == newest_first
    since = (first_at + timedelta(seconds=2)).isoformat().replace("+00:00", "Z")
    until = (first_at + timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    ranged = call(v2_event("GET", "/runs", query={"since": since, "until": until}))[1]
    assert [r["runId"] for r in ranged["runs"]] == [r.run_id for r in reversed(runs[2:5])]


def test_paging_reads_each_run_about_once(
    rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each page starts at its cursor: paging through n runs reads O(n) index items,
    not the O(n^2) of listing from the newest run again for every page."""
    for n in range(40):
        start(wf.child, args=[n])
    ddb = rt.runtime.world._ddb  # type: ignore[attr-defined]
    read = 0
    query = ddb.query

    def counted(**params: Any) -> Any:
        nonlocal read
        answer = query(**params)
        if params.get("IndexName"):
            read += len(answer.get("Items", []))
        return answer

    monkeypatch.setattr(ddb, "query", counted)
    cursor, pages = None, 0
    while True:
        query_string = {"limit": "4", **({"cursor": cursor} if cursor else {})}
        page = call(v2_event("GET", "/runs", query=query_string))[1]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 10
    # Each page reads its runs, the one after (is there a next page?) and the cursor's.
    assert read <= 40 + 2 * pages


# --- the OpenAPI document -------------------------------------------------------------------


def test_the_openapi_document_is_valid_and_names_every_route(rt: LocalRuntime) -> None:
    status, document = call(v2_event("GET", "/openapi.json"))
    assert status == 200
    validate(document)  # openapi-spec-validator: a valid OpenAPI 3.1 document
    routes = {
        f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item
    }
    assert {
        "POST /webhooks/{token}",
        "GET /runs/{runId}/timeline",
        "POST /runs/{runId}/wake",
        "POST /runs/{runId}/retry",
        "POST /redrive",
        "GET /openapi.json",
    } <= routes
    for item in document["paths"].values():
        for operation in item.values():
            assert "422" not in operation["responses"]  # ours are 400s


def test_every_answer_conforms_to_the_document(rt: LocalRuntime) -> None:
    document = call(v2_event("GET", "/openapi.json"))[1]
    run = start(p.waits_for_webhook)
    rt.drain(skip_time=False)
    token = hook_token(rt, run.run_id)
    child = start(wf.child, args=[1])
    requests = [
        ("POST", "/runs", "/runs", {"workflow": wf.chain.__adapter_workflow__.name, "args": [1]}),
        ("GET", "/runs", "/runs", None),
        ("GET", f"/runs/{run.run_id}", "/runs/{runId}", None),
        ("GET", f"/runs/{run.run_id}/events", "/runs/{runId}/events", None),
        ("GET", f"/runs/{run.run_id}/timeline", "/runs/{runId}/timeline", None),
        ("GET", f"/runs/{run.run_id}/children", "/runs/{runId}/children", None),
        ("POST", f"/runs/{run.run_id}/wake", "/runs/{runId}/wake", None),
        ("POST", f"/webhooks/{token}", "/webhooks/{token}", {"ok": True}),
        ("POST", f"/runs/{child.run_id}/cancel", "/runs/{runId}/cancel", None),
        ("POST", f"/runs/{child.run_id}/retry", "/runs/{runId}/retry", None),
        ("POST", "/redrive", "/redrive", None),
        ("GET", "/runs/wrun_nope", "/runs/{runId}", None),
    ]
    for method, path, template, body in requests:
        status, answer = call(v2_event(method, path, body))
        documented = document["paths"][template][method.lower()]["responses"][str(status)]
        schema = documented["content"]["application/json"]["schema"]
        OAS31Validator({**schema, "components": document["components"]}).validate(answer)
