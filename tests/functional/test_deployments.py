"""deployment_id: runs pinned to the Lambda version that created them."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adapter import get_run, resume_hook, start
from adapter.aws import handler
from adapter.core.errors import DeploymentNotFoundError
from adapter.runtime import reset_env_runtime
from adapter.testing import LocalRuntime
from adapter.world._lambda import LambdaFunction
from adapter.world.aws import create_resources

from .deployments import v1, v2


@pytest.fixture
def two() -> Iterator[LocalRuntime]:
    with LocalRuntime(registry=v1) as rt:
        rt.deploy("2", v2)
        yield rt


def test_versions_and_aliases_resolve_through_the_lambda_api(two: LocalRuntime) -> None:
    assert start("deploy.greet", args=["a"]).deployment_id == "1"  # `live` -> 1
    assert start("deploy.greet", args=["a"], deployment_id="2").deployment_id == "2"
    assert start("deploy.greet", args=["a"], deployment_id="live").deployment_id == "1"
    assert start("deploy.greet", args=["a"], deployment_id="latest").deployment_id == "2"
    versions = boto3.client("lambda").list_versions_by_function(FunctionName=two.function_name)
    assert {v["Version"] for v in versions["Versions"]} == {"$LATEST", "1", "2"}


def test_each_run_executes_its_own_versions_code(two: LocalRuntime) -> None:
    old = start("deploy.greet", args=["ada"], deployment_id="1")
    new = start("deploy.greet", args=["bob"], deployment_id="2")
    assert old.return_value == "v1: hello ada"
    assert new.return_value == "v2: hello bob"


def test_a_run_started_on_live_stays_on_its_version_after_live_moves() -> None:
    with LocalRuntime(registry=v1) as rt:
        run = start("deploy.paused", args=["pause-1"])
        rt.drain()
        assert run.deployment_id == "1" and run.status == "running"
        rt.deploy("2", v2, aliases=["live"])
        fresh = start("deploy.greet", args=["new"])
        assert fresh.deployment_id == "2"
        resume_hook("pause-1", "go")
        assert run.return_value == "v1: before / v1: after"
        assert fresh.return_value == "v2: hello new"
        # The live alias is version 2 now: run 1's messages reached it and were
        # forwarded to version 1 instead of being replayed with version 2's code.
        assert {m.deployment_id for m in rt.forwarded} == {"1"}
        assert any(m.run_id == run.run_id for m in rt.forwarded)


def test_children_follow_latest_or_the_parents_deployment(two: LocalRuntime) -> None:
    parent = start("deploy.parent", args=["kid"])  # on live = 1
    latest_id, default_id = parent.return_value
    latest, default = get_run(latest_id), get_run(default_id)
    assert (latest.deployment_id, default.deployment_id) == ("2", "1")
    assert latest.return_value == "v2: hello kid"
    assert default.return_value == "v1: hello kid"


@pytest.mark.parametrize("bad", ["no-such-alias", "42"])
def test_unknown_alias_or_version_is_a_clear_error(two: LocalRuntime, bad: str) -> None:
    with pytest.raises(DeploymentNotFoundError, match=bad):
        start("deploy.greet", args=["x"], deployment_id=bad)


def test_deploy_publishes_versions_in_order(two: LocalRuntime) -> None:
    with pytest.raises(ValueError, match="'3'"):
        two.deploy("5", v2)


# --- on AWS: the handler running as one version forwards to another -------------------


@pytest.fixture
def lambda_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for key in list(os.environ):
        if key.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(key)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        env = create_resources("fwd")
        role = boto3.client("iam").create_role(RoleName="fwd", AssumeRolePolicyDocument="{}")[
            "Role"
        ]["Arn"]
        aws_lambda = boto3.client("lambda")
        aws_lambda.create_function(
            FunctionName="fwd-workflows",
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
            Publish=True,
        )
        env["ADAPTER_FUNCTION_NAME"] = "fwd-workflows"
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield env
    reset_env_runtime()


def test_the_lambda_handler_forwards_messages_of_other_versions(
    lambda_stack: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    invoked: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        LambdaFunction,
        "invoke_async",
        lambda self, version, payload: invoked.append((version, payload)),
    )
    # A client outside Lambda: the default deployment is the `live` alias.
    boto3.client("lambda").create_alias(
        FunctionName="fwd-workflows", Name="live", FunctionVersion="1"
    )
    reset_env_runtime()
    from tests.functional import workflows as wf

    run = start(wf.chain, args=[1])
    assert run.deployment_id == "1"
    # The function running as version 2 receives the run's first message...
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "2")
    reset_env_runtime()
    sqs = boto3.client("sqs")
    url = lambda_stack["ADAPTER_WORKFLOW_QUEUE_URL"]
    message = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
    event = {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message["Attributes"],
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:fwd-workflow",
                "awsRegion": "us-east-1",
            }
        ]
    }
    assert handler(event, None) == {"batchItemFailures": []}
    # ...and forwards it to version 1 instead of replaying it with its own code.
    assert [(v, p["adapterForward"]["message"]["run_id"]) for v, p in invoked] == [
        ("1", run.run_id)
    ]
    assert run.status == "pending"
    # Version 1 takes the forwarded event.
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "1")
    reset_env_runtime()
    assert handler(json.loads(json.dumps(invoked[0][1])), None) == {"forwarded": run.run_id}
    assert run.status == "running"
    # A forwarded message never hops twice.
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "2")
    reset_env_runtime()
    with pytest.raises(DeploymentNotFoundError):
        handler(invoked[0][1], None)
