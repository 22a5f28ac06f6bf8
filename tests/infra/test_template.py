"""template.yaml: lint-clean, and declaring exactly what the library expects."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from adapter.world._config import (
    ENV_BUCKET,
    ENV_FUNCTION,
    ENV_FUNCTION_TIMEOUT,
    ENV_STEP_QUEUE,
    ENV_TABLE,
    ENV_WORKFLOW_QUEUE,
    FUNCTION_TIMEOUT,
    MAX_RECEIVE_COUNT,
)
from adapter.world.aws import queue_visibility

from ._routes import PUBLIC, served_routes
from .conftest import (
    DYNAMODB_ACTIONS,
    FUNCTION_ENV,
    OUTPUTS,
    PARAMETERS,
    TEMPLATE,
    as_list,
    load_template,
    only,
    resources_of,
    role_statements,
    table_shape,
    wildcard_problems,
)

TIMEOUT_REF = {"Ref": "FunctionTimeout"}


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
    assert function["Timeout"] == TIMEOUT_REF


def test_parameters(sam_template: dict[str, Any]) -> None:
    params = sam_template["Parameters"]
    assert set(params) == PARAMETERS
    # The code's default (the lease and the visibility rule assume it).
    assert params["FunctionTimeout"]["Default"] == FUNCTION_TIMEOUT
    assert params["FunctionTimeout"]["MaxValue"] == 900  # Lambda's longest
    assert params["AlarmTopicArn"]["Default"] == ""


def test_function_environment(sam_template: dict[str, Any]) -> None:
    function = _function(sam_template)
    env = function["Environment"]["Variables"]
    assert set(env) == FUNCTION_ENV
    # Its own name, from the same string as FunctionName (no reference to itself).
    assert env[ENV_FUNCTION] == function["FunctionName"]
    assert function["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-workflows"}
    assert env["POWERTOOLS_SERVICE_NAME"] == "adapter-workflows"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Adapter"
    assert _ref(env[ENV_TABLE]) == "RunsTable"
    assert _ref(env[ENV_WORKFLOW_QUEUE]) == "WorkflowQueue"
    assert _ref(env[ENV_STEP_QUEUE]) == "StepQueue"
    assert _ref(env[ENV_BUCKET]) == "PayloadBucket"
    assert env[ENV_FUNCTION_TIMEOUT] == TIMEOUT_REF


def test_tracing_is_on_and_not_disabled(sam_template: dict[str, Any]) -> None:
    """X-Ray subsegments per turn and step attempt; powertools would skip them all if
    POWERTOOLS_TRACE_DISABLED were set."""
    function = _function(sam_template)
    assert function["Tracing"] == "Active"
    assert "POWERTOOLS_TRACE_DISABLED" not in function["Environment"]["Variables"]
    tracing = role_statements(sam_template)["Tracing"]
    assert sorted(as_list(tracing["Action"])) == [
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    ]


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
    assert set(queues) == {
        "WorkflowQueue",
        "WorkflowDLQ",
        "StepQueue",
        "StepDLQ",
        "ForwardFailureQueue",
    }
    for name in ("WorkflowQueue", "StepQueue"):
        redrive = queues[name]["Properties"]["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [f"{name[:-5]}DLQ", "Arn"]}
        assert redrive["maxReceiveCount"] == MAX_RECEIVE_COUNT
    for name in ("WorkflowDLQ", "StepDLQ", "ForwardFailureQueue"):
        assert queues[name]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_visibility_timeouts_are_derived_from_the_function_timeout(
    sam_template: dict[str, Any],
) -> None:
    """Issue 16 case 9: the rule of the code (``queue_visibility``: equal to the
    function timeout) is what the template says, for the parameter's value."""
    default = sam_template["Parameters"]["FunctionTimeout"]["Default"]
    assert queue_visibility(default) == default  # the rule the template writes as a Ref
    queues = resources_of(sam_template, "AWS::SQS::Queue")
    for name in ("WorkflowQueue", "StepQueue"):
        assert queues[name]["Properties"]["VisibilityTimeout"] == TIMEOUT_REF, name
    assert _function(sam_template)["Timeout"] == TIMEOUT_REF


# --- storage ---------------------------------------------------------------------------------


def test_table_keys_and_indexes_are_the_ones_the_code_creates(
    sam_template: dict[str, Any], code_table: dict[str, Any]
) -> None:
    """Attributes, keys and every index (by_parent too) exactly as create_resources()
    makes them; and no TTL, since nothing may expire from the log."""
    _, table = only(sam_template, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert table_shape(props) == code_table
    assert {i["IndexName"] for i in code_table["GlobalSecondaryIndexes"]} >= {"by_parent"}
    by_parent = {i["IndexName"]: i for i in props["GlobalSecondaryIndexes"]}["by_parent"]
    assert by_parent["KeySchema"][0] == {"AttributeName": "parent_run_id", "KeyType": "HASH"}
    assert "TimeToLiveSpecification" not in props
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_bucket_is_private_encrypted_never_expiring_and_tls_only(
    sam_template: dict[str, Any],
) -> None:
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
    # Issue 16 case 4: payloads of runs that sleep long must stay. The one rule left
    # only aborts uploads that never completed.
    (lifecycle,) = props["LifecycleConfiguration"]["Rules"]
    assert lifecycle["Status"] == "Enabled"
    assert set(lifecycle) == {"Id", "Status", "AbortIncompleteMultipartUpload"}

    _, policy = only(sam_template, "AWS::S3::BucketPolicy")
    assert _ref(policy["Properties"]["Bucket"]) == name
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"]["Bool"]["aws:SecureTransport"] in (False, "false")


# --- the HTTP API ----------------------------------------------------------------------------


def _routes(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    routes = {}
    for event in _function(template)["Events"].values():
        if event["Type"] == "HttpApi":
            props = event["Properties"]
            assert _ref(props["ApiId"]) == "HttpApi"
            routes[f"{props['Method']} {props['Path']}"] = props
    return routes


def test_routes_use_iam_but_the_webhook_route(sam_template: dict[str, Any]) -> None:
    _, api = only(sam_template, "AWS::Serverless::HttpApi")
    assert api["Properties"]["Auth"]["DefaultAuthorizer"] == "AWS_IAM"
    assert api["Properties"]["Auth"]["EnableIamAuthorizer"] is True
    routes = _routes(sam_template)
    assert routes.keys() >= served_routes() | PUBLIC
    for route, props in routes.items():
        if route in PUBLIC:
            assert props["Auth"] == {"Authorizer": "NONE"}, route
        else:
            # No route-level Auth: the API's DefaultAuthorizer (AWS_IAM) applies.
            assert "Auth" not in props, route


def test_the_webhook_route_is_throttled(sam_template: dict[str, Any]) -> None:
    _, api = only(sam_template, "AWS::Serverless::HttpApi")
    settings = api["Properties"]["RouteSettings"]
    assert set(settings) == PUBLIC
    for route in PUBLIC:
        assert settings[route] == {
            "ThrottlingRateLimit": {"Ref": "WebhookRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "WebhookBurstLimit"},
        }


# --- alarms and the failed forwards ---------------------------------------------------------


def test_alarms_on_both_dlqs_and_the_failed_forwards(sam_template: dict[str, Any]) -> None:
    alarms = resources_of(sam_template, "AWS::CloudWatch::Alarm")
    watched = {}
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["Namespace"] == "AWS/SQS"
        assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert props["ComparisonOperator"] == "GreaterThanThreshold"
        assert props["Threshold"] == 0
        assert props["TreatMissingData"] == "notBreaching"
        (dimension,) = props["Dimensions"]
        assert dimension["Name"] == "QueueName"
        watched[dimension["Value"]["Fn::GetAtt"][0]] = name
        # The topic only when one is given.
        expected = {
            "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
        }
        assert props["AlarmActions"] == props["OKActions"] == expected
    assert set(watched) == {"WorkflowDLQ", "StepDLQ", "ForwardFailureQueue"}
    assert sam_template["Conditions"]["HasAlarmTopic"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]
    }


def test_failed_forwards_go_to_their_queue(sam_template: dict[str, Any]) -> None:
    """Forwards invoke a version number: the invoke config is on the published version
    and outlives the next deploy, which moves it to the new version."""
    _, config = only(sam_template, "AWS::Lambda::EventInvokeConfig")
    props = config["Properties"]
    assert props["FunctionName"] == {"Ref": "WorkflowsFunction"}
    assert props["Qualifier"] == {
        "Fn::Select": [7, {"Fn::Split": [":", {"Ref": "WorkflowsFunction.Version"}]}]
    }
    assert props["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": ["ForwardFailureQueue", "Arn"]}}
    }
    assert config["DeletionPolicy"] == config["UpdateReplacePolicy"] == "Retain"
    # Lambda sends to the destination with the function's role.
    allowed = role_statements(sam_template)["ForwardFailures"]
    assert allowed["Action"] == "sqs:SendMessage"
    assert allowed["Resource"] == {"Fn::GetAtt": ["ForwardFailureQueue", "Arn"]}


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
                                    # X-Ray's "*" is exempt only on its own.
                                    {
                                        "Effect": "Allow",
                                        "Action": ["xray:PutTraceSegments", "sqs:Y"],
                                        "Resource": "*",
                                    },
                                    {
                                        "Effect": "Allow",
                                        "Action": "xray:PutTraceSegments",
                                        "Resource": "*",
                                    },
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
    assert len(problems) == 4, problems


def test_function_role_is_explicit_and_scoped(sam_template: dict[str, Any]) -> None:
    """SAM's generated role would carry managed policies that allow on "*"."""
    function = _function(sam_template)
    assert "Policies" not in function
    assert function["Role"] == {"Fn::GetAtt": ["WorkflowsFunctionRole", "Arn"]}
    _, role = only(sam_template, "AWS::IAM::Role")
    assert "ManagedPolicyArns" not in role["Properties"]
    (policy,) = role["Properties"]["Policies"]
    statements = role_statements(sam_template)
    assert len(statements) == len(policy["PolicyDocument"]["Statement"])
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
    assert resources["Redrive"] == [
        {"Fn::GetAtt": ["WorkflowDLQ", "Arn"]},
        {"Fn::GetAtt": ["StepDLQ", "Arn"]},
    ]
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
    assert len(permissions) == len(_routes(load_template()))  # one per route
    for permission in permissions.values():
        assert permission["Properties"]["FunctionName"] == {"Ref": alias_name}


def test_transformed_api_security(sam_translated: dict[str, Any]) -> None:
    _, api = only(sam_translated, "AWS::ApiGatewayV2::Api")
    security = {
        f"{method.upper()} {path}": operation.get("security")
        for path, operations in api["Properties"]["Body"]["paths"].items()
        for method, operation in operations.items()
    }
    assert set(security) >= served_routes() | PUBLIC
    for route, required in security.items():
        assert required == ([{"NONE": []}] if route in PUBLIC else [{"AWS_IAM": []}]), route
    _, stage = only(sam_translated, "AWS::ApiGatewayV2::Stage")
    assert set(stage["Properties"]["RouteSettings"]) == PUBLIC


def test_the_lambda_package_has_the_dependencies_and_the_tracer() -> None:
    """``sam build --manifest infra/requirements-lambda.txt`` installs what pyproject
    says, including the X-Ray SDK that powertools' Tracer needs (Tracing: Active)."""
    import tomllib

    project = tomllib.loads((TEMPLATE.parent / "pyproject.toml").read_text())["project"]
    manifest = TEMPLATE.parent / "infra" / "requirements-lambda.txt"
    lines = [
        line.strip()
        for line in manifest.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert sorted(lines) == sorted(project["dependencies"])
    assert any(line.startswith("aws-lambda-powertools[tracer]") for line in lines)
