"""Shared helpers of the infrastructure tests: the template, its SAM translation, IAM scans.

Everything here runs offline: no AWS account, no Docker, no network.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

#: The routes of the HTTP API (DESIGN.md section 2), "METHOD /path".
RUN_ROUTES = {
    "POST /runs",
    "GET /runs",
    "GET /runs/{runId}",
    "GET /runs/{runId}/events",
    "POST /runs/{runId}/cancel",
}
HOOK_ROUTE = "POST /hooks/{token}"

#: The environment the function is given (pinned names).
FUNCTION_ENV = {
    "ADAPTER_TABLE_NAME",
    "ADAPTER_WORKFLOW_QUEUE_URL",
    "ADAPTER_STEP_QUEUE_URL",
    "ADAPTER_BUCKET_NAME",
    "ADAPTER_FUNCTION_NAME",
    "ADAPTER_API_URL",
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
    "BucketName",
    "FunctionName",
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
    "dynamodb:TransactWriteItems",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
]

#: The runtime's step lease (adapter.runtime.Runtime's default ``step_lease``).
STEP_LEASE_SECONDS = 880


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
    policy denies ``s3:*`` over plain HTTP to everyone).
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
