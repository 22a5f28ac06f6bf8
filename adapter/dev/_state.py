"""The stack's data across restarts (``--state-dir``)."""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._common import DEFAULT_PREFIX, REGION, SQS_MAX_DELAY, STATE_FILE_NAME, DevStackError

logger = logging.getLogger("adapter.dev")


def _encode_attr(value: Any) -> Any:
    # DynamoDB binary values arrive as bytes; JSON needs a marker to bring them back.
    if isinstance(value, bytes):
        return {"__b64__": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {k: _encode_attr(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode_attr(v) for v in value]
    return value


def _decode_attr(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__b64__"}:
            return base64.b64decode(value["__b64__"])
        return {k: _decode_attr(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_attr(v) for v in value]
    return value


@dataclass
class RestoreSummary:
    """What a restore brought back."""

    items: int = 0
    runs: int = 0
    messages: int = 0
    objects: int = 0
    saved_at: str | None = None


@dataclass
class StateStore:
    """Snapshots the stack's data to ``<state_dir>/moto-state.json`` and restores it.

    Args:
        state_dir: Where the snapshot lives (created if missing).
        prefix: The resource name prefix (table ``<prefix>-runs``, queues
            ``<prefix>-workflow``, ``<prefix>-step`` and their DLQs).
    """

    state_dir: Path
    prefix: str = DEFAULT_PREFIX
    _queue_names: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self._queue_names = [
            f"{self.prefix}-{kind}{dlq}" for kind in ("workflow", "step") for dlq in ("", "-dlq")
        ]

    @property
    def path(self) -> Path:
        return self.state_dir / STATE_FILE_NAME

    def save(self, env: dict[str, str], redelivering: Iterable[str] = ()) -> dict[str, int]:
        """Write a snapshot; return how many items, messages and objects it holds.

        Args:
            env: The stack's ``ADAPTER_*`` variables.
            redelivering: Ids of messages whose invocation failed: they keep waiting out
                their visibility timeout. Any other received message was in flight, and
                its invocation dies with this process: it is restored visible at once.
        """
        import boto3

        # Queues first, then the table: see the module docstring for why this order
        # makes any snapshot equivalent to a crash at that instant.
        messages = self._read_queues(set(redelivering))
        ddb = boto3.client("dynamodb")
        items = [
            _encode_attr(item)
            for page in ddb.get_paginator("scan").paginate(
                TableName=env["ADAPTER_TABLE_NAME"], ConsistentRead=True
            )
            for item in page.get("Items", [])
        ]
        objects = self._read_bucket(env.get("ADAPTER_BUCKET_NAME"))
        snapshot = {
            "format": 1,
            "saved_at": datetime.now(UTC).isoformat(),
            "prefix": self.prefix,
            "table": items,
            "queues": messages,
            "bucket": objects,
        }
        self.state_dir.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".json.tmp")
        partial.write_text(json.dumps(snapshot), encoding="utf-8")
        os.replace(partial, self.path)  # never leave half a snapshot behind
        return {
            "items": len(items),
            "messages": sum(len(m) for m in messages.values()),
            "objects": len(objects),
        }

    def restore(self, env: dict[str, str]) -> RestoreSummary | None:
        """Load the snapshot into the (empty) resources; ``None`` when there is none.

        Raises:
            DevStackError: when the snapshot file cannot be read.
        """
        import boto3

        if not self.path.is_file():
            return None
        try:
            snapshot = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DevStackError(f"cannot read the saved state {self.path}: {exc}") from exc
        summary = RestoreSummary(saved_at=snapshot.get("saved_at"))
        ddb = boto3.client("dynamodb")
        items = [_decode_attr(item) for item in snapshot.get("table", [])]
        for start in range(0, len(items), 25):
            requests: dict[str, Any] = {
                env["ADAPTER_TABLE_NAME"]: [
                    {"PutRequest": {"Item": item}} for item in items[start : start + 25]
                ]
            }
            while requests:
                answer = ddb.batch_write_item(RequestItems=requests)
                requests = answer.get("UnprocessedItems") or {}
        summary.items = len(items)
        summary.runs = sum(1 for item in items if item.get("SK", {}).get("S") == "RUN")
        bucket = env.get("ADAPTER_BUCKET_NAME")
        if bucket:
            s3 = boto3.client("s3")
            for obj in snapshot.get("bucket", []):
                s3.put_object(
                    Bucket=bucket,
                    Key=obj["key"],
                    Body=base64.b64decode(obj["body"]),
                    ContentType=obj.get("content_type") or "application/octet-stream",
                )
                summary.objects += 1
        sqs = boto3.client("sqs")
        now_ms = time.time() * 1000
        for name, messages in snapshot.get("queues", {}).items():
            try:
                url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            except sqs.exceptions.QueueDoesNotExist:
                logger.warning("saved messages of unknown queue %s dropped", name)
                continue
            for message in messages:
                # SQS delays stop at 15 minutes; a later timer arrives early and the
                # runtime re-enqueues it until due, as it does on AWS.
                delay = math.ceil(max(0.0, message["due_ms"] - now_ms) / 1000)
                sqs.send_message(
                    QueueUrl=url,
                    MessageBody=message["body"],
                    DelaySeconds=min(SQS_MAX_DELAY, delay),
                )
                summary.messages += 1
        return summary

    def _read_queues(self, redelivering: set[str]) -> dict[str, list[dict[str, Any]]]:
        # No SQS API lists delayed or in-flight messages without changing them, so read
        # moto's own queue objects (the server runs in this process). Read-only.
        from moto.sqs.models import sqs_backends

        out: dict[str, list[dict[str, Any]]] = {}
        for account in list(sqs_backends):
            backend = sqs_backends[account][REGION]
            for name in self._queue_names:
                queue = backend.queues.get(name)
                if queue is None:
                    continue
                saved = out.setdefault(name, [])
                for message in list(queue._messages):
                    due = float(message.delayed_until or 0.0)
                    if message.id in redelivering:
                        due = max(due, float(message.visible_at or 0.0))
                    saved.append({"body": message.body, "due_ms": due})
        return out

    def _read_bucket(self, bucket: str | None) -> list[dict[str, Any]]:
        import boto3

        if not bucket:
            return []
        s3 = boto3.client("s3")
        objects = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                got = s3.get_object(Bucket=bucket, Key=entry["Key"])
                objects.append(
                    {
                        "key": entry["Key"],
                        "body": base64.b64encode(got["Body"].read()).decode("ascii"),
                        "content_type": got.get("ContentType"),
                    }
                )
        return objects
