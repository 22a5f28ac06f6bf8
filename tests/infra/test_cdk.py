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

from infra.adapter_infra.bundling import LocalPipBundling
from infra.adapter_infra.construct import DurableWorkflows
from infra.adapter_infra.stack import REPO_ROOT, REQUIREMENTS, AdapterStack

from .conftest import (
    DYNAMODB_ACTIONS,
    FUNCTION_ENV,
    HOOK_ROUTE,
    OUTPUTS,
    RUN_ROUTES,
    as_list,
    only,
    policy_statements,
    resources_of,
    wildcard_problems,
)

#: Resource types that only one side has. SAM writes the routes and their integration
#: into the OpenAPI body of the AWS::ApiGatewayV2::Api; CDK declares them as resources.
CDK_ONLY = {"AWS::ApiGatewayV2::Route", "AWS::ApiGatewayV2::Integration", "AWS::CDK::Metadata"}


@pytest.fixture(scope="module")
def synthesized() -> tuple[Any, dict[str, Any]]:
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = AdapterStack(app, "Test")
    template = assertions.Template.from_stack(stack)
    return template, template.to_json()


@pytest.fixture(scope="module")
def cfn(synthesized: tuple[Any, dict[str, Any]]) -> dict[str, Any]:
    return synthesized[1]


def _types(template: dict[str, Any]) -> Counter[str]:
    return Counter(r["Type"] for r in template["Resources"].values())


def test_resource_counts(cfn: dict[str, Any]) -> None:
    types = _types(cfn)
    assert types["AWS::DynamoDB::Table"] == 1
    assert types["AWS::SQS::Queue"] == 4
    assert types["AWS::S3::Bucket"] == 1
    assert types["AWS::S3::BucketPolicy"] == 1
    assert types["AWS::Lambda::Function"] == 1
    assert types["AWS::Lambda::Version"] == 1
    assert types["AWS::Lambda::Alias"] == 1
    assert types["AWS::Lambda::EventSourceMapping"] == 2
    assert types["AWS::ApiGatewayV2::Api"] == 1
    assert types["AWS::ApiGatewayV2::Route"] == 6
    assert types["AWS::IAM::Role"] == 1


def test_same_resource_types_as_the_sam_template(
    cfn: dict[str, Any], sam_translated: dict[str, Any]
) -> None:
    cdk_types = Counter({t: n for t, n in _types(cfn).items() if t not in CDK_ONLY})
    assert cdk_types == _types(sam_translated)


def _normalized(props: dict[str, Any]) -> str:
    """Properties with the logical ids of references blanked, for comparing the sides."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Ref"} or set(value) == {"Fn::GetAtt"}:
                return "<ref>"
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
    indexes = {i["IndexName"] for i in cdk_table["Properties"]["GlobalSecondaryIndexes"]}
    assert indexes == {"by_workflow", "by_status"}


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
    for key in ("Handler", "Runtime", "Architectures", "MemorySize", "Timeout"):
        assert cdk_fn["Properties"][key] == sam_fn["Properties"][key], key
    env = cdk_fn["Properties"]["Environment"]["Variables"]
    assert set(env) == set(sam_fn["Properties"]["Environment"]["Variables"]) == FUNCTION_ENV
    assert env["ADAPTER_FUNCTION_NAME"] == cdk_fn["Properties"]["FunctionName"] == "Test-workflows"
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
    assert set(routes) == RUN_ROUTES | {HOOK_ROUTE}
    for route in RUN_ROUTES:
        assert routes[route]["AuthorizationType"] == "AWS_IAM", route
    assert routes[HOOK_ROUTE]["AuthorizationType"] == "NONE"
    alias_name, _ = only(cfn, "AWS::Lambda::Alias")
    for integration in resources_of(cfn, "AWS::ApiGatewayV2::Integration").values():
        assert integration["Properties"]["IntegrationUri"] == {"Ref": alias_name}
    permissions = resources_of(cfn, "AWS::Lambda::Permission").values()
    assert len(permissions) == 6
    for permission in permissions:
        assert alias_name in json.dumps(permission["Properties"]["FunctionName"])


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


def test_construct_refuses_a_timeout_too_close_to_the_step_visibility() -> None:
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "TooSlow")
    with pytest.raises(ValueError, match="visibility timeout"):
        DurableWorkflows(
            stack,
            "Workflows",
            code_path=REPO_ROOT,
            handler="samples.app.handler",
            timeout=cdk.Duration.seconds(880),
        )


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
