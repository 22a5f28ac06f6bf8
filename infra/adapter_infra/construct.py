"""``DurableWorkflows``: the resources of an adapter deployment, as one CDK construct.

The same resources as ``template.yaml`` (and as ``adapter.world.aws.create_resources``):
one on-demand DynamoDB table with the ``by_workflow`` / ``by_status`` / ``by_parent``
indexes (no TTL), a workflow queue and a step queue each with a DLQ and an alarm, a
payload bucket whose objects never expire, one function (X-Ray tracing on) with the
alias ``live`` fed by both queues, an on-failure queue (and alarm) for the forwards to
other versions, and an HTTP API with every route the handler serves. The function's
role is written out statement by statement: no managed policy and no ``*`` action or
resource (but X-Ray's, which has no resource-level permissions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import (
    ArnFormat,
    Duration,
    RemovalPolicy,
    Stack,
    Token,
    Tokenization,
)
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from adapter.world._config import (
    ENV_API_URL,
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

from .alarms import queue_alarms
from .bundling import LocalPipBundling

#: Left out of the function package (and of its asset hash).
DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".git",
    ".github",
    ".venv",
    "venv",
    ".aws-sam",
    "cdk.out",
    "node_modules",
    "infra",
    "tests",
    "build",
    "dist",
    "__pycache__",
    "*.pyc",
    "*.egg-info",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".DS_Store",
)

#: Lambda's longest function timeout.
MAX_TIMEOUT_SECONDS = 900

#: Every route the handler serves: (method, path, public?). Only webhooks are public;
#: tests/infra/test_routes.py compares this with the routes of adapter/aws.
ROUTES: tuple[tuple[apigwv2.HttpMethod, str, bool], ...] = (
    (apigwv2.HttpMethod.POST, "/runs", False),
    (apigwv2.HttpMethod.GET, "/runs", False),
    (apigwv2.HttpMethod.GET, "/runs/{runId}", False),
    (apigwv2.HttpMethod.GET, "/runs/{runId}/events", False),
    (apigwv2.HttpMethod.GET, "/runs/{runId}/children", False),
    (apigwv2.HttpMethod.GET, "/runs/{runId}/timeline", False),
    (apigwv2.HttpMethod.POST, "/runs/{runId}/cancel", False),
    (apigwv2.HttpMethod.POST, "/runs/{runId}/retry", False),
    (apigwv2.HttpMethod.POST, "/runs/{runId}/wake", False),
    (apigwv2.HttpMethod.POST, "/redrive", False),
    (apigwv2.HttpMethod.POST, "/hooks/{token}", False),
    (apigwv2.HttpMethod.GET, "/openapi.json", False),
    (apigwv2.HttpMethod.POST, "/webhooks/{token}", True),
)
#: The public route, throttled on the API's default stage.
WEBHOOK_ROUTE = "POST /webhooks/{token}"

#: TransactWriteItems has no IAM action: each item is authorized by its own action.
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
#: What an SQS event source mapping needs; it polls with the function's role.
SQS_CONSUME_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
]
#: Moving dead letters back (``adapter runs redrive``, ``POST /redrive``).
SQS_REDRIVE_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueUrl"]
LAMBDA_ACTIONS = [
    "lambda:InvokeFunction",
    "lambda:GetAlias",
    "lambda:GetFunctionConfiguration",
    "lambda:ListVersionsByFunction",
]
#: X-Ray's write actions; they have no resource-level permissions (only ``*``).
XRAY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
#: Forwards (async invokes) Lambda gives up on after these retries go to the queue.
FORWARD_RETRY_ATTEMPTS = 2
FORWARD_MAX_EVENT_AGE = Duration.hours(6)


class DurableWorkflows(Construct):
    """Table, queues, bucket, function (alias ``live``) and HTTP API of one deployment.

    Args:
        scope: The parent construct.
        construct_id: Its id.
        code_path: The directory packaged as the function's code (for this repository,
            its root, so both ``adapter`` and ``samples`` are in the package).
        handler: The app module's handler, e.g. ``"samples.app.handler"``.
        requirements: A pip requirements file installed into the package by local
            (Docker-free) bundling; ``None`` packages ``code_path`` as it is.
        function_name: Defaults to ``"<stack name>-workflows"``; it is set explicitly
            so the function can be given its own name and ARN without a cycle.
        memory_size: MiB.
        timeout: The function timeout (default 300 s, at most 900 s; a
            ``CfnParameter``'s value works too). The queues' visibility timeout is
            derived from it (``queue_visibility``) and the function reads it as
            ``ADAPTER_FUNCTION_TIMEOUT``.
        log_level: ``POWERTOOLS_LOG_LEVEL``.
        exclude: Globs left out of the package.
        api_base_url: ``ADAPTER_API_URL``: the base of webhook URLs (the API's URL or
            custom domain); empty gives relative ``/webhooks/<token>`` URLs.
        alarm_topic_arn: An SNS topic the alarms notify; empty (or a parameter whose
            value is empty) for none.
        webhook_rate_limit: Requests per second on ``POST /webhooks/{token}``.
        webhook_burst_limit: Its burst.
        environment: Extra environment variables of the function.
        removal_policy: Of the table and the bucket (RETAIN: they hold the runs).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code_path: str | Path,
        handler: str,
        requirements: str | Path | None = None,
        function_name: str | None = None,
        memory_size: int = 1024,
        timeout: Duration | None = None,
        log_level: str = "INFO",
        exclude: Sequence[str] = DEFAULT_EXCLUDE,
        api_base_url: str = "",
        alarm_topic_arn: str = "",
        webhook_rate_limit: float = 50,
        webhook_burst_limit: float = 100,
        environment: Mapping[str, str] | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        timeout = timeout or Duration.seconds(FUNCTION_TIMEOUT)
        timeout_seconds = timeout.to_seconds()
        if not Token.is_unresolved(timeout_seconds) and not (
            1 <= timeout_seconds <= MAX_TIMEOUT_SECONDS
        ):
            raise ValueError(
                f"timeout {timeout_seconds} s: Lambda allows 1 to {MAX_TIMEOUT_SECONDS} s"
            )
        # The same rule as create_resources(): a token (a parameter) passes through.
        visibility = Duration.seconds(queue_visibility(timeout_seconds))
        self.function_name = function_name or f"{stack.stack_name}-workflows"

        # --- queues: each with a DLQ keeping what failed 10 times for 14 days ------------
        self.workflow_dlq = sqs.Queue(
            self,
            "WorkflowDLQ",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
        )
        # Visibility = the function timeout (queue_visibility): Lambda refuses less, and
        # more only delays taking over the message of a crashed invocation.
        self.workflow_queue = sqs.Queue(
            self,
            "WorkflowQueue",
            visibility_timeout=visibility,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.workflow_dlq, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )
        self.step_dlq = sqs.Queue(
            self,
            "StepDLQ",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
        )
        self.step_queue = sqs.Queue(
            self,
            "StepQueue",
            visibility_timeout=visibility,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.step_dlq, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )
        # The on-failure destination of the forwards to other versions (async invokes).
        self.forward_failures = sqs.Queue(
            self,
            "ForwardFailureQueue",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
        )
        self.alarms = queue_alarms(
            self,
            [
                (
                    "WorkflowDLQAlarm",
                    self.workflow_dlq,
                    "Workflow messages failed 10 times and are in the workflow DLQ.",
                ),
                (
                    "StepDLQAlarm",
                    self.step_dlq,
                    "Step messages failed 10 times and are in the step DLQ.",
                ),
                (
                    "ForwardFailureAlarm",
                    self.forward_failures,
                    "Messages forwarded to another version failed after Lambda's retries.",
                ),
            ],
            alarm_topic_arn,
        )

        # --- the event log -------------------------------------------------------------
        self.table = dynamodb.Table(
            self,
            "RunsTable",
            partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            # No TTL: the log of a run is its only record.
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # KMS with the AWS managed key: no key policy or kms:* grant needed.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=removal_policy,
        )
        # Sparse indexes for list_runs and a run's children, by created_key: the ones
        # create_resources() makes.
        for index_name, key in (
            ("by_workflow", "workflow_name"),
            ("by_status", "status"),
            ("by_parent", "parent_run_id"),
        ):
            self.table.add_global_secondary_index(
                index_name=index_name,
                partition_key=dynamodb.Attribute(name=key, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name="created_key", type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.ALL,
            )

        # --- large payloads ----------------------------------------------------------------
        self.bucket = s3.Bucket(
            self,
            "PayloadBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # A bucket policy that denies any request over plain HTTP.
            enforce_ssl=True,
            # Payloads never expire: a run that sleeps for months must still replay.
            # Only uploads that never completed (nothing references them) go.
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal_policy,
        )

        # --- the function ----------------------------------------------------------------
        # Created here, so it has a retention period and the role needs no
        # logs:CreateLogGroup.
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=f"/aws/lambda/{self.function_name}",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        function_arn = stack.format_arn(
            service="lambda",
            resource="function",
            resource_name=self.function_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        queue_arns = [self.workflow_queue.queue_arn, self.step_queue.queue_arn]
        # Inline statements rather than grant_*(): grant_read_write_data() on the table
        # and grant_read_write() on the bucket add wildcard actions (dynamodb:Get*,
        # s3:Abort*, ...), and a grant on the function itself would be a cycle.
        statements = [
            iam.PolicyStatement(
                sid="Logs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            ),
            iam.PolicyStatement(
                sid="EventLog",
                actions=DYNAMODB_ACTIONS,
                resources=[self.table.table_arn, f"{self.table.table_arn}/index/*"],
            ),
            iam.PolicyStatement(
                sid="SendMessages", actions=["sqs:SendMessage"], resources=queue_arns
            ),
            # Lambda delivers failed forwards to the destination with this role.
            iam.PolicyStatement(
                sid="ForwardFailures",
                actions=["sqs:SendMessage"],
                resources=[self.forward_failures.queue_arn],
            ),
            iam.PolicyStatement(
                sid="Redrive",
                actions=SQS_REDRIVE_ACTIONS,
                resources=[self.workflow_dlq.queue_arn, self.step_dlq.queue_arn],
            ),
            iam.PolicyStatement(
                sid="ConsumeMessages", actions=SQS_CONSUME_ACTIONS, resources=queue_arns
            ),
            iam.PolicyStatement(
                sid="Payloads",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[self.bucket.arn_for_objects("*")],
            ),
            # Deployment routing: forward a message to the version its run is pinned to;
            # resolve "latest", aliases and versions.
            iam.PolicyStatement(
                sid="Deployments",
                actions=LAMBDA_ACTIONS,
                resources=[function_arn, f"{function_arn}:*"],
            ),
            # Written here, not by tracing=ACTIVE, which would add a separate policy.
            iam.PolicyStatement(sid="Tracing", actions=XRAY_ACTIONS, resources=["*"]),
        ]
        self.role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            inline_policies={"adapter-workflows": iam.PolicyDocument(statements=statements)},
        )

        code_dir = Path(code_path).resolve()
        bundling = None
        if requirements is not None:
            bundling = cdk.BundlingOptions(
                # Never pulled: the local bundler always succeeds or raises.
                image=lambda_.Runtime.PYTHON_3_12.bundling_image,
                local=LocalPipBundling(
                    code_dir, Path(requirements).resolve(), exclude, architecture="arm64"
                ),
            )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=self.function_name,
            code=lambda_.Code.from_asset(str(code_dir), exclude=list(exclude), bundling=bundling),
            handler=handler,
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            memory_size=memory_size,
            timeout=timeout,
            role=self.role,
            log_group=self.log_group,
            # Keep every published version: a run stays pinned to the version that
            # created it, and messages of old runs are forwarded there (CDK would
            # otherwise delete the previous version when it publishes a new one).
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.RETAIN),
            environment={
                ENV_TABLE: self.table.table_name,
                ENV_WORKFLOW_QUEUE: self.workflow_queue.queue_url,
                ENV_STEP_QUEUE: self.step_queue.queue_url,
                ENV_BUCKET: self.bucket.bucket_name,
                ENV_FUNCTION: self.function_name,
                ENV_API_URL: api_base_url,
                ENV_FUNCTION_TIMEOUT: Tokenization.stringify_number(timeout_seconds),
                "POWERTOOLS_SERVICE_NAME": "adapter-workflows",
                "POWERTOOLS_METRICS_NAMESPACE": "Adapter",
                "POWERTOOLS_LOG_LEVEL": log_level,
                **(environment or {}),
            },
        )
        # X-Ray: one subsegment per workflow turn and step attempt (adapter.aws). Set on
        # the resource: tracing=ACTIVE would grant X-Ray in a policy of its own.
        cfn_function = self.function.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction)
        cfn_function.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        # Every deploy publishes a version and points "live" at it; the queues and the
        # API invoke the alias, and a run always resumes on the version that created it.
        self.alias = lambda_.Alias(
            self, "LiveAlias", alias_name="live", version=self.function.current_version
        )
        # Event source mappings on the alias. Their permissions are the ConsumeMessages
        # statement above (SqsEventSource would add the same through a grant).
        self.alias.add_event_source_mapping(
            "WorkflowMessages",
            event_source_arn=self.workflow_queue.queue_arn,
            batch_size=10,
            max_batching_window=Duration.seconds(0),
            report_batch_item_failures=True,
        )
        self.alias.add_event_source_mapping(
            "StepMessages",
            event_source_arn=self.step_queue.queue_arn,
            batch_size=1,  # one step per invocation, each with the whole timeout
            report_batch_item_failures=True,
        )

        # --- the HTTP API: IAM auth everywhere but the webhook route ---------------------
        self.api = apigwv2.HttpApi(
            self, "HttpApi", default_authorizer=authorizers.HttpIamAuthorizer()
        )
        integration = integrations.HttpLambdaIntegration("Function", self.alias)
        stage = self.api.default_stage
        assert stage is not None
        for method, path, public in ROUTES:
            routes = self.api.add_routes(
                path=path,
                methods=[method],
                integration=integration,
                authorizer=apigwv2.HttpNoneAuthorizer() if public else None,
            )
            if f"{method.value} {path}" == WEBHOOK_ROUTE:
                # Route settings name a route that must exist first.
                for route in routes:
                    stage.node.add_dependency(route)
        # The public route is the one anybody can call: cap it (429 above the limits).
        cfn_stage = stage.node.default_child
        assert isinstance(cfn_stage, apigwv2.CfnStage)
        cfn_stage.route_settings = {
            WEBHOOK_ROUTE: {
                "ThrottlingRateLimit": webhook_rate_limit,
                "ThrottlingBurstLimit": webhook_burst_limit,
            }
        }

        # The on-failure destination of forwards: an invoke config belongs to one
        # qualifier and forwards invoke version numbers (not the alias), so it is set
        # on each published version and kept (RETAIN) when the next deploy moves it on,
        # since old versions keep receiving the messages of their runs.
        self.forward_invoke_config = lambda_.CfnEventInvokeConfig(
            self,
            "ForwardInvokeConfig",
            function_name=self.function.function_name,
            qualifier=self.function.current_version.version,
            maximum_retry_attempts=FORWARD_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=int(FORWARD_MAX_EVENT_AGE.to_seconds()),
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(
                    destination=self.forward_failures.queue_arn
                )
            ),
        )
        self.forward_invoke_config.apply_removal_policy(RemovalPolicy.RETAIN)
