"""Create the resources a stack needs (for tests, demos and sandboxes).

``template.yaml`` and the CDK app declare the same resources for real deployments.
"""

from __future__ import annotations

import json

import boto3

from ._config import (
    ENV_BUCKET,
    ENV_STEP_QUEUE,
    ENV_TABLE,
    ENV_WORKFLOW_QUEUE,
    FUNCTION_TIMEOUT,
    MAX_RECEIVE_COUNT,
    QUEUE_KINDS,
    bucket_name,
    queue_name,
    table_name,
)


def queue_visibility(function_timeout: int = FUNCTION_TIMEOUT) -> int:
    """The queues' visibility timeout for a function timeout: equal to it.

    Lambda refuses an event source whose visibility is below the function timeout, and
    anything above only delays the redelivery of a message whose invocation died. A step
    lease ends shortly after its invocation's deadline; a redelivery that arrives before
    it is made visible again when the lease ends (see ``World.postpone``), so a crashed
    step is taken over about one function timeout after it started.

    template.yaml says the same (both queues' ``VisibilityTimeout`` is the
    ``FunctionTimeout`` parameter) and the CDK construct calls this with its timeout,
    which may be a CloudFormation parameter's token: it is returned as it is.
    """
    return function_timeout


def create_resources(
    prefix: str = "adapter", *, function_timeout: int = FUNCTION_TIMEOUT
) -> dict[str, str]:
    """Create the table, queues (with DLQs) and bucket; return their ``ADAPTER_*`` vars.

    Uses the current boto3 session, so it works against moto, a moto server
    (``AWS_ENDPOINT_URL``) or a sandbox account.

    Example::

        with mock_aws():
            os.environ.update(create_resources("demo"))
            run = adapter.start(my_workflow)
    """
    session = boto3.session.Session()
    region = session.region_name or "us-east-1"
    ddb = session.client("dynamodb", region_name=region)
    sqs = session.client("sqs", region_name=region)
    s3 = session.client("s3", region_name=region)
    table = table_name(prefix)
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("PK", "SK", "workflow_name", "status", "created_key", "parent_run_id")
        ],
        KeySchema=[
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": key, "KeyType": "HASH"},
                    {"AttributeName": "created_key", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, key in (
                ("by_workflow", "workflow_name"),
                ("by_status", "status"),
                ("by_parent", "parent_run_id"),
            )
        ],
    )
    ddb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1})
    urls = {}
    visibility = queue_visibility(function_timeout)
    for name in QUEUE_KINDS:
        dlq_url = sqs.create_queue(
            QueueName=queue_name(prefix, name, dlq=True),
            Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)},
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
        urls[name] = sqs.create_queue(
            QueueName=queue_name(prefix, name),
            Attributes={
                "VisibilityTimeout": str(visibility),
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]
    account = session.client("sts", region_name=region).get_caller_identity()["Account"]
    bucket = bucket_name(prefix, account)
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(
            Bucket=bucket,
            CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
        )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    return {
        ENV_TABLE: table,
        ENV_WORKFLOW_QUEUE: urls["workflow"],
        ENV_STEP_QUEUE: urls["step"],
        ENV_BUCKET: bucket,
    }
