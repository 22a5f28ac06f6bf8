"""template.yaml: lint-clean, and declaring exactly what the library expects."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .conftest import (
    DYNAMODB_ACTIONS,
    FUNCTION_ENV,
    HOOK_ROUTE,
    OUTPUTS,
    RUN_ROUTES,
    STEP_LEASE_SECONDS,
    TEMPLATE,
    as_list,
    only,
    resources_of,
    wildcard_problems,
)


def _function(template: dict[str, Any]) -> dict[str, Any]:
    """The function's properties with the Globals merged in (as SAM does)."""
    _, function = only(template, "AWS::Serverless::Function")
    return {**template.get("Globals", {}).get("Function", {}), **function["Properties"]}


def _ref(value: Any) -> str:
    """The logical id behind a ``Ref`` / ``GetAtt`` (long form, as the decoder gives it)."""
    if "Ref" in value:
        return str(value["Ref"])
    return str(value["Fn::GetAtt"][0])


# --- linters ---------------------------------------------------------------------------------


def test_template_lints_clean() -> None:
    """cfn-lint reports nothing."""
    from cfnlint.api import lint_file

    matches = lint_file(TEMPLATE)
    assert [str(m) for m in matches] == []


def test_sam_validate_lint_is_clean() -> None:
    """``sam validate --lint`` passes. The SAM CLI pins older boto3/pydantic than ours,
    so ``make test`` installs it in a venv of its own and passes it as ``SAM_CLI``."""
    sam = os.environ.get("SAM_CLI") or shutil.which("sam")
    assert sam and Path(sam).exists(), (
        "the SAM CLI is missing: run the suite with `make test` (it installs it into "
        ".venv-sam), or set SAM_CLI to a `sam` executable"
    )
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    result = subprocess.run(
        [sam, "validate", "--lint", "--template-file", str(TEMPLATE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the function ----------------------------------------------------------------------------


def test_function_is_published_as_alias_live(sam_template: dict[str, Any]) -> None:
    function = _function(sam_template)
    assert function["AutoPublishAlias"] == "live"
    assert function["Handler"] == "samples.app.handler"
    assert function["CodeUri"] == "."
    assert function["Runtime"] == "python3.12"
    assert function["Architectures"] == ["arm64"]
    assert function["MemorySize"] == 1024
    assert function["Timeout"] == 300


def test_function_environment(sam_template: dict[str, Any]) -> None:
    function = _function(sam_template)
    env = function["Environment"]["Variables"]
    assert set(env) == FUNCTION_ENV
    # Its own name, from the same string as FunctionName (no reference to itself).
    assert env["ADAPTER_FUNCTION_NAME"] == function["FunctionName"]
    assert function["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-workflows"}
    assert env["POWERTOOLS_SERVICE_NAME"] == "adapter-workflows"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Adapter"
    assert _ref(env["ADAPTER_TABLE_NAME"]) == "RunsTable"
    assert _ref(env["ADAPTER_WORKFLOW_QUEUE_URL"]) == "WorkflowQueue"
    assert _ref(env["ADAPTER_STEP_QUEUE_URL"]) == "StepQueue"
    assert _ref(env["ADAPTER_BUCKET_NAME"]) == "PayloadBucket"


def test_both_queues_feed_the_function_with_partial_batch_failures(
    sam_template: dict[str, Any],
) -> None:
    events = _function(sam_template)["Events"]
    sqs = {
        _ref(e["Properties"]["Queue"]): e["Properties"]
        for e in events.values()
        if e["Type"] == "SQS"
    }
    assert set(sqs) == {"WorkflowQueue", "StepQueue"}
    for props in sqs.values():
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert sqs["WorkflowQueue"]["BatchSize"] == 10
    assert sqs["StepQueue"]["BatchSize"] == 1  # steps run as separate invocations
    assert sqs["WorkflowQueue"]["MaximumBatchingWindowInSeconds"] == 0


def test_queues_have_dead_letter_queues(sam_template: dict[str, Any]) -> None:
    queues = resources_of(sam_template, "AWS::SQS::Queue")
    assert set(queues) == {"WorkflowQueue", "WorkflowDLQ", "StepQueue", "StepDLQ"}
    for name in ("WorkflowQueue", "StepQueue"):
        redrive = queues[name]["Properties"]["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [f"{name[:-5]}DLQ", "Arn"]}
        assert redrive["maxReceiveCount"] == 10
    for name in ("WorkflowDLQ", "StepDLQ"):
        assert queues[name]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_visibility_timeouts_fit_the_function_timeout(sam_template: dict[str, Any]) -> None:
    """Lambda refuses an SQS event source whose visibility timeout is below the timeout."""
    timeout = _function(sam_template)["Timeout"]
    queues = resources_of(sam_template, "AWS::SQS::Queue")
    step = queues["StepQueue"]["Properties"]["VisibilityTimeout"]
    workflow = queues["WorkflowQueue"]["Properties"]["VisibilityTimeout"]
    assert step == 900
    assert timeout < STEP_LEASE_SECONDS < step
    assert step - timeout >= 60
    assert workflow >= timeout


# --- storage ---------------------------------------------------------------------------------


def test_table_keys_indexes_and_ttl(sam_template: dict[str, Any]) -> None:
    _, table = only(sam_template, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        "PK": "S",
        "SK": "S",
        "workflow_name": "S",
        "status": "S",
        "created_key": "S",
    }
    indexes = {i["IndexName"]: i for i in props["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"by_workflow", "by_status"}
    for name, key in (("by_workflow", "workflow_name"), ("by_status", "status")):
        assert indexes[name]["KeySchema"] == [
            {"AttributeName": key, "KeyType": "HASH"},
            {"AttributeName": "created_key", "KeyType": "RANGE"},
        ]
        assert indexes[name]["Projection"] == {"ProjectionType": "ALL"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_bucket_is_private_encrypted_expiring_and_tls_only(sam_template: dict[str, Any]) -> None:
    name, bucket = only(sam_template, "AWS::S3::Bucket")
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    (lifecycle,) = props["LifecycleConfiguration"]["Rules"]
    assert lifecycle["Status"] == "Enabled"
    assert lifecycle["ExpirationInDays"] == {"Ref": "PayloadExpirationDays"}
    assert sam_template["Parameters"]["PayloadExpirationDays"]["Default"] == 30

    _, policy = only(sam_template, "AWS::S3::BucketPolicy")
    assert _ref(policy["Properties"]["Bucket"]) == name
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"]["Bool"]["aws:SecureTransport"] in (False, "false")


# --- the HTTP API ----------------------------------------------------------------------------


def test_run_routes_use_iam_and_the_hook_route_is_public(sam_template: dict[str, Any]) -> None:
    _, api = only(sam_template, "AWS::Serverless::HttpApi")
    assert api["Properties"]["Auth"]["DefaultAuthorizer"] == "AWS_IAM"
    assert api["Properties"]["Auth"]["EnableIamAuthorizer"] is True

    routes = {}
    for event in _function(sam_template)["Events"].values():
        if event["Type"] == "HttpApi":
            props = event["Properties"]
            assert _ref(props["ApiId"]) == "HttpApi"
            routes[f"{props['Method']} {props['Path']}"] = props
    assert set(routes) == RUN_ROUTES | {HOOK_ROUTE}
    assert routes[HOOK_ROUTE]["Auth"] == {"Authorizer": "NONE"}
    for route in RUN_ROUTES:
        # No route-level Auth: the API's DefaultAuthorizer (AWS_IAM) applies.
        assert "Auth" not in routes[route], route


# --- IAM ---------------------------------------------------------------------------------------


def test_no_wildcard_in_any_iam_statement(sam_template: dict[str, Any]) -> None:
    assert wildcard_problems(sam_template) == []


def test_the_wildcard_scan_finds_wildcards() -> None:
    """The scan above would see a wildcard grant in any policy document, anywhere."""
    template = {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Policies": [
                        {
                            "PolicyDocument": {
                                "Statement": [
                                    {"Effect": "Allow", "Action": "s3:Get*", "Resource": "x"},
                                    {"Effect": "Allow", "Action": ["sqs:X"], "Resource": "*"},
                                    {"Effect": "Deny", "Action": "*", "Resource": "*"},
                                ]
                            }
                        }
                    ]
                },
            },
            "Queue": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "PolicyDocument": {
                        "Statement": {"Effect": "Allow", "NotAction": "sqs:X", "Resource": "y"}
                    }
                },
            },
        }
    }
    problems = wildcard_problems(template)
    assert len(problems) == 3, problems


def test_function_role_is_explicit_and_scoped(sam_template: dict[str, Any]) -> None:
    """SAM's generated role would carry managed policies that allow on "*"."""
    function = _function(sam_template)
    assert "Policies" not in function
    assert function["Role"] == {"Fn::GetAtt": ["WorkflowsFunctionRole", "Arn"]}
    _, role = only(sam_template, "AWS::IAM::Role")
    assert "ManagedPolicyArns" not in role["Properties"]
    (policy,) = role["Properties"]["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    resources = {sid: as_list(s["Resource"]) for sid, s in statements.items()}
    assert resources["EventLog"] == [
        {"Fn::GetAtt": ["RunsTable", "Arn"]},
        {"Fn::Sub": "${RunsTable.Arn}/index/*"},
    ]
    assert as_list(statements["EventLog"]["Action"]) == DYNAMODB_ACTIONS
    queues = [{"Fn::GetAtt": ["WorkflowQueue", "Arn"]}, {"Fn::GetAtt": ["StepQueue", "Arn"]}]
    assert resources["SendMessages"] == queues
    assert resources["ConsumeMessages"] == queues
    assert set(as_list(statements["ConsumeMessages"]["Action"])) >= {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    }
    assert resources["Payloads"] == [{"Fn::Sub": "${PayloadBucket.Arn}/*"}]
    function_arn = (
        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
        "${AWS::StackName}-workflows"
    )
    assert resources["Deployments"] == [
        {"Fn::Sub": function_arn},
        {"Fn::Sub": f"{function_arn}:*"},
    ]
    assert resources["Logs"] == [{"Fn::GetAtt": ["WorkflowsLogGroup", "Arn"]}]


def test_outputs(sam_template: dict[str, Any]) -> None:
    assert set(sam_template["Outputs"]) >= OUTPUTS


# --- what the SAM transform makes of it --------------------------------------------------------


def test_transformed_template_has_no_managed_policies_and_no_wildcards(
    sam_translated: dict[str, Any],
) -> None:
    for name, role in resources_of(sam_translated, "AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], name
    assert resources_of(sam_translated, "AWS::IAM::Policy") == {}
    assert wildcard_problems(sam_translated) == []


def test_transformed_template_invokes_the_alias(sam_translated: dict[str, Any]) -> None:
    alias_name, alias = only(sam_translated, "AWS::Lambda::Alias")
    assert alias["Properties"]["Name"] == "live"
    # Old versions stay: runs pinned to them are forwarded there.
    _, version = only(sam_translated, "AWS::Lambda::Version")
    assert version["DeletionPolicy"] == "Retain"
    mappings = resources_of(sam_translated, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 2
    for mapping in mappings.values():
        assert mapping["Properties"]["FunctionName"] == {"Ref": alias_name}
    permissions = resources_of(sam_translated, "AWS::Lambda::Permission")
    assert len(permissions) == 6
    for permission in permissions.values():
        assert permission["Properties"]["FunctionName"] == {"Ref": alias_name}


def test_transformed_api_security(sam_translated: dict[str, Any]) -> None:
    _, api = only(sam_translated, "AWS::ApiGatewayV2::Api")
    security = {
        f"{method.upper()} {path}": operation.get("security")
        for path, operations in api["Properties"]["Body"]["paths"].items()
        for method, operation in operations.items()
    }
    assert set(security) == RUN_ROUTES | {HOOK_ROUTE}
    for route in RUN_ROUTES:
        assert security[route] == [{"AWS_IAM": []}], route
    assert security[HOOK_ROUTE] == [{"NONE": []}]
