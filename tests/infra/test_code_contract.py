"""The stacks grant and route what the code needs, read from the code itself.

A new AWS API call in the function's code without a grant in template.yaml and the CDK
app fails here, and so does a route the handler serves that the stacks do not declare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ._aws_calls import calls_in, function_calls
from ._routes import (
    ANNOUNCED,
    PUBLIC,
    decorated_routes,
    openapi_routes,
    resolver_routes,
    served_routes,
)
from .conftest import as_list, resources_of, role_actions, role_statements

# --- AWS API calls ------------------------------------------------------------------------------


def _missing(template: dict[str, Any]) -> list[str]:
    allowed = role_actions(template)
    calls, unknown = function_calls()
    assert unknown == []
    return sorted(f"{c.action} ({c.where})" for c in calls if c.action not in allowed)


def test_the_scan_sees_the_calls_the_code_makes() -> None:
    """The scan is no empty net: it finds the calls the issues named, in every service."""
    calls, unknown = function_calls()
    assert unknown == []
    actions = {c.action for c in calls}
    assert {
        "lambda:GetFunctionConfiguration",  # issue 17: deployment_id as a version
        "lambda:GetAlias",
        "lambda:ListVersionsByFunction",  # through a paginator
        "lambda:InvokeFunction",  # forwarding (the API's Invoke)
        "sqs:SendMessage",
        "sqs:ReceiveMessage",  # redrive
        "dynamodb:ConditionCheckItem",  # in a TransactWriteItems
        "s3:GetObject",
    } <= actions
    assert {a.split(":")[0] for a in actions} == {"dynamodb", "lambda", "s3", "sqs"}


def test_the_template_role_allows_every_call_of_the_code(sam_template: dict[str, Any]) -> None:
    assert _missing(sam_template) == []


def test_the_cdk_role_allows_every_call_of_the_code(cfn: dict[str, Any]) -> None:
    assert _missing(cfn) == []


def test_a_new_call_without_a_grant_is_found() -> None:
    """What the two tests above would report for code that adds a call."""
    source = """
import boto3
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

class Thing:
    def __init__(self, sqs: "SQSClient | None" = None) -> None:
        self._lambda = boto3.client("lambda")
        self._queue = sqs
    def go(self) -> None:
        self._lambda.delete_function(FunctionName="x")
        self._queue.purge_queue(QueueUrl="u")
        pages = self._lambda.get_paginator("list_aliases")
        self._lambda.not_an_operation()
"""
    calls, unknown = calls_in(source, "new.py")
    assert [c.action for c in calls] == [
        "lambda:DeleteFunction",
        "sqs:PurgeQueue",
        "lambda:ListAliases",
    ]
    assert unknown == ["new.py:15: _lambda.not_an_operation is no lambda operation"]
    allowed = {"lambda:GetAlias", "sqs:SendMessage"}
    assert [c.action for c in calls if c.action not in allowed] == [c.action for c in calls]


def test_calls_are_granted_on_the_right_resources(sam_template: dict[str, Any]) -> None:
    """Beyond the action: the Lambda calls on the function (and its versions and
    aliases), the redrive reads on the dead-letter queues."""
    statements = role_statements(sam_template)
    deployments = statements["Deployments"]
    assert "lambda:GetFunctionConfiguration" in as_list(deployments["Action"])
    resources = [r["Fn::Sub"] for r in as_list(deployments["Resource"])]
    assert resources[1] == resources[0] + ":*"
    assert resources[0].endswith(":function:${AWS::StackName}-workflows")
    redrive = statements["Redrive"]
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueUrl"} <= set(
        as_list(redrive["Action"])
    )
    assert [r["Fn::GetAtt"][0] for r in as_list(redrive["Resource"])] == ["WorkflowDLQ", "StepDLQ"]


# --- routes -------------------------------------------------------------------------------------


def _sam_routes(template: dict[str, Any]) -> set[str]:
    (function,) = resources_of(template, "AWS::Serverless::Function").values()
    return {
        f"{e['Properties']['Method']} {e['Properties']['Path']}"
        for e in function["Properties"]["Events"].values()
        if e["Type"] == "HttpApi"
    }


def _cdk_routes(template: dict[str, Any]) -> set[str]:
    return {
        r["Properties"]["RouteKey"]
        for r in resources_of(template, "AWS::ApiGatewayV2::Route").values()
    }


def test_every_way_of_reading_the_routes_finds_them() -> None:
    """No source is an empty net: each finds the routes every handler has."""
    for found in (openapi_routes(), resolver_routes(), decorated_routes()):
        assert {"POST /runs", "GET /runs/{runId}", "POST /hooks/{token}"} <= found
        assert found <= served_routes()
    assert "GET /runs/{runId}/children" in served_routes()  # issue 17


@pytest.mark.parametrize("side", ["sam", "cdk"])
def test_the_stacks_declare_every_route_the_handler_serves(
    side: str, sam_template: dict[str, Any], cfn: dict[str, Any]
) -> None:
    declared = _sam_routes(sam_template) if side == "sam" else _cdk_routes(cfn)
    assert served_routes() - declared == set()
    # Nothing else but what is pinned and on its way (see ANNOUNCED).
    assert declared - served_routes() <= ANNOUNCED
    assert declared >= PUBLIC


def test_the_route_reader_finds_a_new_route(tmp_path: Path) -> None:
    (tmp_path / "extra.py").write_text(
        "@router.post('/runs/<run_id>/pause')\n"
        "def pause(run_id): ...\n"
        "@app.route('/things/<thing_id>', method=['GET', 'DELETE'])\n"
        "def things(thing_id): ...\n"
    )
    assert decorated_routes(tmp_path) == {
        "POST /runs/{runId}/pause",
        "GET /things/{thingId}",
        "DELETE /things/{thingId}",
    }


# --- cfn-lint on what CloudFormation receives ----------------------------------------------------


def _lint(template: dict[str, Any], ignore: list[str]) -> list[str]:
    import json

    from cfnlint.api import ManualArgs, lint

    config = ManualArgs(regions=["us-east-1"], ignore_checks=ignore)
    return [str(m) for m in lint(json.dumps(template, default=str), config=config)]


def test_the_transformed_sam_template_lints_clean(sam_translated: dict[str, Any]) -> None:
    """Linting template.yaml itself skips some checks on what SAM generates (it let an
    IAM action that does not exist, dynamodb:TransactWriteItems, through)."""
    assert _lint(sam_translated, []) == []


def test_the_cdk_template_lints_clean(cfn: dict[str, Any]) -> None:
    # W3005: CDK itself adds a DependsOn on the role that the function's GetAtt implies.
    assert _lint(cfn, ["W3005"]) == []
