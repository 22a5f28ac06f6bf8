"""Fuzzing the HTTP API: thousands of hypothesis-made requests, built from the OpenAPI
document's routes and parameters and salted with hostile input (lone surrogates, huge
integers, deep nesting, bytes that are not UTF-8, odd paths, queries and headers), sent
through ``adapter.aws.handler`` as API Gateway REST (v1) and HTTP (v2) events inside a
``LocalRuntime``. No answer is a 5xx; every 4xx has the pinned error shape.

The examples are derandomized (the same requests every run); ``REQUESTS`` is the count
the README's bad-input table quotes.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter import start
from adapter.aws import handler, openapi_document
from adapter.testing import LocalRuntime

from . import primitives as p
from . import workflows as wf
from .test_http_api import v1_event, v2_event

REQUESTS = 3000

WORDS = [
    "",
    " ",
    "\ud800",
    "\udfff",
    "a\x00b",
    "\x7f",
    "../../etc/passwd",
    "..",
    "%",
    "%00",
    "%ZZ",
    "%2F",
    "%ud800",
    "🙂" * 50,
    "x" * 5000,
    "1" * 5000,
    "-1",
    "0",
    "1001",
    "1e999",
    "NaN",
    "null",
    "true",
    "[]",
    "{}",
    "<script>alert(1)</script>",
    "' OR '1'='1",
    "wrun_" + "0" * 26,
    "stuck",
    "pending",
    "2030-01-01T00:00:00Z",
    "2030-01-01T00:00:00",
    "2030-13-45T99:99:99Z",
    "bm90IGEgY3Vyc29y",
    "MjAzMC0wMS0wMVQwMDowMDowMCswMDowMCN3cnVu",
]

hostile_text = st.one_of(
    st.sampled_from(WORDS),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),  # surrogates too
    st.text(max_size=300),
)

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)
    ),
    max_leaves=20,
)

raw_json = st.one_of(
    st.sampled_from(
        [
            "1" * 5000,  # over Python's 4300-digit limit
            "-" + "9" * 4301,
            "[" * 100_000 + "]" * 100_000,  # deeper than any recursion limit
            '{"a":' * 5000 + "1" + "}" * 5000,
            '"\\ud800"',
            '{"workflow": "\\udfff"}',
            '{"workflow": "x", "args": ["\\ud800"]}',
            '{"workflow": "x", "args": [' + "1" * 5000 + "]}",
            "1e999999",
            "NaN",
            "{",
            "[1,",
            "",
            " ",
            "\x00",
        ]
    ),
    st.text(max_size=200),
)


def _quote(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _json_text(value: Any) -> str:
    return json.dumps(value)  # lone surrogates come out as \\udXXX escapes


@st.composite
def bodies(draw: st.DrawFn, workflows: list[str]) -> tuple[str | None, bool]:
    """A body (text, and whether it is base64) for any route."""
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return None, False
    if kind == 1:
        return draw(raw_json), False
    if kind == 2:  # bytes that are not UTF-8 (or are), base64-encoded as API Gateway does
        raw = draw(st.binary(max_size=64)) + draw(st.sampled_from([b"\xff", b"\xc3", b"\x80"]))
        return base64.b64encode(raw).decode(), True
    if kind == 3:  # not base64 at all, but flagged so
        return draw(st.sampled_from(["%%%", "a", "====", "\ud800"])), True
    if kind == 4:  # a start request, valid or nearly so
        body: dict[str, Any] = {"workflow": draw(st.sampled_from(workflows) | hostile_text)}
        if draw(st.booleans()):
            body["args"] = draw(st.lists(json_value, max_size=3) | json_value)
        if draw(st.booleans()):
            body["kwargs"] = draw(st.dictionaries(hostile_text, json_value, max_size=3))
        for key in ("deploymentId", "idempotencyKey", "correlationId", "limit"):
            if draw(st.integers(0, 4)) == 0:
                body[key] = draw(json_value)
        return _json_text(body), False
    return _json_text(draw(json_value)), False


@st.composite
def requests(draw: st.DrawFn, known: dict[str, list[str]]) -> dict[str, Any]:
    """One API Gateway event: a route of the document (or none), filled in."""
    document = openapi_document()
    routes = [
        (path, method.upper(), op)
        for path, item in document["paths"].items()
        for method, op in item.items()
    ]
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]))
        path = "/" + "/".join(draw(st.lists(hostile_text, max_size=4)))
        operation: dict[str, Any] = {}
    else:
        template, method, operation = draw(st.sampled_from(routes))
        if draw(st.integers(0, 9)) == 0:
            method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"]))

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            value = draw(st.sampled_from(known.get(name, ["x"])) | hostile_text)
            return _quote(value) if draw(st.booleans()) else value

        path = re.sub(r"\{(\w+)\}", fill, template)
    query: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and draw(st.booleans()):
            name = parameter["name"]
            query[name] = draw(st.sampled_from(known.get(name, ["1"])) | hostile_text)
    if draw(st.integers(0, 4)) == 0:
        query.update(draw(st.dictionaries(hostile_text, hostile_text, max_size=3)))
    headers = {
        "content-type": draw(
            st.sampled_from(
                [
                    "application/json",
                    "application/json; charset=utf-8",
                    "",
                    "text/plain",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data",
                    "multipart/form-data; boundary=x",
                ]
            )
            | hostile_text
        )
    }
    if draw(st.integers(0, 3)) == 0:
        headers["idempotency-key"] = draw(hostile_text)
    if draw(st.integers(0, 4)) == 0:
        headers.update(draw(st.dictionaries(hostile_text, hostile_text, max_size=3)))
    body, is_base64 = draw(bodies(known["workflow"]))
    request_id = draw(st.sampled_from(["req-1", "req-2"]) | hostile_text)
    event = draw(st.sampled_from([v1_event, v2_event]))(method, path, query=query or None)
    # What the fuzz chose, over what the helpers fill in for a well-behaved request.
    event["headers"] = headers
    if "multiValueHeaders" in event:
        event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    event["body"] = body
    event["isBase64Encoded"] = is_base64
    event["requestContext"]["requestId"] = request_id
    return event


@dataclass
class Fuzzed:
    """What the requests got: counts by status, and each bad answer with its request."""

    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[tuple[str, str]] = field(default_factory=list)
    """``(decoding hazard of the body or "", request summary)`` of every 5xx."""
    bad_shapes: list[str] = field(default_factory=list)


def body_hazard(event: dict[str, Any]) -> str:
    """Which body-decoding hazard the request's body carries ("" for none), named in a
    failure's summary: each is answered 400 (adapter/aws/_api_support.py, core/serde.py)."""
    body = event.get("body")
    if not isinstance(body, str):
        return ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body.encode("ascii"), validate=True).decode("utf-8")
        except ValueError:  # not base64, or not UTF-8 once decoded
            return "bad-base64-or-utf8"
    if re.search(r"\d{4301}", body):
        return "huge-int"
    if max(body.count("["), body.count("{")) > 500:
        return "deep"
    if re.search(r"\\ud[89a-f]", body, re.IGNORECASE) or re.search("[\ud800-\udfff]", body):
        return "surrogate"
    return ""


def _summary(event: dict[str, Any], response: dict[str, Any]) -> str:
    method = event.get("httpMethod") or event["requestContext"]["http"]["method"]
    path = event.get("path") or event.get("rawPath")
    body = event.get("body")
    query = event.get("queryStringParameters")
    return (
        f"{method} {path!r:.80} query={query!r:.80} headers={event.get('headers')!r:.120} "
        f"body={body!r:.80} -> {response['statusCode']} {response.get('body')!r:.200}"
    )


def _send(event: dict[str, Any], fuzzed: Fuzzed) -> None:
    response = handler(event, None)
    status = response["statusCode"]
    fuzzed.statuses[status] += 1
    if status >= 500:
        fuzzed.server_errors.append((body_hazard(event), _summary(event, response)))
        return
    if status >= 400:
        try:
            body = json.loads(response["body"])
            shaped = (
                set(body) == {"error"}
                and set(body["error"]) == {"code", "message"}
                and all(isinstance(v, str) and v for v in body["error"].values())
                and "Traceback" not in body["error"]["message"]
            )
        except (TypeError, ValueError):
            shaped = False
        if not shaped:
            fuzzed.bad_shapes.append(_summary(event, response))


@pytest.fixture(scope="module")
def fuzzed() -> Fuzzed:
    """``REQUESTS`` requests, sent once for the tests below."""
    wf.reset()
    p.reset()
    result = Fuzzed()
    with LocalRuntime() as rt:
        waiting = start(p.waits_for_webhook)
        hooked = start(p.collects_three, args=["fuzz-token"])
        done = start(wf.chain, args=[1])
        rt.drain(skip_time=False)
        token = next(e.data.token for e in rt.events(waiting.run_id) if e.type == "hook_created")
        known = {
            "runId": [waiting.run_id, hooked.run_id, done.run_id],
            "token": [token, "fuzz-token"],
            "workflow": [
                wf.chain.__adapter_workflow__.name,
                p.sleeps_a_day.__adapter_workflow__.name,
            ],
            "status": ["pending", "running", "completed", "stuck"],
            "limit": ["1", "1000", "5"],
        }

        # Failures are collected, not raised: every bad input is listed at once, and
        # hypothesis spends no time shrinking.
        @settings(
            max_examples=REQUESTS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(requests(known))
        def one_request(event: dict[str, Any]) -> None:
            _send(event, result)

        one_request()
    return result


def test_thousands_of_requests_were_sent_good_and_bad(fuzzed: Fuzzed) -> None:
    assert fuzzed.statuses.total() >= REQUESTS
    assert sum(n for s, n in fuzzed.statuses.items() if 400 <= s < 500) > REQUESTS // 4
    assert sum(n for s, n in fuzzed.statuses.items() if s < 300) > 50  # good ones got through


def test_every_4xx_has_the_pinned_error_shape(fuzzed: Fuzzed) -> None:
    assert fuzzed.bad_shapes == []


def test_no_answer_is_a_5xx(fuzzed: Fuzzed) -> None:
    assert fuzzed.server_errors == []
