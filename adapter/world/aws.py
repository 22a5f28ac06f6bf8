"""The AWS world: one DynamoDB table, two SQS queues (with DLQs) and an S3 bucket.

Table layout (``PK``/``SK`` strings):

=================  ==================  ==============================================
``RUN#<run_id>``   ``RUN``             the run item: status, names, input, output,
                                       ``last_seq`` (the seq of its newest event)
``RUN#<run_id>``   ``EV#<seq:012d>``   one event; ``data`` is JSON text
``RUN#<run_id>``   ``STEP#<corr>``     one step's state: attempt, lease, input
``IDEM#<key>``     ``IDEM``            which run an idempotency key started
=================  ==================  ==============================================

``EV#…`` sorts before ``RUN`` and ``STEP#…`` after it, so one query for
``SK BETWEEN EV#<seq+1> AND RUN`` returns the new events *and* the run item.
Two sparse indexes list runs: ``by_workflow`` and ``by_status``, both sorted by
``created_key`` (creation time, then run id).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ..core.errors import ConfigurationError, ConflictError, PayloadTooLargeError, WorldError
from ..core.events import ErrorInfo, Event, parse_event
from ._base import (
    RUN_STATUSES,
    AppendBatch,
    Outgoing,
    RunRecord,
    RunUpdate,
    StepRecord,
    StepWrite,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

logger = logging.getLogger(__name__)

ENV_TABLE = "ADAPTER_TABLE_NAME"
ENV_WORKFLOW_QUEUE = "ADAPTER_WORKFLOW_QUEUE_URL"
ENV_STEP_QUEUE = "ADAPTER_STEP_QUEUE_URL"
ENV_BUCKET = "ADAPTER_BUCKET_NAME"
ENV_FUNCTION = "ADAPTER_FUNCTION_NAME"

# DynamoDB caps an item at 400 KB and a transaction at 100 items / 4 MB; keep margins.
MAX_ITEM_PAYLOAD = 350_000
_MAX_TRANSACT_ITEMS = 100
_MAX_TRANSACT_BYTES = 3_500_000
_SQS_BATCH = 10

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5)


@dataclass(frozen=True)
class AwsConfig:
    """Where the resources are. Built from the ``ADAPTER_*`` environment variables."""

    table_name: str
    workflow_queue_url: str
    step_queue_url: str
    bucket_name: str | None = None
    function_name: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> AwsConfig:
        """Read the configuration from the environment.

        Raises:
            ConfigurationError: naming each required variable that is missing.
        """
        env = dict(os.environ) if env is None else env
        missing = [k for k in (ENV_TABLE, ENV_WORKFLOW_QUEUE, ENV_STEP_QUEUE) if not env.get(k)]
        if missing:
            raise ConfigurationError(
                f"missing environment variable(s): {', '.join(missing)}; set them to the "
                "resources of your stack (see template.yaml outputs) or create them with "
                "adapter.world.aws.create_resources()"
            )
        return cls(
            table_name=env[ENV_TABLE],
            workflow_queue_url=env[ENV_WORKFLOW_QUEUE],
            step_queue_url=env[ENV_STEP_QUEUE],
            bucket_name=env.get(ENV_BUCKET) or None,
            function_name=env.get(ENV_FUNCTION) or None,
        )


# --- item encoding ----------------------------------------------------------------------


def _s(value: str) -> dict[str, Any]:
    return {"S": value}


def _n(value: int) -> dict[str, Any]:
    return {"N": str(value)}


def _json(value: Any) -> dict[str, Any]:
    return {"S": json.dumps(value, separators=(",", ":"), ensure_ascii=False)}


def _time(value: datetime) -> dict[str, Any]:
    return {"S": value.isoformat()}


def _run_pk(run_id: str) -> dict[str, Any]:
    return _s(f"RUN#{run_id}")


def _event_sk(seq: int) -> str:
    return f"EV#{seq:012d}"


def _get(item: dict[str, Any], name: str) -> Any:
    value = item.get(name)
    if value is None:
        return None
    if "S" in value:
        return value["S"]
    if "N" in value:
        return int(value["N"])
    return None


def _get_time(item: dict[str, Any], name: str) -> datetime | None:
    raw = _get(item, name)
    return datetime.fromisoformat(raw) if raw else None


def _get_json(item: dict[str, Any], name: str) -> Any:
    raw = _get(item, name)
    return json.loads(raw) if raw is not None else None


def _check_size(attr: dict[str, Any], what: str) -> None:
    size = len(attr["S"].encode("utf-8"))
    if size > MAX_ITEM_PAYLOAD:
        raise PayloadTooLargeError(
            f"{what} is {size} bytes, more than the {MAX_ITEM_PAYLOAD} bytes a DynamoDB "
            "item can hold here"
        )


def _run_from_item(item: dict[str, Any]) -> RunRecord:
    error = _get_json(item, "error")
    return RunRecord(
        run_id=_get(item, "run_id"),
        workflow_name=_get(item, "workflow_name"),
        deployment_id=_get(item, "deployment_id"),
        status=_get(item, "status"),
        created_at=_get_time(item, "created_at"),  # type: ignore[arg-type]
        last_seq=_get(item, "last_seq"),
        input=_get_json(item, "input"),
        started_at=_get_time(item, "started_at"),
        completed_at=_get_time(item, "completed_at"),
        output=_get_json(item, "output"),
        error=ErrorInfo.model_validate(error) if error else None,
        idempotency_key=_get(item, "idempotency_key"),
    )


def _run_item(record: RunRecord) -> dict[str, Any]:
    item = {
        "PK": _run_pk(record.run_id),
        "SK": _s("RUN"),
        "run_id": _s(record.run_id),
        "workflow_name": _s(record.workflow_name),
        "deployment_id": _s(record.deployment_id),
        "status": _s(record.status),
        "created_at": _time(record.created_at),
        "created_key": _s(f"{record.created_at.isoformat()}#{record.run_id}"),
        "last_seq": _n(record.last_seq),
        "input": _json(record.input),
    }
    _check_size(item["input"], f"input of run {record.run_id}")
    if record.idempotency_key:
        item["idempotency_key"] = _s(record.idempotency_key)
    return item


def _event_item(event: Event) -> dict[str, Any]:
    item = {
        "PK": _run_pk(event.run_id),
        "SK": _s(_event_sk(event.seq)),
        "seq": _n(event.seq),
        "type": _s(event.type),
        "created_at": _time(event.created_at),
        "data": _json(event.data.model_dump(mode="json")),
    }
    _check_size(item["data"], f"{event.type} event of run {event.run_id}")
    if event.correlation_id:
        item["correlation_id"] = _s(event.correlation_id)
    return item


def _event_from_item(run_id: str, item: dict[str, Any]) -> Event:
    return parse_event(
        {
            "run_id": run_id,
            "seq": _get(item, "seq"),
            "type": _get(item, "type"),
            "correlation_id": _get(item, "correlation_id"),
            "created_at": _get(item, "created_at"),
            "data": _get_json(item, "data"),
        }
    )


def _step_item(record: StepRecord) -> dict[str, Any]:
    item = {
        "PK": _run_pk(record.run_id),
        "SK": _s(f"STEP#{record.correlation_id}"),
        "step_name": _s(record.step_name),
        "input": _json(record.input),
        "state": _s(record.state),
        "attempt": _n(record.attempt),
    }
    _check_size(item["input"], f"input of step {record.step_name!r}")
    if record.lease_until:
        item["lease_until"] = _time(record.lease_until)
    if record.retry_at:
        item["retry_at"] = _time(record.retry_at)
    return item


def _step_from_item(run_id: str, item: dict[str, Any]) -> StepRecord:
    return StepRecord(
        run_id=run_id,
        correlation_id=_get(item, "SK").removeprefix("STEP#"),
        step_name=_get(item, "step_name"),
        input=_get_json(item, "input"),
        state=_get(item, "state"),
        attempt=_get(item, "attempt"),
        lease_until=_get_time(item, "lease_until"),
        retry_at=_get_time(item, "retry_at"),
    )


def _run_update_item(
    table: str, run_id: str, expected_seq: int, new_seq: int, update: RunUpdate | None
) -> dict[str, Any]:
    names = {"#seq": "last_seq"}
    values: dict[str, Any] = {":expected": _n(expected_seq), ":new": _n(new_seq)}
    sets = ["#seq = :new"]
    if update is not None:
        fields: dict[str, dict[str, Any] | None] = {
            "status": _s(update.status) if update.status else None,
            "started_at": _time(update.started_at) if update.started_at else None,
            "completed_at": _time(update.completed_at) if update.completed_at else None,
            "output": _json(update.output) if update.has_output else None,
            "error": _json(update.error.model_dump(mode="json")) if update.error else None,
        }
        for name, value in fields.items():
            if value is not None:
                names[f"#{name}"] = name
                values[f":{name}"] = value
                sets.append(f"#{name} = :{name}")
    return {
        "Update": {
            "TableName": table,
            "Key": {"PK": _run_pk(run_id), "SK": _s("RUN")},
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "#seq = :expected",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def _step_write_item(table: str, write: StepWrite) -> dict[str, Any]:
    item = _step_item(write.record)
    if write.expect is None:
        return {
            "Put": {
                "TableName": table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(SK)",
            }
        }
    state, attempt = write.expect
    return {
        "Put": {
            "TableName": table,
            "Item": item,
            "ConditionExpression": "#state = :state AND #attempt = :attempt",
            "ExpressionAttributeNames": {"#state": "state", "#attempt": "attempt"},
            "ExpressionAttributeValues": {":state": _s(state), ":attempt": _n(attempt)},
        }
    }


def _item_bytes(item: dict[str, Any]) -> int:
    return len(json.dumps(item))


class AwsWorld:
    """The :class:`~adapter.world.World` on DynamoDB and SQS.

    Args:
        config: Resource names; see :meth:`AwsConfig.from_env`.
        dynamodb: A DynamoDB client (one is made from the default session if omitted).
        sqs: An SQS client (likewise).
    """

    def __init__(
        self,
        config: AwsConfig,
        *,
        dynamodb: DynamoDBClient | None = None,
        sqs: SQSClient | None = None,
    ) -> None:
        self.config = config
        self._ddb: DynamoDBClient = dynamodb or boto3.client("dynamodb", config=_BOTO_CONFIG)
        self._sqs: SQSClient = sqs or boto3.client("sqs", config=_BOTO_CONFIG)
        self._table = config.table_name

    @classmethod
    def from_env(cls) -> AwsWorld:
        """A world for the resources named by the ``ADAPTER_*`` environment variables."""
        return cls(AwsConfig.from_env())

    # --- runs --------------------------------------------------------------------------

    def create_run(
        self, record: RunRecord, first_event: Event, idempotency_key: str | None
    ) -> tuple[RunRecord, bool]:
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _run_item(record),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {"Put": {"TableName": self._table, "Item": _event_item(first_event)}},
        ]
        if idempotency_key:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            "PK": _s(f"IDEM#{idempotency_key}"),
                            "SK": _s("IDEM"),
                            "run_id": _s(record.run_id),
                        },
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
        try:
            self._ddb.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            return record, True
        except ClientError as exc:
            if not idempotency_key or not _is_cancelled(exc):
                raise WorldError(f"could not create run {record.run_id}: {exc}") from exc
        existing = self._ddb.get_item(
            TableName=self._table,
            Key={"PK": _s(f"IDEM#{idempotency_key}"), "SK": _s("IDEM")},
            ConsistentRead=True,
        ).get("Item")
        if existing is None:
            raise WorldError(f"could not create run {record.run_id}: transaction cancelled")
        run = self.get_run(_get(existing, "run_id"))
        if run is None:
            raise WorldError(f"idempotency key {idempotency_key!r} points at a missing run")
        return run, False

    def get_run(self, run_id: str) -> RunRecord | None:
        item = self._ddb.get_item(
            TableName=self._table,
            Key={"PK": _run_pk(run_id), "SK": _s("RUN")},
            ConsistentRead=True,
        ).get("Item")
        return _run_from_item(item) if item else None

    def list_runs(
        self, *, workflow_name: str | None, status: str | None, limit: int
    ) -> list[RunRecord]:
        if workflow_name is not None:
            records = self._query_index(
                "by_workflow", "workflow_name", workflow_name, limit, status_filter=status
            )
        else:
            statuses = [status] if status else list(RUN_STATUSES)
            records = [
                r for s in statuses for r in self._query_index("by_status", "status", s, limit)
            ]
        records.sort(key=lambda r: (r.created_at, r.run_id), reverse=True)
        return records[:limit]

    def _query_index(
        self, index: str, key: str, value: str, limit: int, status_filter: str | None = None
    ) -> list[RunRecord]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": key},
            "ExpressionAttributeValues": {":v": _s(value)},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if status_filter:
            params["FilterExpression"] = "#status = :status"
            params["ExpressionAttributeNames"]["#status"] = "status"
            params["ExpressionAttributeValues"][":status"] = _s(status_filter)
        out: list[RunRecord] = []
        while len(out) < limit:
            page = self._ddb.query(**params)
            out.extend(_run_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return out

    # --- the log -----------------------------------------------------------------------

    def read(self, run_id: str, after_seq: int) -> tuple[RunRecord | None, list[Event]]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :from AND :run",
            "ExpressionAttributeValues": {
                ":pk": _run_pk(run_id),
                ":from": _s(_event_sk(after_seq + 1)),
                ":run": _s("RUN"),
            },
            "ConsistentRead": True,
        }
        run: RunRecord | None = None
        events: list[Event] = []
        for item in self._paginate(params):
            if _get(item, "SK") == "RUN":
                run = _run_from_item(item)
            else:
                events.append(_event_from_item(run_id, item))
        return run, events

    def get_step(
        self, run_id: str, correlation_id: str
    ) -> tuple[RunRecord | None, StepRecord | None]:
        keys = [
            {"PK": _run_pk(run_id), "SK": _s("RUN")},
            {"PK": _run_pk(run_id), "SK": _s(f"STEP#{correlation_id}")},
        ]
        request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
        found: list[dict[str, Any]] = []
        while request:
            answer = self._ddb.batch_get_item(RequestItems=request)
            found.extend(answer.get("Responses", {}).get(self._table, []))
            request = answer.get("UnprocessedKeys") or {}
        run = next((_run_from_item(i) for i in found if _get(i, "SK") == "RUN"), None)
        step = next((_step_from_item(run_id, i) for i in found if _get(i, "SK") != "RUN"), None)
        return run, step

    def append(self, run_id: str, expected_seq: int, batch: AppendBatch) -> int:
        seq = expected_seq
        for chunk in self._chunks(batch):
            events = [event for events, _ in chunk for event in events]
            new_seq = seq + len(events)
            items = [_run_update_item(self._table, run_id, seq, new_seq, batch.run_update)]
            for event in events:
                items.append(
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _event_item(event),
                            "ConditionExpression": "attribute_not_exists(SK)",
                        }
                    }
                )
            for _, writes in chunk:
                items.extend(_step_write_item(self._table, write) for write in writes)
            try:
                self._ddb.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            except ClientError as exc:
                if not _is_cancelled(exc):
                    raise
                reasons = exc.response.get("CancellationReasons", [])  # type: ignore[attr-defined]
                codes = [r.get("Code") for r in reasons]
                if codes and codes[0] == "ConditionalCheckFailed":
                    raise ConflictError(f"run {run_id} moved past seq {seq}", reason="seq") from exc
                if "ConditionalCheckFailed" in codes:
                    raise ConflictError(f"a step of run {run_id} moved on", reason="step") from exc
                raise ConflictError(f"append to run {run_id} cancelled: {codes}") from exc
            seq = new_seq
        return seq

    @staticmethod
    def _chunks(
        batch: AppendBatch,
    ) -> Iterable[list[tuple[list[Event], list[StepWrite]]]]:
        chunk: list[tuple[list[Event], list[StepWrite]]] = []
        count, size = 1, 0
        for unit in batch.units:
            events, writes = unit
            unit_count = len(events) + len(writes)
            unit_size = sum(_item_bytes(_event_item(e)) for e in events) + sum(
                _item_bytes(_step_item(w.record)) for w in writes
            )
            if chunk and (
                count + unit_count > _MAX_TRANSACT_ITEMS or size + unit_size > _MAX_TRANSACT_BYTES
            ):
                yield chunk
                chunk, count, size = [], 1, 0
            chunk.append(unit)
            count += unit_count
            size += unit_size
        if chunk:
            yield chunk

    def _paginate(self, params: dict[str, Any]) -> Iterable[dict[str, Any]]:
        while True:
            page = self._ddb.query(**params)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            params = {**params, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    # --- queues ------------------------------------------------------------------------

    def send(self, messages: Sequence[Outgoing]) -> None:
        by_queue: dict[str, list[Outgoing]] = {}
        for out in messages:
            url = (
                self.config.step_queue_url
                if out.message.kind == "step"
                else self.config.workflow_queue_url
            )
            by_queue.setdefault(url, []).append(out)
        for url, outs in by_queue.items():
            for start in range(0, len(outs), _SQS_BATCH):
                self._send_batch(url, outs[start : start + _SQS_BATCH])

    def _send_batch(self, url: str, outs: Sequence[Outgoing]) -> None:
        if len(outs) == 1:
            self._sqs.send_message(
                QueueUrl=url,
                MessageBody=outs[0].message.model_dump_json(),
                DelaySeconds=outs[0].delay_seconds,
            )
            return
        entries = {
            str(i): {
                "Id": str(i),
                "MessageBody": out.message.model_dump_json(),
                "DelaySeconds": out.delay_seconds,
            }
            for i, out in enumerate(outs)
        }
        for _ in range(3):
            answer = self._sqs.send_message_batch(QueueUrl=url, Entries=list(entries.values()))  # type: ignore[arg-type]
            failed = answer.get("Failed", [])
            if not failed:
                return
            entries = {f["Id"]: entries[f["Id"]] for f in failed}
        raise WorldError(f"could not send {len(entries)} message(s) to {url}: {failed}")


def _is_cancelled(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    return code in ("TransactionCanceledException", "ConditionalCheckFailedException")


# --- resources -------------------------------------------------------------------------


def create_resources(prefix: str = "adapter") -> dict[str, str]:
    """Create the table, queues (with DLQs) and bucket; return their ``ADAPTER_*`` vars.

    Uses the current boto3 session, so it works against moto, a moto server
    (``AWS_ENDPOINT_URL``) or a sandbox account. ``template.yaml`` declares the same
    resources for real deployments.

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
    table = f"{prefix}-runs"
    key_schema = [
        {"AttributeName": "created_key", "KeyType": "RANGE"},
    ]
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("PK", "SK", "workflow_name", "status", "created_key")
        ],
        KeySchema=[
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}, *key_schema],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, key in (("by_workflow", "workflow_name"), ("by_status", "status"))
        ],
    )
    ddb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1})
    ddb.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
    urls = {}
    for name, visibility in (("workflow", 60), ("step", 900)):
        dlq_url = sqs.create_queue(
            QueueName=f"{prefix}-{name}-dlq",
            Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)},
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        urls[name] = sqs.create_queue(
            QueueName=f"{prefix}-{name}",
            Attributes={
                "VisibilityTimeout": str(visibility),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 10}
                ),
            },
        )["QueueUrl"]
    account = session.client("sts", region_name=region).get_caller_identity()["Account"]
    bucket = f"{prefix}-payloads-{account}"
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
