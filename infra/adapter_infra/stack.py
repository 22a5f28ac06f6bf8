"""``AdapterStack``: the samples deployed with ``DurableWorkflows``, like template.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, CfnParameter, Duration, Stack
from constructs import Construct

from adapter.world._config import FUNCTION_TIMEOUT

from .construct import DurableWorkflows

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO_ROOT / "infra" / "requirements-lambda.txt"


class AdapterStack(Stack):
    """The stack of template.yaml: same parameters, resources and outputs.

    Args:
        scope: The app.
        construct_id: The stack id (and, by default, its name).
        code_path: The function package's root; the repository root by default.
        requirements: Installed into the package by local bundling; ``None`` ships the
            source alone.
        **kwargs: Passed to :class:`aws_cdk.Stack` (``env``, ``stack_name``, ...).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code_path: Path = REPO_ROOT,
        requirements: Path | None = REQUIREMENTS,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        timeout = CfnParameter(
            self,
            "FunctionTimeout",
            type="Number",
            default=FUNCTION_TIMEOUT,
            min_value=10,
            max_value=900,
            description=(
                "The function timeout in seconds. The queues' visibility timeout equals it, "
                "a step attempt owns its step until its invocation's deadline plus 5 s, and "
                "the function reads it as ADAPTER_FUNCTION_TIMEOUT."
            ),
        )
        api_base_url = CfnParameter(
            self,
            "ApiBaseUrl",
            type="String",
            default="",
            description=(
                "Base URL of the HTTP API (or its custom domain); webhook URLs start with "
                "it. Empty gives relative /webhooks/<token> URLs."
            ),
        )
        log_level = CfnParameter(
            self,
            "LogLevel",
            type="String",
            default="INFO",
            allowed_values=["DEBUG", "INFO", "WARNING", "ERROR"],
            description="POWERTOOLS_LOG_LEVEL of the function.",
        )
        alarm_topic = CfnParameter(
            self,
            "AlarmTopicArn",
            type="String",
            default="",
            allowed_pattern="^(arn:[^:]+:sns:[^:]+:[0-9]{12}:[^:]+)?$",
            description=(
                "An SNS topic notified when a dead-letter queue or the failed-forwards "
                "queue holds a message (and again when it is empty)."
            ),
        )
        webhook_rate = CfnParameter(
            self,
            "WebhookRateLimit",
            type="Number",
            default=50,
            min_value=1,
            description="Steady requests per second allowed on POST /webhooks/{token}.",
        )
        webhook_burst = CfnParameter(
            self,
            "WebhookBurstLimit",
            type="Number",
            default=100,
            min_value=1,
            description="Burst of requests allowed on POST /webhooks/{token}.",
        )
        workflows = DurableWorkflows(
            self,
            "Workflows",
            code_path=code_path,
            handler="samples.app.handler",
            requirements=requirements,
            memory_size=1024,
            timeout=Duration.seconds(timeout.value_as_number),
            log_level=log_level.value_as_string,
            api_base_url=api_base_url.value_as_string,
            alarm_topic_arn=alarm_topic.value_as_string,
            webhook_rate_limit=webhook_rate.value_as_number,
            webhook_burst_limit=webhook_burst.value_as_number,
        )
        self.workflows = workflows
        outputs = {
            "ApiUrl": workflows.api.url or workflows.api.api_endpoint,
            "TableName": workflows.table.table_name,
            "WorkflowQueueUrl": workflows.workflow_queue.queue_url,
            "StepQueueUrl": workflows.step_queue.queue_url,
            "WorkflowDLQUrl": workflows.workflow_dlq.queue_url,
            "StepDLQUrl": workflows.step_dlq.queue_url,
            "ForwardFailureQueueUrl": workflows.forward_failures.queue_url,
            "BucketName": workflows.bucket.bucket_name,
            "FunctionName": workflows.function.function_name,
            "FunctionAliasArn": workflows.alias.function_arn,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
