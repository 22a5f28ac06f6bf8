"""Shared helpers of the infrastructure tests: the template, its SAM translation, IAM scans.

Everything here runs offline: no AWS account, no Docker, no network.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapter.world._config import (
    ENV_API_URL,
    ENV_BUCKET,
    ENV_FUNCTION,
    ENV_FUNCTION_TIMEOUT,
    ENV_STEP_QUEUE,
    ENV_TABLE,
    ENV_WORKFLOW_QUEUE,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

#: The environment the function is given.
FUNCTION_ENV = {
    ENV_TABLE,
    ENV_WORKFLOW_QUEUE,
    ENV_STEP_QUEUE,
    ENV_BUCKET,
    ENV_FUNCTION,
    ENV_API_URL,
    ENV_FUNCTION_TIMEOUT,
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}

OUTPUTS = {
    "ApiUrl",
    "TableName",
    "WorkflowQueueUrl",
    "StepQueueUrl",
    "WorkflowDLQUrl",
    "StepDLQUrl",
    "ForwardFailureQueueUrl",
    "BucketName",
    "FunctionName",
}

#: The parameters both stacks take.
PARAMETERS = {
    "FunctionTimeout",
    "ApiBaseUrl",
    "LogLevel",
    "AlarmTopicArn",
    "WebhookRateLimit",
    "WebhookBurstLimit",
}

#: What the function may do to its table (and nothing else there).
DYNAMODB_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
]

#: Actions that have no resource-level permissions: ``*`` is the only resource IAM
#: accepts for them (the Service Authorization Reference lists no resource type).
NO_RESOURCE_LEVEL = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def load_template() -> dict[str, Any]:
    """template.yaml with its short-form tags (!Sub, !GetAtt...) as long-form dicts."""
    from cfnlint.decode.cfn_yaml import load

    return load(str(TEMPLATE))


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    return load_template()


def translate_sam(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation that the SAM transform makes of ``template``, offline.

    CodeUri is replaced by an S3 location, as ``sam package`` does; the region is only
    used to build ARNs.
    """
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    # Plain dicts: the translator copies and rewrites the template.
    template = _plain(copy.deepcopy(template))
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/function.zip"
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name="us-east-1"))
    return translator.translate(template, parameter_values={}, get_managed_policy_map=dict)


@pytest.fixture(scope="session")
def sam_translated(sam_template: dict[str, Any]) -> dict[str, Any]:
    return translate_sam(sam_template)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


# --- IAM ------------------------------------------------------------------------------------


def policy_statements(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every statement of every policy document anywhere under ``node``, with its path."""
    if isinstance(node, dict):
        statements = node.get("Statement")
        if isinstance(statements, list):
            for i, statement in enumerate(statements):
                yield f"{path}/Statement/{i}", statement
        elif isinstance(statements, dict):
            yield f"{path}/Statement", statements
        for key, value in node.items():
            yield from policy_statements(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from policy_statements(value, f"{path}/{i}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_problems(template: dict[str, Any]) -> list[str]:
    """Allow statements with a ``*`` in an action or a bare ``*`` resource.

    Deny statements are exempt: a wildcard in a Deny only takes access away (the bucket
    policy denies ``s3:*`` over plain HTTP to everyone). So is the ``*`` resource of a
    statement whose every action is one of :data:`NO_RESOURCE_LEVEL`.
    """
    problems = []
    for path, statement in policy_statements(template.get("Resources", {}), "Resources"):
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{path}: NotAction/NotResource in an Allow grants almost everything")
        for action in as_list(statement.get("Action", [])):
            if isinstance(action, str) and "*" in action:
                problems.append(f"{path}: Action {action!r}")
        actions = as_list(statement.get("Action", []))
        if actions and all(a in NO_RESOURCE_LEVEL for a in actions):
            continue
        for resource in as_list(statement.get("Resource", [])):
            if resource == "*":
                problems.append(f"{path}: Resource '*'")
    return problems


def resources_of(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template.get("Resources", {}).items()
        if resource.get("Type") == type_
    }


def only(template: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
    found = resources_of(template, type_)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


def role_statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The statements of the function role's inline policy, by Sid."""
    _, role = only(template, "AWS::IAM::Role")
    return {s["Sid"]: s for _, s in policy_statements(role["Properties"]["Policies"])}


def role_actions(template: dict[str, Any]) -> set[str]:
    """Every action the function role allows."""
    return {
        action
        for statement in role_statements(template).values()
        if statement.get("Effect") == "Allow"
        for action in as_list(statement["Action"])
    }


# --- what the code creates -------------------------------------------------------------------


@pytest.fixture(scope="session")
def code_table() -> dict[str, Any]:
    """The keys and indexes of the table ``create_resources()`` makes (on moto), in the
    shape of an ``AWS::DynamoDB::Table``'s properties."""
    import os

    import boto3
    from moto import mock_aws

    from adapter.world.aws import create_resources

    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
            del os.environ[key]
        os.environ.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
        )
        with mock_aws():
            env = create_resources("infra-test")
            table = boto3.client("dynamodb").describe_table(TableName=env[ENV_TABLE])["Table"]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return table_shape(table)


def table_shape(props: dict[str, Any]) -> dict[str, Any]:
    """The same view of a template's table properties."""
    return {
        "AttributeDefinitions": sorted(
            props["AttributeDefinitions"], key=lambda a: a["AttributeName"]
        ),
        "KeySchema": props["KeySchema"],
        "GlobalSecondaryIndexes": sorted(
            (
                {k: index[k] for k in ("IndexName", "KeySchema", "Projection")}
                for index in props.get("GlobalSecondaryIndexes", [])
            ),
            key=lambda i: i["IndexName"],
        ),
    }


@pytest.fixture(scope="session")
def cdk_synthesized() -> tuple[Any, dict[str, Any]]:
    """The CDK app's stack: its ``assertions.Template`` and its CloudFormation."""
    import aws_cdk as cdk  # the test extra installs it: a missing CDK fails, never skips
    from aws_cdk import assertions

    from infra.adapter_infra.stack import AdapterStack

    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    template = assertions.Template.from_stack(AdapterStack(app, "Test"))
    return template, template.to_json()


@pytest.fixture(scope="session")
def cfn(cdk_synthesized: tuple[Any, dict[str, Any]]) -> dict[str, Any]:
    return cdk_synthesized[1]
