"""``AdapterStack``: the samples deployed with ``DurableWorkflows``, like template.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, CfnParameter, Duration, Stack
from constructs import Construct

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
        payload_days = CfnParameter(
            self,
            "PayloadExpirationDays",
            type="Number",
            default=30,
            min_value=1,
            description=(
                "Days after which large payloads offloaded to the bucket are deleted. A run "
                "whose input or output lives in the bucket cannot be read (or replayed) "
                "after that."
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
        workflows = DurableWorkflows(
            self,
            "Workflows",
            code_path=code_path,
            handler="samples.app.handler",
            requirements=requirements,
            memory_size=1024,
            timeout=Duration.seconds(300),
            log_level=log_level.value_as_string,
            payload_expiration=Duration.days(payload_days.value_as_number),
        )
        self.workflows = workflows
        outputs = {
            "ApiUrl": workflows.api.url or workflows.api.api_endpoint,
            "TableName": workflows.table.table_name,
            "WorkflowQueueUrl": workflows.workflow_queue.queue_url,
            "StepQueueUrl": workflows.step_queue.queue_url,
            "WorkflowDLQUrl": workflows.workflow_dlq.queue_url,
            "StepDLQUrl": workflows.step_dlq.queue_url,
            "BucketName": workflows.bucket.bucket_name,
            "FunctionName": workflows.function.function_name,
            "FunctionAliasArn": workflows.alias.function_arn,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
