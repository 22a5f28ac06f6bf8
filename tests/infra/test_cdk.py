"""The CDK app synthesizes the same stack as template.yaml, in-process and offline.

Synthesis runs the jsii runtime on node (no Docker, no AWS account). Asset bundling (pip
downloads for the function package) is switched off with the ``aws:cdk:bundling-stacks``
context, as ``cdk synth --exclusively`` does for stacks it does not deploy.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import aws_cdk as cdk  # the test extra installs it: a missing CDK fails, never skips
import pytest
from aws_cdk import assertions

from adapter.world._config import ENV_FUNCTION, ENV_FUNCTION_TIMEOUT
from adapter.world.aws import queue_visibility
from infra.adapter_infra.bundling import LocalPipBundling
from infra.adapter_infra.construct import ROUTES, DurableWorkflows
from infra.adapter_infra.stack import REPO_ROOT, REQUIREMENTS

from ._routes import PUBLIC, served_routes
from .conftest import (
    DYNAMODB_ACTIONS,
    FUNCTION_ENV,
    OUTPUTS,
    PARAMETERS,
    as_list,
    only,
    policy_statements,
    resources_of,
    role_statements,
    table_shape,
    wildcard_problems,
)

#: Resource types that only one side has. SAM writes the routes and their integration
#: into the OpenAPI body of the AWS::ApiGatewayV2::Api; CDK declares them as resources.
CDK_ONLY = {"AWS::ApiGatewayV2::Route", "AWS::ApiGatewayV2::Integration", "AWS::CDK::Metadata"}


def _construct(**options: Any) -> dict[str, Any]:
    """The CloudFormation of a ``DurableWorkflows`` alone, with concrete options."""
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "Alone")
    DurableWorkflows(
        stack, "Workflows", code_path=REPO_ROOT, handler="samples.app.handler", **options
    )
    return assertions.Template.from_stack(stack).to_json()


def _types(template: dict[str, Any]) -> Counter[str]:
    return Counter(r["Type"] for r in template["Resources"].values())


def test_resource_counts(cfn: dict[str, Any]) -> None:
    types = _types(cfn)
    assert types["AWS::DynamoDB::Table"] == 1
    assert types["AWS::SQS::Queue"] == 5
    assert types["AWS::CloudWatch::Alarm"] == 3
    assert types["AWS::Lambda::EventInvokeConfig"] == 1
    assert types["AWS::S3::Bucket"] == 1
    assert types["AWS::S3::BucketPolicy"] == 1
    assert types["AWS::Lambda::Function"] == 1
    assert types["AWS::Lambda::Version"] == 1
    assert types["AWS::Lambda::Alias"] == 1
    assert types["AWS::Lambda::EventSourceMapping"] == 2
    assert types["AWS::ApiGatewayV2::Api"] == 1
    assert types["AWS::ApiGatewayV2::Route"] == len(ROUTES)
    assert types["AWS::IAM::Role"] == 1


def test_same_resource_types_as_the_sam_template(
    cfn: dict[str, Any], sam_translated: dict[str, Any]
) -> None:
    cdk_types = Counter({t: n for t, n in _types(cfn).items() if t not in CDK_ONLY})
    assert cdk_types == _types(sam_translated)


def _normalized(props: dict[str, Any]) -> str:
    """Properties with the logical ids of references and conditions blanked, for comparing
    the sides."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Ref"} or set(value) == {"Fn::GetAtt"}:
                return "<ref>"
            if set(value) == {"Fn::If"}:  # condition names differ too
                return {"Fn::If": ["<condition>", *walk(value["Fn::If"][1:])]}
            return {k: walk(v) for k, v in sorted(value.items())}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return json.dumps(walk(props), sort_keys=True)


def test_table_matches_the_sam_template(
    cfn: dict[str, Any], sam_translated: dict[str, Any]
) -> None:
    (_, cdk_table), (_, sam_table) = (
        only(cfn, "AWS::DynamoDB::Table"),
        only(sam_translated, "AWS::DynamoDB::Table"),
    )

    def props(table: dict[str, Any]) -> dict[str, Any]:
        attributes = sorted(table["Properties"]["AttributeDefinitions"], key=json.dumps)
        return {**table["Properties"], "AttributeDefinitions": attributes}

    assert props(cdk_table) == props(sam_table)
    assert cdk_table["DeletionPolicy"] == sam_table["DeletionPolicy"] == "Retain"


def test_table_keys_and_indexes_are_the_ones_the_code_creates(
    cfn: dict[str, Any], code_table: dict[str, Any]
) -> None:
    _, table = only(cfn, "AWS::DynamoDB::Table")
    assert table_shape(table["Properties"]) == code_table
    assert "TimeToLiveSpecification" not in table["Properties"]


def test_queues_match_the_sam_template(cfn: dict[str, Any], sam_translated: dict[str, Any]) -> None:
    def queues(template: dict[str, Any]) -> list[str]:
        found = resources_of(template, "AWS::SQS::Queue").values()
        return sorted(_normalized(q["Properties"]) for q in found)

    assert queues(cfn) == queues(sam_translated)
    redrives = [
        q["Properties"]["RedrivePolicy"]
        for q in resources_of(cfn, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    ]
    assert [r["maxReceiveCount"] for r in redrives] == [10, 10]
    for redrive_queue in resources_of(cfn, "AWS::SQS::Queue").values():
        if "RedrivePolicy" in redrive_queue["Properties"]:
            assert redrive_queue["Properties"]["VisibilityTimeout"] == {"Ref": "FunctionTimeout"}


def test_parameters_match_the_sam_template(
    cfn: dict[str, Any], sam_template: dict[str, Any]
) -> None:
    def shape(params: dict[str, Any]) -> dict[str, Any]:
        return {
            name: {k: v for k, v in p.items() if k != "Description"}
            for name, p in params.items()
            if not name.startswith("BootstrapVersion")
        }

    assert set(shape(cfn["Parameters"])) == PARAMETERS
    assert shape(cfn["Parameters"]) == shape(sam_template["Parameters"])


def test_timeouts_follow_the_function_timeout() -> None:
    """Issue 16 case 9: a concrete timeout gives the function, both queues (by
    ``queue_visibility``) and ``ADAPTER_FUNCTION_TIMEOUT`` the same number."""
    template = _construct(timeout=cdk.Duration.seconds(120))
    (_, function) = only(template, "AWS::Lambda::Function")
    assert function["Properties"]["Timeout"] == 120
    assert function["Properties"]["Environment"]["Variables"][ENV_FUNCTION_TIMEOUT] == "120"
    visibilities = [
        q["Properties"]["VisibilityTimeout"]
        for q in resources_of(template, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    ]
    assert visibilities == [queue_visibility(120)] * 2


def test_bucket_matches_the_sam_template(
    cfn: dict[str, Any], sam_translated: dict[str, Any]
) -> None:
    (_, cdk_bucket), (_, sam_bucket) = (
        only(cfn, "AWS::S3::Bucket"),
        only(sam_translated, "AWS::S3::Bucket"),
    )
    assert _normalized(cdk_bucket["Properties"]) == _normalized(sam_bucket["Properties"])
    (deny,) = only(cfn, "AWS::S3::BucketPolicy")[1]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_function_matches_the_sam_template(
    cfn: dict[str, Any], sam_translated: dict[str, Any]
) -> None:
    (_, cdk_fn), (_, sam_fn) = (
        only(cfn, "AWS::Lambda::Function"),
        only(sam_translated, "AWS::Lambda::Function"),
    )
    for key in ("Handler", "Runtime", "Architectures", "MemorySize", "Timeout", "TracingConfig"):
        assert cdk_fn["Properties"][key] == sam_fn["Properties"][key], key
    assert cdk_fn["Properties"]["TracingConfig"] == {"Mode": "Active"}
    env = cdk_fn["Properties"]["Environment"]["Variables"]
    assert set(env) == set(sam_fn["Properties"]["Environment"]["Variables"]) == FUNCTION_ENV
    assert env[ENV_FUNCTION] == cdk_fn["Properties"]["FunctionName"] == "Test-workflows"
    assert env[ENV_FUNCTION_TIMEOUT] == {"Ref": "FunctionTimeout"}
    assert "POWERTOOLS_TRACE_DISABLED" not in env
    # Published as "live"; old versions are kept for the runs pinned to them.
    _, alias = only(cfn, "AWS::Lambda::Alias")
    assert alias["Properties"]["Name"] == "live"
    _, version = only(cfn, "AWS::Lambda::Version")
    assert version.get("DeletionPolicy") == "Retain"


def test_event_sources_match_the_sam_template(
    cfn: dict[str, Any], sam_translated: dict[str, Any]
) -> None:
    def mappings(template: dict[str, Any]) -> list[dict[str, Any]]:
        found = resources_of(template, "AWS::Lambda::EventSourceMapping").values()
        return sorted(
            (
                {
                    k: v
                    for k, v in m["Properties"].items()
                    if k not in ("EventSourceArn", "FunctionName")
                }
                for m in found
            ),
            key=lambda m: json.dumps(m, sort_keys=True),
        )

    assert mappings(cfn) == mappings(sam_translated)
    alias_name, _ = only(cfn, "AWS::Lambda::Alias")
    for mapping in resources_of(cfn, "AWS::Lambda::EventSourceMapping").values():
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert alias_name in json.dumps(mapping["Properties"]["FunctionName"])


def test_routes_and_authorization(cfn: dict[str, Any]) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in resources_of(cfn, "AWS::ApiGatewayV2::Route").values()
    }
    assert routes.keys() >= served_routes() | PUBLIC
    for route, props in routes.items():
        expected = "NONE" if route in PUBLIC else "AWS_IAM"
        assert props["AuthorizationType"] == expected, route
    alias_name, _ = only(cfn, "AWS::Lambda::Alias")
    for integration in resources_of(cfn, "AWS::ApiGatewayV2::Integration").values():
        assert integration["Properties"]["IntegrationUri"] == {"Ref": alias_name}
    permissions = resources_of(cfn, "AWS::Lambda::Permission").values()
    assert len(permissions) == len(routes)
    for permission in permissions:
        assert alias_name in json.dumps(permission["Properties"]["FunctionName"])


def test_routes_match_the_sam_template(cfn: dict[str, Any], sam_translated: dict[str, Any]) -> None:
    cdk_routes = {
        r["Properties"]["RouteKey"] for r in resources_of(cfn, "AWS::ApiGatewayV2::Route").values()
    }
    _, api = only(sam_translated, "AWS::ApiGatewayV2::Api")
    sam_routes = {
        f"{method.upper()} {path}"
        for path, operations in api["Properties"]["Body"]["paths"].items()
        for method in operations
    }
    assert cdk_routes == sam_routes


def test_the_webhook_route_is_throttled_like_the_sam_template(
    cfn: dict[str, Any], sam_translated: dict[str, Any]
) -> None:
    (_, cdk_stage), (_, sam_stage) = (
        only(cfn, "AWS::ApiGatewayV2::Stage"),
        only(sam_translated, "AWS::ApiGatewayV2::Stage"),
    )
    settings = cdk_stage["Properties"]["RouteSettings"]
    assert settings == sam_stage["Properties"]["RouteSettings"]
    assert set(settings) == PUBLIC
    # The stage names the route, so it is created after it.
    webhook_route = next(
        name
        for name, r in resources_of(cfn, "AWS::ApiGatewayV2::Route").items()
        if r["Properties"]["RouteKey"] in PUBLIC
    )
    assert webhook_route in cdk_stage["DependsOn"]


def test_alarms_match_the_sam_template(cfn: dict[str, Any], sam_translated: dict[str, Any]) -> None:
    def alarms(template: dict[str, Any]) -> list[str]:
        found = resources_of(template, "AWS::CloudWatch::Alarm").values()
        return sorted(_normalized(a["Properties"]) for a in found)

    assert alarms(cfn) == alarms(sam_translated)
    (condition,) = cfn["Conditions"].values()
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}


def test_alarm_actions_without_a_parameter() -> None:
    """A concrete topic is notified as it is; none leaves the actions out."""
    topic = "arn:aws:sns:us-east-1:123456789012:ops"
    for arn, expected in ((topic, [topic]), ("", None)):
        alarms = resources_of(_construct(alarm_topic_arn=arn), "AWS::CloudWatch::Alarm")
        assert len(alarms) == 3
        for alarm in alarms.values():
            assert alarm["Properties"].get("AlarmActions") == expected
            assert alarm["Properties"].get("OKActions") == expected


def test_failed_forwards_go_to_their_queue(cfn: dict[str, Any]) -> None:
    _, config = only(cfn, "AWS::Lambda::EventInvokeConfig")
    props = config["Properties"]
    version_name, _ = only(cfn, "AWS::Lambda::Version")
    function_name, _ = only(cfn, "AWS::Lambda::Function")
    assert props["Qualifier"] == {"Fn::GetAtt": [version_name, "Version"]}
    assert props["FunctionName"] == {"Ref": function_name}
    assert props["MaximumRetryAttempts"] == 2
    assert props["MaximumEventAgeInSeconds"] == 21600
    destination = props["DestinationConfig"]["OnFailure"]["Destination"]
    queue_name = destination["Fn::GetAtt"][0]
    assert queue_name.startswith("WorkflowsForwardFailureQueue")
    assert config["DeletionPolicy"] == config["UpdateReplacePolicy"] == "Retain"
    assert role_statements(cfn)["ForwardFailures"]["Resource"] == destination


def test_invoke_config_matches_the_sam_template(
    cfn: dict[str, Any], sam_translated: dict[str, Any]
) -> None:
    (_, cdk_config), (_, sam_config) = (
        only(cfn, "AWS::Lambda::EventInvokeConfig"),
        only(sam_translated, "AWS::Lambda::EventInvokeConfig"),
    )

    def props(config: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in config["Properties"].items() if k != "Qualifier"}

    assert _normalized(props(cdk_config)) == _normalized(props(sam_config))


def test_no_wildcard_in_any_iam_statement(cfn: dict[str, Any]) -> None:
    """No IAM policy, role or resource policy allows a ``*`` action or a ``*`` resource.

    No exception list is needed: this stack creates no CDK helper (custom-resource
    providers come with autoDeleteObjects, logRetention or AwsCustomResource, none of
    which is used), which the absence of any other function or Custom:: resource shows.
    """
    assert wildcard_problems(cfn) == []
    types = _types(cfn)
    assert types["AWS::Lambda::Function"] == 1
    assert not [t for t in types if t.startswith("Custom::") or "CustomResource" in t]
    assert resources_of(cfn, "AWS::IAM::Policy") == {}
    for name, role in resources_of(cfn, "AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], name


def test_role_statements_match_the_sam_template(
    cfn: dict[str, Any], sam_translated: dict[str, Any]
) -> None:
    def actions(template: dict[str, Any]) -> dict[str, list[str]]:
        _, role = only(template, "AWS::IAM::Role")
        return {
            s["Sid"]: sorted(as_list(s["Action"]))
            for _, s in policy_statements(role["Properties"]["Policies"])
        }

    assert actions(cfn) == actions(sam_translated)
    assert actions(cfn)["EventLog"] == sorted(DYNAMODB_ACTIONS)
    _, role = only(cfn, "AWS::IAM::Role")
    statements = {s["Sid"]: s for _, s in policy_statements(role["Properties"]["Policies"])}
    deployments = json.dumps(statements["Deployments"]["Resource"])
    assert "function:Test-workflows" in deployments
    assert "function:Test-workflows:*" in deployments
    table_resources = json.dumps(statements["EventLog"]["Resource"])
    assert "/index/*" in table_resources


def test_outputs_match_the_sam_template(cfn: dict[str, Any]) -> None:
    assert set(cfn["Outputs"]) >= OUTPUTS


# --- the construct on its own ------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [0, 901])
def test_construct_refuses_a_timeout_lambda_does_not_allow(seconds: int) -> None:
    with pytest.raises(ValueError, match="Lambda allows"):
        _construct(timeout=cdk.Duration.seconds(seconds))


def test_local_bundling_copies_the_source_without_excluded_paths(tmp_path: Path) -> None:
    source = tmp_path / "src"
    for name in ("pkg/__init__.py", "pkg/mod.py", "pkg/__pycache__/x.pyc", "tests/t.py"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text("")
    out = tmp_path / "out"
    bundler = LocalPipBundling(source, None, ["tests", "__pycache__", "*.pyc"])
    assert bundler.try_bundle(str(out)) is True
    copied = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert copied == ["pkg/__init__.py", "pkg/mod.py"]


def test_local_bundling_installs_arm64_wheels_for_the_runtime() -> None:
    bundler = LocalPipBundling(REPO_ROOT, REQUIREMENTS, [], architecture="arm64")
    command = bundler.pip_command("/out")
    assert "--platform=manylinux2014_aarch64" in command
    assert "--python-version=3.12" in command
    assert "--only-binary=:all:" in command
    assert command[-2:] == ["--requirement", str(REQUIREMENTS)]
    assert REQUIREMENTS.is_file()
