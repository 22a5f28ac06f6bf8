"""The pieces of ``adapter dev`` in-process: module resolution, the API Gateway bridge,
the worker and the state snapshot."""

from __future__ import annotations

import base64
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from adapter import get_run, start
from adapter.aws import process_sqs_event
from adapter.dev import (
    DEFAULT_MODULES,
    ApiServer,
    DevStackError,
    ModuleLoadError,
    StateStore,
    Worker,
    api_gateway_event,
    find_dev_file,
    import_modules,
    module_name_for,
    resolve_modules,
)
from adapter.dev._state import _decode_attr, _encode_attr
from adapter.testing import LocalRuntime
from samples.onboarding import onboard_user

from . import workflows as wf


def test_modules_from_arguments_pyproject_or_samples(tmp_path: Path) -> None:
    assert resolve_modules(["a.b", "c"], tmp_path) == ["a.b", "c"]
    assert resolve_modules(None, tmp_path) == list(DEFAULT_MODULES)

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert resolve_modules([], tmp_path) == list(DEFAULT_MODULES)

    (tmp_path / "pyproject.toml").write_text(
        '[tool.adapter]\nmodules = ["app.flows", "app.more"]\n'
    )
    assert resolve_modules(None, tmp_path) == ["app.flows", "app.more"]
    assert resolve_modules(["only.this"], tmp_path) == ["only.this"]

    (tmp_path / "pyproject.toml").write_text('[tool.adapter]\nmodules = "app.flows"\n')
    with pytest.raises(DevStackError, match="must be a list of module names"):
        resolve_modules(None, tmp_path)


def test_file_paths_get_their_module_name_suggested(tmp_path: Path) -> None:
    assert module_name_for("myapp/orders.py") == "myapp.orders"
    assert module_name_for("./myapp/orders.py") == "myapp.orders"
    assert module_name_for("myapp/__init__.py") == "myapp"
    assert module_name_for(str(tmp_path / "pkg" / "flows.py"), tmp_path) == "pkg.flows"
    with pytest.raises(ModuleLoadError, match=r"did you mean `adapter dev myapp\.orders`\?"):
        import_modules(["myapp/orders.py"], tmp_path)


def test_a_module_without_workflows_warns_and_one_that_raises_shows_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plain_module_xyz.py").write_text("VALUE = 1\n")
    (tmp_path / "raising_module_xyz.py").write_text("X = 1\nraise ValueError('bad setting')\n")
    monkeypatch.setattr("sys.path", list(sys.path))
    warnings: list[str] = []
    try:
        import_modules(["plain_module_xyz", "tests.cli.sleepy"], tmp_path, warn=warnings.append)
        assert warnings == [
            "warning: module 'plain_module_xyz' registers no workflow (no @workflow function "
            "in it or in what it imports)"
        ]
        with pytest.raises(ModuleLoadError) as raised:
            import_modules(["raising_module_xyz"], tmp_path)
    finally:
        sys.modules.pop("plain_module_xyz", None)
        sys.modules.pop("raising_module_xyz", None)
    assert "ValueError: bad setting (traceback above)" in str(raised.value)
    details = raised.value.details or ""
    assert 'raising_module_xyz.py", line 2, in <module>' in details
    assert details.rstrip().endswith("ValueError: bad setting")
    assert "importlib" not in details


def test_dev_file_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADAPTER_DEV_FILE", raising=False)
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".adapter-dev.json").write_text("{}")
    assert find_dev_file(tmp_path / "a" / "b") == tmp_path / ".adapter-dev.json"
    monkeypatch.setenv("ADAPTER_DEV_FILE", str(tmp_path / "elsewhere.json"))
    assert find_dev_file(tmp_path) is None
    (tmp_path / "elsewhere.json").write_text("{}")
    assert find_dev_file(tmp_path) == tmp_path / "elsewhere.json"


def test_api_gateway_event_shape() -> None:
    event = api_gateway_event(
        "post",
        "/runs/wrun_1/cancel?limit=5&status=running&tag=a&tag=b",
        [
            ("Content-Type", "application/json"),
            ("X-Thing", "1"),
            ("x-thing", "2"),
            ("Cookie", "a=1; b=2"),
            ("User-Agent", "curl/8"),
        ],
        b'{"x": 1}',
        source_ip="127.0.0.9",
        host="127.0.0.1:8000",
    )
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/runs/wrun_1/cancel"
    assert event["rawQueryString"] == "limit=5&status=running&tag=a&tag=b"
    assert event["queryStringParameters"] == {"limit": "5", "status": "running", "tag": "a,b"}
    assert event["headers"] == {
        "content-type": "application/json",
        "x-thing": "1,2",
        "user-agent": "curl/8",
    }
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["body"] == '{"x": 1}' and event["isBase64Encoded"] is False
    http = event["requestContext"]["http"]
    assert http == {
        "method": "POST",
        "path": "/runs/wrun_1/cancel",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.9",
        "userAgent": "curl/8",
    }
    assert event["requestContext"]["domainName"] == "127.0.0.1:8000"

    binary = api_gateway_event("POST", "/hooks/t", [], b"\xff\x00")
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\xff\x00"
    empty = api_gateway_event("GET", "/runs", [], b"")
    assert "body" not in empty and "queryStringParameters" not in empty


def _http(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, Any, Any]:
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read())


def test_the_http_api_answers_like_api_gateway(rt: LocalRuntime) -> None:
    seen: list[tuple[str, str, int]] = []
    server = ApiServer(0, on_request=lambda m, p, s, _t: seen.append((m, p, s)))
    server.start()
    try:
        body = json.dumps({"workflow": "samples.onboarding.onboard_user", "args": ["h@t.p"]})
        status, headers, answer = _http(f"{server.url}/runs", "POST", body.encode())
        assert status == 202 and answer["status"] == "pending"
        assert headers["Content-Type"] == "application/json"
        rt.drain()
        status, _, run = _http(f"{server.url}/runs/{answer['runId']}")
        assert status == 200 and run["status"] == "completed"
        assert run["output"]["user_id"] == "user_h"
        status, _, listed = _http(f"{server.url}/runs?status=completed&limit=5")
        assert status == 200 and [r["runId"] for r in listed["runs"]] == [answer["runId"]]

        status, _, error = _http(f"{server.url}/runs", "POST", b"{nope")
        assert status == 400 and error["error"]["code"] == "invalid_json"
        status, _, error = _http(f"{server.url}/nowhere")
        assert status == 404 and error["error"]["code"] == "not_found"
        status, _, error = _http(f"{server.url}/hooks/unknown-token", "POST", b"{}")
        assert status == 404 and error["error"]["code"] == "hook_not_found"

        hooked = start(wf.waits_for_approval, args=["via-http"])
        rt.drain()
        status, _, resumed = _http(f"{server.url}/hooks/via-http", "POST", b'{"ok": 1}')
        assert status == 202 and resumed == {"runId": hooked.run_id}
        rt.drain()
        assert hooked.return_value == {"ok": 1}
    finally:
        server.stop()
    assert seen[0] == ("POST", "/runs", 202)
    assert ("GET", "/nowhere", 404) in seen


def test_the_http_api_never_leaks_a_stack_trace() -> None:
    def broken(event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    server = ApiServer(0, api=broken)
    server.start()
    try:
        status, _, body = _http(f"{server.url}/runs")
    finally:
        server.stop()
    assert status == 500
    assert body == {"error": {"code": "internal_error", "message": "internal error; see logs"}}


def _queue_depth(rt: LocalRuntime) -> int:
    return sum(len(queue._messages) for queue in rt._queues())


def test_the_worker_runs_messages_and_deletes_them(rt: LocalRuntime) -> None:
    urls = [rt.env["ADAPTER_WORKFLOW_QUEUE_URL"], rt.env["ADAPTER_STEP_QUEUE_URL"]]
    worker = Worker(urls, process=lambda event: process_sqs_event(event, None, rt.runtime))
    worker.start()
    try:
        run = start(onboard_user, args=["wk@x.y"])
        deadline = time.monotonic() + 30
        while run.status != "completed" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert get_run(run.run_id).status == "completed"
    finally:
        assert worker.stop() == []
    assert worker.processed >= 4  # at least one invocation per step
    assert _queue_depth(rt) == 0


@pytest.mark.parametrize("outcome", ["reported", "crashed"])
def test_the_worker_leaves_failed_messages_for_redelivery(
    rt: LocalRuntime, outcome: str, tmp_path: Path
) -> None:
    def process(event: dict[str, Any]) -> dict[str, Any]:
        if outcome == "crashed":
            raise RuntimeError("the invocation died")
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}

    urls = [rt.env["ADAPTER_WORKFLOW_QUEUE_URL"], rt.env["ADAPTER_STEP_QUEUE_URL"]]
    worker = Worker(urls, process=process)
    worker.start()
    try:
        start(onboard_user, args=["f@x.y"])
        deadline = time.monotonic() + 10
        while worker.processed < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert worker.processed == 1
    assert _queue_depth(rt) == 1  # still there, invisible until its visibility timeout
    [waiting] = worker.redelivering()

    # A snapshot keeps such a message waiting; any other received one was in flight and
    # its invocation died with the process, so it is due at once.
    store = StateStore(tmp_path, prefix=rt.env["ADAPTER_TABLE_NAME"].removesuffix("-runs"))
    store.save(rt.env, redelivering=[waiting])
    [kept] = json.loads(store.path.read_text())["queues"][f"{store.prefix}-workflow"]
    assert kept["due_ms"] > time.time() * 1000 + 30_000  # the 60 s visibility timeout
    store.save(rt.env)
    [due] = json.loads(store.path.read_text())["queues"][f"{store.prefix}-workflow"]
    assert due["due_ms"] <= time.time() * 1000


def test_binary_attributes_survive_the_snapshot_encoding() -> None:
    item = {"PK": {"S": "x"}, "blob": {"B": b"\x00\xff"}, "set": {"BS": [b"a", b"b"]}}
    encoded = _encode_attr(item)
    assert json.loads(json.dumps(encoded)) == encoded
    assert _decode_attr(encoded) == item


def test_state_snapshot_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state", prefix="snap")
    with LocalRuntime(prefix="snap") as first:
        run = start(wf.naps_between_notes)
        first.drain(skip_time=False)  # asleep: a delayed message waits in the queue
        assert run.status == "running"
        counts = store.save(first.env)
        env = dict(first.env)
    assert counts["messages"] == 1 and counts["items"] > 0
    saved = json.loads(store.path.read_text())
    [message] = saved["queues"]["snap-workflow"]
    assert message["due_ms"] > time.time() * 1000  # the sleep's timer, not due yet

    with LocalRuntime(prefix="snap") as second:
        assert second.env == env
        summary = store.restore(second.env)
        assert summary is not None
        assert (summary.runs, summary.messages) == (1, 1)
        assert get_run(run.run_id).status == "running"
        second.drain()
        assert get_run(run.run_id).return_value == ["before", "after"]
        types = [e.type for e in second.events(run.run_id)]
        assert types.count("step_completed") == 2 and types[-1] == "run_completed"

    assert StateStore(tmp_path / "empty").restore(env) is None
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "moto-state.json").write_text("{")
    with pytest.raises(DevStackError, match="cannot read the saved state"):
        StateStore(tmp_path / "bad").restore(env)


def _raw_http(
    port: int, request: bytes, timeout: float = 10.0
) -> tuple[int, dict[str, Any], float]:
    """Send ``request`` as is; return the status, the JSON body and how long it took."""
    import socket

    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):  # the server closes after a refused request
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body), time.monotonic() - began


@pytest.mark.parametrize(
    ("length", "body", "status", "code"),
    [
        ("abc", b"{}", 400, "invalid_content_length"),
        ("-1", b"{}", 400, "invalid_content_length"),
        ("1.5", b"{}", 400, "invalid_content_length"),
        ("200", b'{"workflow": "x"}', 400, "incomplete_body"),
        (str(11 * 1024 * 1024), b"{}", 413, "body_too_large"),
    ],
)
def test_the_http_api_refuses_a_bad_content_length_quickly(
    length: str, body: bytes, status: int, code: str
) -> None:
    calls: list[dict[str, Any]] = []
    server = ApiServer(0, api=lambda event: calls.append(event) or {"statusCode": 202})
    server.start()
    try:
        got, answer, took = _raw_http(
            server.port,
            b"POST /runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {length}\r\n\r\n".encode()
            + body,
        )
    finally:
        server.stop()
    assert (got, answer["error"]["code"]) == (status, code)
    assert set(answer["error"]) == {"code", "message"} and answer["error"]["message"]
    assert took < 8  # no hang: the read times out (READ_TIMEOUT_SECONDS) at worst
    assert calls == []  # nothing reached the handler, so nothing was written


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "text/json"]
)
def test_the_http_api_refuses_writes_that_are_not_json(content_type: str | None) -> None:
    calls: list[dict[str, Any]] = []
    server = ApiServer(0, api=lambda event: calls.append(event) or {"statusCode": 202})
    server.start()
    try:
        headers = f"Content-Type: {content_type}\r\n" if content_type else ""
        got, answer, _ = _raw_http(
            server.port,
            f"POST /runs/wrun_1/cancel HTTP/1.1\r\nHost: x\r\n{headers}"
            "Content-Length: 2\r\n\r\n{}".encode(),
        )
        assert (got, answer["error"]["code"]) == (415, "unsupported_media_type")
        assert calls == []
        # JSON, with parameters, is fine; reads need no content type at all.
        ok, _, _ = _http_with(
            server.url + "/runs/wrun_1/cancel", "POST", b"{}", "application/json; charset=utf-8"
        )
        assert ok == 202
        ok, _, _ = _http_with(server.url + "/runs", "GET", None, None)
        assert ok == 202 and len(calls) == 2
    finally:
        server.stop()


def _http_with(
    url: str, method: str, body: bytes | None, content_type: str | None
) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_verbose_prints_the_traceback_of_every_failed_attempt_and_run() -> None:
    from adapter.dev._runtime import print_failed_attempts

    printed: list[str] = []
    with LocalRuntime() as rt:
        print_failed_attempts(rt.runtime, printed.append)
        retried = start(wf.fetch_with_retries, args=["v"])
        failed = start(wf.declined_payment, args=[7])
        rt.drain()
        assert retried.status == "completed" and failed.status == "failed"
    retries = [p for p in printed if retried.run_id in p]
    assert len(retries) == 2  # two attempts failed, the third succeeded
    for n, text in enumerate(retries, start=1):
        assert text.startswith(f"step tests.cli.workflows.flaky_fetch attempt {n} of ")
        assert "failed; retrying at" in text and f"ConnectionError: flaky attempt {n}" in text
        assert 'raise ConnectionError(f"flaky attempt {attempt}")' in text
    [step, run] = [p for p in printed if failed.run_id in p]
    assert "failed for good: FatalError: card declined for 7" in step
    assert 'raise FatalError(f"card declined for {amount}")' in step
    assert run.startswith(f"run {failed.run_id} failed: FatalError: card declined for 7\n")
    assert "Traceback (most recent call last):" in run and "return await charge(amount)" in run


def test_the_dev_stack_serves_swagger_ui_for_the_openapi_document(rt: LocalRuntime) -> None:
    server = ApiServer(0)
    server.start()
    try:
        with urllib.request.urlopen(f"{server.url}/docs", timeout=10) as answer:
            page = answer.read().decode()
            assert answer.status == 200
            assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
        status, _, document = _http(f"{server.url}/openapi.json")
    finally:
        server.stop()
    assert status == 200 and "/webhooks/{token}" in document["paths"]
    assert "SwaggerUIBundle" in page and "<script src=" not in page  # inlined, offline
    assert '"/runs/{runId}/timeline"' in page  # the document it shows
