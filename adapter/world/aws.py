"""The AWS world: one DynamoDB table, two SQS queues (with DLQs) and an S3 bucket.

The table layout is described in :mod:`adapter.world._items`. Two sparse indexes list
runs: ``by_workflow`` and ``by_status``, both sorted by ``created_key`` (creation time,
then run id). Every event is put on condition that its seq is free, so two writers can
never both record the same thing. The events of one append share an item when they
fit (a page), so an append of events alone is one ``PutItem``; one that also writes the
run item or hook tokens is one ``TransactWriteItems`` (per 100 items).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ..core.errors import WorldError
from ..core.events import Event
from . import _items as items
from ._base import (
    RUN_STATUSES,
    STUCK,
    AppendBatch,
    HookRecord,
    Outgoing,
    RunRecord,
    StuckMark,
    Unit,
)
from ._config import (
    FUNCTION_TIMEOUT,
    MAX_RECEIVE_COUNT,
    AwsConfig,
)
from ._faults import conflict, is_cancelled, is_refused, is_transient
from ._lambda import LambdaFunction
from ._payloads import PayloadStore
from ._queues import MAX_VISIBILITY, SQS_MAX_DELAY, Queues
from ._resources import create_resources, queue_visibility

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

__all__ = [
    "AwsConfig",
    "AwsWorld",
    "BOTO_CONFIG",
    "FUNCTION_TIMEOUT",
    "LambdaFunction",
    "MAX_RECEIVE_COUNT",
    "MAX_VISIBILITY",
    "Stack",
    "connect",
    "create_resources",
    "is_transient",
    "queue_visibility",
]

logger = logging.getLogger(__name__)

# DynamoDB caps a transaction at 100 items and 4 MB; keep a margin on the bytes.
_MAX_TRANSACT_ITEMS = 100
_MAX_TRANSACT_BYTES = 3_500_000

# A unit of an append: its events' attributes and its hook writes, each with its role.
_PackedUnit = tuple[Unit, list[dict[str, Any]], list[tuple[tuple[str, str], dict[str, Any]]]]

BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5)
"""How every client adapter makes is configured: standard retries, short connects."""
_BOTO_CONFIG = BOTO_CONFIG


@dataclass(frozen=True)
class Stack:
    """The resources the environment names: storage and queues, and the function whose
    versions are the deployments (``None`` when ``ADAPTER_FUNCTION_NAME`` is unset)."""

    world: AwsWorld
    function: LambdaFunction | None


def connect(env: dict[str, str] | None = None) -> Stack:
    """The stack the ``ADAPTER_*`` environment variables name (``AWS_ENDPOINT_URL``
    honoured by boto3), with clients from the default session."""
    world = AwsWorld(AwsConfig.from_env(env))
    name = world.config.function_name
    return Stack(world, LambdaFunction(name) if name else None)


class AwsWorld:
    """The :class:`~adapter.world.World` on DynamoDB, SQS and S3.

    Args:
        config: Resource names; see :meth:`AwsConfig.from_env`.
        dynamodb: A DynamoDB client (one is made from the default session if omitted).
        sqs: An SQS client (likewise).
        s3: An S3 client for large payloads (likewise, when a bucket is configured).
        max_delay_seconds: The longest message delay (SQS allows 900 s).
    """

    def __init__(
        self,
        config: AwsConfig,
        *,
        dynamodb: DynamoDBClient | None = None,
        sqs: SQSClient | None = None,
        s3: S3Client | None = None,
        max_delay_seconds: int = SQS_MAX_DELAY,
    ) -> None:
        self.config = config
        self._ddb: DynamoDBClient = dynamodb or boto3.client("dynamodb", config=_BOTO_CONFIG)
        sqs_client: SQSClient = sqs or boto3.client("sqs", config=_BOTO_CONFIG)
        self.queues = Queues(sqs_client, config)
        if s3 is None and config.bucket_name:
            s3 = boto3.client("s3", config=_BOTO_CONFIG)
        self.payloads = PayloadStore(s3, config.bucket_name)
        self._table = config.table_name
        self._max_delay = max_delay_seconds

    @classmethod
    def from_env(cls) -> AwsWorld:
        """A world for the resources named by the ``ADAPTER_*`` environment variables."""
        return cls(AwsConfig.from_env())

    @property
    def max_delay_seconds(self) -> int:
        return self._max_delay

    # --- runs --------------------------------------------------------------------------

    def create_run(
        self, record: RunRecord, first_event: Event, idempotency_key: str | None
    ) -> tuple[RunRecord, bool]:
        writes: list[dict[str, Any]] = [
            self._put(items.run_item(record, self.payloads), "attribute_not_exists(PK)"),
            self._put(items.event_item(first_event, self.payloads)),
        ]
        if idempotency_key:
            idem = {**items.idem_key(idempotency_key), "run_id": items.s(record.run_id)}
            writes.append(self._put(idem, "attribute_not_exists(PK)"))
        try:
            self._ddb.transact_write_items(TransactItems=writes)  # type: ignore[arg-type]
            return record, True
        except ClientError as exc:
            if not idempotency_key or not is_cancelled(exc):
                raise WorldError(f"could not create run {record.run_id}: {exc}") from exc
        existing = self._ddb.get_item(
            TableName=self._table, Key=items.idem_key(idempotency_key), ConsistentRead=True
        ).get("Item")
        if existing is None:
            raise WorldError(f"could not create run {record.run_id}: transaction cancelled")
        run = self.get_run(items.get(existing, "run_id"))
        if run is None:
            raise WorldError(f"idempotency key {idempotency_key!r} points at a missing run")
        return run, False

    def get_run(self, run_id: str) -> RunRecord | None:
        # The run item and, right before it in the partition, the newest event: the
        # run item alone may lag the log (see AppendBatch.touch_run).
        found = self._ddb.query(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND SK BETWEEN :events AND :run",
            ExpressionAttributeValues={
                ":pk": items.s(f"RUN#{run_id}"),
                ":events": items.s(items.event_sk(0)),
                ":run": items.s("RUN"),
            },
            ScanIndexForward=False,
            Limit=2,
            ConsistentRead=True,
        ).get("Items", [])
        if not found or items.get(found[0], "SK") != "RUN":
            return None
        record = items.run_from_item(found[0], self.payloads)
        if len(found) > 1:
            newest = items.through(found[1])
            record = replace(
                record,
                last_seq=max(newest, record.last_seq),
                newest_at=items.newest_time(found[1]),
            )
        return record

    def child_runs(self, parent_run_id: str) -> list[RunRecord]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "by_parent",
            "KeyConditionExpression": "parent_run_id = :p",
            "ExpressionAttributeValues": {":p": items.s(parent_run_id)},
            "ScanIndexForward": True,
        }
        return [items.run_from_item(item, self.payloads) for item in self._paginate(params)]

    def mark_stuck(self, run_id: str, mark: StuckMark | None) -> None:
        try:
            self._ddb.update_item(**items.stuck_update(self._table, run_id, mark))
        except ClientError as exc:
            if is_cancelled(exc):
                return  # no such run: nothing to mark
            raise

    def list_runs(
        self,
        *,
        workflow_name: str | None,
        status: str | None,
        limit: int,
        before: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[RunRecord]:
        bounds = items.created_bounds(before, since, until)
        if status == STUCK:
            return self._stuck_runs(workflow_name, limit, bounds)
        if workflow_name is not None:
            found = self._query_index(
                "by_workflow", "workflow_name", workflow_name, limit, status, bounds=bounds
            )
        else:
            statuses = [status] if status else list(RUN_STATUSES)
            found = [
                r
                for st in statuses
                for r in self._query_index("by_status", "status", st, limit, bounds=bounds)
            ]
        # A run whose status changed between two index queries shows up twice: keep
        # the later state.
        latest: dict[str, RunRecord] = {}
        for record in found:
            seen = latest.get(record.run_id)
            if seen is None or _progress(record) > _progress(seen):
                latest[record.run_id] = record
        return sorted(latest.values(), key=lambda r: (r.created_at, r.run_id), reverse=True)[:limit]

    def _stuck_runs(
        self, workflow_name: str | None, limit: int, bounds: items.Bounds
    ) -> list[RunRecord]:
        # A stuck run keeps its status (pending or running) and carries the mark.
        found = [
            r
            for st in ("pending", "running")
            for r in self._query_index(
                "by_status", "status", st, limit, stuck_only=True, bounds=bounds
            )
            if workflow_name is None or r.workflow_name == workflow_name
        ]
        return sorted(found, key=lambda r: (r.created_at, r.run_id), reverse=True)[:limit]

    def _query_index(
        self,
        index: str,
        key: str,
        value: str,
        limit: int,
        status_filter: str | None = None,
        *,
        stuck_only: bool = False,
        bounds: items.Bounds = (None, None, None),
    ) -> list[RunRecord]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": key},
            "ExpressionAttributeValues": {":v": items.s(value)},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        # The range is a key condition: the query starts at the cursor (or ``until``)
        # and stops at ``since``, reading only the runs it returns.
        low, high, exclude = bounds
        if low is not None and high is not None:
            params["KeyConditionExpression"] += " AND created_key BETWEEN :low AND :high"
        elif low is not None:
            params["KeyConditionExpression"] += " AND created_key >= :low"
        elif high is not None:
            params["KeyConditionExpression"] += " AND created_key <= :high"
        if low is not None:
            params["ExpressionAttributeValues"][":low"] = items.s(low)
        if high is not None:
            params["ExpressionAttributeValues"][":high"] = items.s(high)
        if exclude is not None:
            params["Limit"] = limit + 1  # the excluded run comes first
        if status_filter:
            params["FilterExpression"] = "#status = :status"
            params["ExpressionAttributeNames"]["#status"] = "status"
            params["ExpressionAttributeValues"][":status"] = items.s(status_filter)
        if stuck_only:
            params["FilterExpression"] = "attribute_exists(stuck_reason)"
        found: list[RunRecord] = []
        for item in self._paginate(params):
            if exclude is not None and items.get(item, "created_key") == exclude:
                continue  # the cursor's own run, on the previous page
            found.append(items.run_from_item(item, self.payloads))
            if len(found) >= limit:
                break
        return found

    # --- messages ------------------------------------------------------------------------

    def send(self, messages: Sequence[Outgoing]) -> None:
        self.queues.send(messages)

    def postpone(self, kind: str, receipt_handle: str, seconds: int) -> None:
        self.queues.postpone(kind, receipt_handle, seconds)

    def redrive(self, kind: str, limit: int | None = None) -> list[str]:
        return self.queues.redrive(kind, limit)

    # --- the log, steps and hooks --------------------------------------------------------

    def read(
        self, run_id: str, after_seq: int, *, lenient: bool = False
    ) -> tuple[RunRecord | None, list[Event]]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :from AND :run",
            "ExpressionAttributeValues": {
                ":pk": items.s(f"RUN#{run_id}"),
                ":from": items.s(items.event_sk(after_seq + 1)),
                ":run": items.s("RUN"),
            },
            "ConsistentRead": True,
        }
        run: RunRecord | None = None
        events: list[Event] = []
        for item in self._paginate(params):
            if items.get(item, "SK") == "RUN":
                run = items.run_from_item(item, self.payloads)
            else:
                events.extend(items.events_from_item(run_id, item, self.payloads, lenient=lenient))
        return run, events

    def get_hook(self, token: str) -> HookRecord | None:
        item = self._ddb.get_item(
            TableName=self._table, Key=items.hook_key(token), ConsistentRead=True
        ).get("Item")
        return items.hook_from_item(item) if item else None

    def get_delivery(self, delivery: str) -> str | None:
        item = self._ddb.get_item(
            TableName=self._table, Key=items.delivery_key(delivery), ConsistentRead=True
        ).get("Item")
        return items.get(item, "run_id") if item else None

    def append(self, run_id: str, expected_seq: int, batch: AppendBatch) -> int:
        seq = expected_seq
        for index, chunk in enumerate(self._chunks(batch)):
            events = [attributes for _, unit_events, _ in chunk for attributes in unit_events]
            new_seq = seq + len(events)
            writes: list[dict[str, Any]] = []
            roles: list[tuple[str, str]] = []
            if batch.writes_run:
                last = [e for unit, _, _ in chunk for e in unit.events][-1]
                update = items.run_update(
                    self._table, run_id, new_seq, batch.run_update, self.payloads, last, batch.idle
                )
                writes.append(update)
                roles.append(("run", run_id))
            for page in items.pages(run_id, events):
                writes.append(self._put(page, "attribute_not_exists(SK)"))
                roles.append(("event", str(items.get(page, "seq"))))
            # DynamoDB refuses a transaction that touches one item twice: of several
            # writes to one token (a run releasing a token it held under two hooks),
            # the last one says what the item must become.
            last_write = {
                role: (role, write) for _, _, hook_writes in chunk for role, write in hook_writes
            }
            for role, write in last_write.values():
                writes.append(write)
                roles.append(role)
            if batch.delivery is not None and index == 0:
                claim = {**items.delivery_key(batch.delivery), "run_id": items.s(run_id)}
                writes.append(self._put(claim, "attribute_not_exists(PK)"))
                roles.append(("delivery", batch.delivery))
            try:
                if len(writes) == 1 and "Put" in writes[0]:
                    self._ddb.put_item(**writes[0]["Put"])
                else:
                    self._ddb.transact_write_items(TransactItems=writes)  # type: ignore[arg-type]
            except ClientError as exc:
                if is_refused(exc):
                    raise WorldError(f"DynamoDB refused the append to run {run_id}: {exc}") from exc
                if not is_cancelled(exc):
                    raise
                lost = conflict(run_id, seq, exc, roles)
                lost.committed_seq = seq  # earlier chunks of this batch did commit
                raise lost from exc
            seq = new_seq
        return seq

    def _hook_writes(self, unit: Unit) -> list[tuple[tuple[str, str], dict[str, Any]]]:
        writes: list[tuple[tuple[str, str], dict[str, Any]]] = []
        for hook in unit.hooks:
            role = ("hook", hook.record.token)
            if hook.delete:
                delete = {
                    "Delete": {"TableName": self._table, "Key": items.hook_key(hook.record.token)}
                }
                writes.append((role, delete))
            else:
                put = self._put(
                    items.hook_item(hook.record),
                    "attribute_not_exists(PK) OR run_id = :run",
                    values={":run": items.s(hook.record.run_id)},
                )
                writes.append((role, put))
        return writes

    def _chunks(self, batch: AppendBatch) -> Iterable[list[_PackedUnit]]:
        """The batch's units, packed, in groups that fit one transaction each.

        Each event is counted as an item of its own, as if no page held two: the
        pages a chunk's events make can only be fewer.
        """
        chunk: list[_PackedUnit] = []
        # The run item, and in the first chunk the delivery claim.
        count, size = 1 + (batch.delivery is not None), 0
        for unit in batch.units:
            events = [items.event_attributes(event, self.payloads) for event in unit.events]
            hooks = self._hook_writes(unit)
            unit_count = len(events) + len(hooks)
            unit_size = sum(items.item_size(str(x)) for x in [*events, *(w for _, w in hooks)])
            if chunk and (
                count + unit_count > _MAX_TRANSACT_ITEMS or size + unit_size > _MAX_TRANSACT_BYTES
            ):
                yield chunk
                chunk, count, size = [], 1, 0
            chunk.append((unit, events, hooks))
            count += unit_count
            size += unit_size
        if chunk:
            yield chunk

    def _put(
        self,
        item: dict[str, Any],
        condition: str | None = None,
        *,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self._table, "Item": item}
        if condition:
            put["ConditionExpression"] = condition
        if names:
            put["ExpressionAttributeNames"] = names
        if values:
            put["ExpressionAttributeValues"] = values
        return {"Put": put}

    def _paginate(self, params: dict[str, Any]) -> Iterable[dict[str, Any]]:
        while True:
            page = self._ddb.query(**params)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            params = {**params, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    # --- queues ------------------------------------------------------------------------


def _progress(record: RunRecord) -> int:
    return {"pending": 0, "running": 1}.get(record.status, 2)
