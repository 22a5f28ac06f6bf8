"""``adapter.aws.handler`` fed SQS events directly, as Lambda's event-source mapping
would, on resources made by ``create_resources`` (no LocalRuntime)."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

import adapter
from adapter.aws import UnsupportedEventError, handler
from adapter.runtime import env_runtime, reset_env_runtime
from adapter.world.aws import create_resources

from . import workflows as wf
from .conftest import assert_log_invariants

EVENTS = Path(__file__).parent.parent / "events"


class EventSourceMapping:
    """Polls both queues and invokes the handler with Lambda-shaped batches."""

    def __init__(self, env: dict[str, str]) -> None:
        self.sqs = boto3.client("sqs")
        self.queues = {
            url: f"arn:aws:sqs:us-east-1:123456789012:{url.rsplit('/', 1)[1]}"
            for url in (env["ADAPTER_WORKFLOW_QUEUE_URL"], env["ADAPTER_STEP_QUEUE_URL"])
        }
        self.responses: list[dict[str, Any]] = []

    def receive(self, url: str) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
        )
        return answer.get("Messages", [])

    def event_for(self, url: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m["Attributes"],
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queues[url],
                    "awsRegion": "us-east-1",
                }
                for m in messages
            ]
        }

    def invoke(self, url: str, messages: list[dict[str, Any]]) -> None:
        response = handler(self.event_for(url, messages), None)
        self.responses.append(response)
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    def run_until_idle(self, duplicate_first: bool = False) -> int:
        invocations = 0
        while True:
            busy = False
            for url in self.queues:
                messages = self.receive(url)
                if messages:
                    busy = True
                    if duplicate_first and invocations == 0:
                        messages = [*messages, copy.deepcopy(messages[0])]
                    self.invoke(url, messages)
                    invocations += 1
            if not busy:
                return invocations


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for key in list(os.environ):
        if key.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        env = create_resources("handler-test")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_env_runtime()
        wf.reset()
        yield env
    reset_env_runtime()


def test_sqs_events_advance_a_run_to_completion(aws: dict[str, str]) -> None:
    run = adapter.start(wf.chain, args=[3])
    assert run.status == "pending"
    esm = EventSourceMapping(aws)
    # One workflow turn (from start), then each step invocation records its result and
    # the workflow's next decision together: no workflow-queue round trip per step.
    assert esm.run_until_idle() == 4
    assert run.status == "completed"
    assert run.return_value == 14
    assert run.deployment_id == "$LATEST"
    assert all(r == {"batchItemFailures": []} for r in esm.responses)


def test_a_duplicated_message_duplicates_no_event(aws: dict[str, str]) -> None:
    run = adapter.start(wf.chain, args=[4])
    esm = EventSourceMapping(aws)
    esm.run_until_idle(duplicate_first=True)
    assert run.return_value == 18
    _, events = env_runtime().history(run.run_id)
    assert_log_invariants(events)
    assert [e.type for e in events].count("run_started") == 1
    assert wf.calls == {"double:4": 1, "increment:8": 1, "double:9": 1}


def test_a_duplicated_step_message_runs_the_step_once(aws: dict[str, str]) -> None:
    run = adapter.start(wf.chain, args=[1])
    esm = EventSourceMapping(aws)
    (workflow_url, step_url) = list(esm.queues)
    esm.invoke(workflow_url, esm.receive(workflow_url))
    step_messages = esm.receive(step_url)
    assert len(step_messages) == 1
    esm.invoke(step_url, [*step_messages, copy.deepcopy(step_messages[0])])
    esm.run_until_idle()
    assert run.return_value == 6
    assert wf.calls["double:1"] == 1
    _, events = env_runtime().history(run.run_id)
    assert_log_invariants(events)


def test_partial_batch_failure_reports_only_the_bad_record(aws: dict[str, str]) -> None:
    run = adapter.start(wf.chain, args=[2])
    esm = EventSourceMapping(aws)
    workflow_url = aws["ADAPTER_WORKFLOW_QUEUE_URL"]
    messages = esm.receive(workflow_url)
    bad = copy.deepcopy(messages[0])
    bad["MessageId"] = "not-ours"
    bad["Body"] = json.dumps({"kind": "teleport", "run_id": run.run_id})
    response = handler(esm.event_for(workflow_url, [bad, *messages]), None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "not-ours"}]}
    assert [e.type for e in env_runtime().history(run.run_id)[1]][:3] == [
        "run_created",
        "run_started",
        "step_created",
    ]


def test_a_message_for_an_unknown_run_is_acknowledged_without_writes(aws: dict[str, str]) -> None:
    event = json.loads((EVENTS / "sqs_workflow_message.json").read_text())
    assert handler(event, None) == {"batchItemFailures": []}
    assert adapter.list_runs() == []


def test_other_events_are_refused_clearly(aws: dict[str, str]) -> None:
    with pytest.raises(UnsupportedEventError, match="SQS"):
        handler({"hello": "world"}, None)


def test_each_invocation_emits_cloudwatch_metrics(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "handler-test-workflows")  # in Lambda
    run = adapter.start(wf.chain, args=[3])
    EventSourceMapping(aws).run_until_idle()
    assert run.return_value == 14
    documents = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and "_aws" in line
    ]
    totals: dict[str, float] = {}
    for doc in documents:
        for metric in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = doc[metric["Name"]]
            totals[metric["Name"]] = totals.get(metric["Name"], 0) + (
                sum(value) if isinstance(value, list) else value
            )
    assert totals == {"RunsStarted": 1, "StepAttempts": 3, "StepsCompleted": 3, "RunsCompleted": 1}
