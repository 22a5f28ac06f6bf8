"""``DurableWorkflows``: the resources of an adapter deployment, as one CDK construct.

The same resources as ``template.yaml`` (and as ``adapter.world.aws.create_resources``):
one on-demand DynamoDB table with the ``by_workflow`` / ``by_status`` indexes and TTL,
a workflow queue and a step queue each with a DLQ, a payload bucket, one function with
the alias ``live`` fed by both queues and an HTTP API. The function's role is written
out statement by statement: no managed policy and no ``*`` action or resource.
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

#: The step queue's visibility timeout: longer than the runtime's step lease (880 s),
#: so a step message reappears only once its attempt is surely over.
STEP_VISIBILITY = Duration.seconds(900)
#: What the function timeout must leave below the step queue's visibility timeout.
TIMEOUT_MARGIN = Duration.seconds(60)

#: The routes of the HTTP API: (method, path, public?). Only webhooks are public.
ROUTES: tuple[tuple[apigwv2.HttpMethod, str, bool], ...] = (
    (apigwv2.HttpMethod.POST, "/runs", False),
    (apigwv2.HttpMethod.GET, "/runs", False),
    (apigwv2.HttpMethod.GET, "/runs/{runId}", False),
    (apigwv2.HttpMethod.GET, "/runs/{runId}/events", False),
    (apigwv2.HttpMethod.POST, "/runs/{runId}/cancel", False),
    (apigwv2.HttpMethod.POST, "/hooks/{token}", True),
)

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
#: What an SQS event source mapping needs; it polls with the function's role.
SQS_CONSUME_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
]


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
        timeout: The function timeout; at most the step queue's 900 s visibility
            timeout less a 60 s margin.
        log_level: ``POWERTOOLS_LOG_LEVEL``.
        payload_expiration: How long offloaded payloads are kept in the bucket.
        exclude: Globs left out of the package.
        api_base_url: ``ADAPTER_API_URL``: the base of webhook URLs (the API's URL or
            custom domain); empty gives relative ``/hooks/<token>`` URLs.
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
        payload_expiration: Duration | None = None,
        exclude: Sequence[str] = DEFAULT_EXCLUDE,
        api_base_url: str = "",
        environment: Mapping[str, str] | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        timeout = timeout or Duration.seconds(300)
        if timeout.to_seconds() > STEP_VISIBILITY.to_seconds() - TIMEOUT_MARGIN.to_seconds():
            raise ValueError(
                f"timeout {timeout.to_seconds()} s: a step attempt must end well before "
                f"the step queue's visibility timeout ({STEP_VISIBILITY.to_seconds()} s)"
            )
        payload_expiration = payload_expiration or Duration.days(30)
        self.function_name = function_name or f"{stack.stack_name}-workflows"

        # --- queues: each with a DLQ keeping what failed 10 times for 14 days ------------
        self.workflow_dlq = sqs.Queue(
            self,
            "WorkflowDLQ",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
        )
        # create_resources() uses 60 s, but Lambda refuses an SQS event source whose
        # queue's visibility timeout is shorter than the function timeout: use the
        # function timeout plus the same 60 s margin.
        self.workflow_queue = sqs.Queue(
            self,
            "WorkflowQueue",
            visibility_timeout=Duration.seconds(timeout.to_seconds() + 60),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.workflow_dlq, max_receive_count=10),
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
            visibility_timeout=STEP_VISIBILITY,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.step_dlq, max_receive_count=10),
        )

        # --- the event log -------------------------------------------------------------
        self.table = dynamodb.Table(
            self,
            "RunsTable",
            partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expires_at",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # KMS with the AWS managed key: no key policy or kms:* grant needed.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=removal_policy,
        )
        # Sparse indexes for list_runs, newest first by created_key.
        for index_name, key in (("by_workflow", "workflow_name"), ("by_status", "status")):
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
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-payloads",
                    expiration=payload_expiration,
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
            iam.PolicyStatement(
                sid="ConsumeMessages", actions=SQS_CONSUME_ACTIONS, resources=queue_arns
            ),
            iam.PolicyStatement(
                sid="Payloads",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[self.bucket.arn_for_objects("*")],
            ),
            # Deployment routing: forward a message to the version its run is pinned to;
            # resolve "latest" and aliases.
            iam.PolicyStatement(
                sid="Deployments",
                actions=[
                    "lambda:InvokeFunction",
                    "lambda:GetAlias",
                    "lambda:ListVersionsByFunction",
                ],
                resources=[function_arn, f"{function_arn}:*"],
            ),
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
                "ADAPTER_TABLE_NAME": self.table.table_name,
                "ADAPTER_WORKFLOW_QUEUE_URL": self.workflow_queue.queue_url,
                "ADAPTER_STEP_QUEUE_URL": self.step_queue.queue_url,
                "ADAPTER_BUCKET_NAME": self.bucket.bucket_name,
                "ADAPTER_FUNCTION_NAME": self.function_name,
                "ADAPTER_API_URL": api_base_url,
                "POWERTOOLS_SERVICE_NAME": "adapter-workflows",
                "POWERTOOLS_METRICS_NAMESPACE": "Adapter",
                "POWERTOOLS_LOG_LEVEL": log_level,
                **(environment or {}),
            },
        )
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
        for method, path, public in ROUTES:
            self.api.add_routes(
                path=path,
                methods=[method],
                integration=integration,
                authorizer=apigwv2.HttpNoneAuthorizer() if public else None,
            )
