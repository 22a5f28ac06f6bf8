"""The stack's data across restarts and crashes (``--state-dir``).

moto 5 has no snapshot or persistence API (its ``/moto-api/`` request recorder would
replay receives and deletes with stale receipt handles), so :class:`StateStore` saves
the data itself to ``moto-state.json``: the table's items, every message of the four
queues (with when it becomes receivable and how often it was received) and the
bucket's objects.

**Consistent.** The table and the queues are read together while holding
:data:`~adapter._moto.MOTO_LOCK`, which every moto request but an SQS receive
holds too: the snapshot sees no write half done, as a crash of the process at that
instant would leave it. The runtime recovers from exactly that (it must, on AWS): work
recorded but whose message was not sent yet is sent again by the stall sweep the stack
runs at start-up, duplicates are harmless (step claims, leases and conditional appends
make redelivery safe). Messages that were being processed are restored visible at once
(their invocation died with the process) with their receive count, so a poison message
still reaches its dead-letter queue. Objects are read after the table: every object an
item refers to was written before it.

**Durable.** The file is written whole to a temporary file, flushed to disk and
renamed over the old one: a ``kill -9`` at any moment leaves the previous snapshot or
the new one, never half of one. :class:`StateSaver` saves again soon after anything
changed, and an accepted write (``POST /runs``, a hook, a cancel) is answered only once
a snapshot taken after it is on disk: nothing the API accepted is lost.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._moto import MOTO_LOCK, message_body
from ..world import ENV_BUCKET, ENV_TABLE
from ._common import DEFAULT_PREFIX, REGION, SQS_MAX_DELAY, STATE_FILE_NAME, DevStackError

logger = logging.getLogger("adapter.dev")

SAVE_EVERY_SECONDS = 0.5
"""How soon after a change the state is saved again (at least: a save that took long
waits longer, so saving never takes more than a fifth of the time)."""
DURABLE_TIMEOUT_SECONDS = 30.0


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

    Reads and writes moto's backends in this process (the moto server runs here).

    Args:
        state_dir: Where the snapshot lives (created if missing).
        prefix: The resource name prefix (table ``<prefix>-runs``, queues
            ``<prefix>-workflow``, ``<prefix>-step`` and their DLQs).
    """

    state_dir: Path
    prefix: str = DEFAULT_PREFIX
    _queue_names: list[str] = field(init=False)
    _objects: dict[str, dict[str, Any]] = field(init=False, default_factory=dict)

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
        waiting = set(redelivering)
        with MOTO_LOCK:  # no write in between: see the module docstring
            items = self._read_table(env[ENV_TABLE])
            messages = self._read_queues(waiting)
        objects = self._read_bucket(env.get(ENV_BUCKET))
        snapshot = {
            "format": 2,
            "saved_at": datetime.now(UTC).isoformat(),
            "prefix": self.prefix,
            "table": items,
            "queues": messages,
            "bucket": objects,
        }
        self.state_dir.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".json.tmp")
        with partial.open("w", encoding="utf-8") as out:
            json.dump(snapshot, out)
            out.flush()
            os.fsync(out.fileno())
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
        if snapshot.get("format") != 2:
            raise DevStackError(
                f"the saved state {self.path} was written by another version of adapter "
                f"(format {snapshot.get('format')!r}); move it away to start afresh"
            )
        summary = RestoreSummary(saved_at=snapshot.get("saved_at"))
        bucket = env.get(ENV_BUCKET)
        if bucket:  # objects first: items refer to them
            s3 = boto3.client("s3")
            for obj in snapshot.get("bucket", []):
                s3.put_object(
                    Bucket=bucket,
                    Key=obj["key"],
                    Body=base64.b64decode(obj["body"]),
                    ContentType=obj.get("content_type") or "application/octet-stream",
                )
                summary.objects += 1
        table = env[ENV_TABLE]
        items = [_decode_attr(item) for item in snapshot.get("table", [])]
        with MOTO_LOCK:
            backend = _dynamodb_backend(table)
            for item in items:
                backend.put_item(table, item)
            summary.items = len(items)
            summary.runs = sum(1 for item in items if item.get("SK", {}).get("S") == "RUN")
            summary.messages = self._restore_queues(snapshot.get("queues", {}))
        return summary

    def _read_table(self, name: str) -> list[dict[str, Any]]:
        table = _dynamodb_backend(name).get_table(name)
        return [
            _encode_attr(item.to_json()["Attributes"])
            for entry in list(table.items.values())
            for item in (list(entry.values()) if isinstance(entry, dict) else [entry])
        ]

    def _read_queues(self, redelivering: set[str]) -> dict[str, list[dict[str, Any]]]:
        # No SQS API lists delayed or in-flight messages without changing them: moto's
        # own queue objects are read (read-only).
        out: dict[str, list[dict[str, Any]]] = {}
        for backend in _sqs_backends():
            for name in self._queue_names:
                queue = backend.queues.get(name)
                if queue is None:
                    continue
                saved = out.setdefault(name, [])
                for message in list(queue._messages):
                    due = float(message.delayed_until or 0.0)
                    if message.id in redelivering:
                        due = max(due, float(message.visible_at or 0.0))
                    saved.append(
                        {
                            "body": message_body(message),
                            "due_ms": due,
                            "receive_count": int(message.approximate_receive_count or 0),
                        }
                    )
        return out

    def _restore_queues(self, queues: dict[str, list[dict[str, Any]]]) -> int:
        now_ms = time.time() * 1000
        restored = 0
        backends = _sqs_backends()
        for name, messages in queues.items():
            backend = next((b for b in backends if name in b.queues), None)
            if backend is None:
                logger.warning("saved messages of unknown queue %s dropped", name)
                continue
            for saved in messages:
                # SQS delays stop at 15 minutes; a later timer arrives early and the
                # runtime re-enqueues it until due, as it does on AWS.
                delay = math.ceil(max(0.0, saved["due_ms"] - now_ms) / 1000)
                message = backend.send_message(
                    name, saved["body"], delay_seconds=min(SQS_MAX_DELAY, delay)
                )
                message.approximate_receive_count = int(saved.get("receive_count", 0))
                restored += 1
        return restored

    def _read_bucket(self, bucket: str | None) -> list[dict[str, Any]]:
        import boto3

        if not bucket:
            return []
        s3 = boto3.client("s3")
        seen: dict[str, dict[str, Any]] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                key, etag = entry["Key"], entry.get("ETag")
                known = self._objects.get(key)
                if known is None or known["etag"] != etag:  # payloads rarely change: read once
                    got = s3.get_object(Bucket=bucket, Key=key)
                    known = {
                        "key": key,
                        "etag": etag,
                        "body": base64.b64encode(got["Body"].read()).decode("ascii"),
                        "content_type": got.get("ContentType"),
                    }
                seen[key] = known
        self._objects = seen
        return list(seen.values())


def _dynamodb_backend(table: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    for account in list(dynamodb_backends):
        backend = dynamodb_backends[account][REGION]
        if table in backend.tables:
            return backend
    raise DevStackError(f"no table {table} in this process's moto")


def _sqs_backends() -> list[Any]:
    from moto.sqs.models import sqs_backends

    return [sqs_backends[account][REGION] for account in list(sqs_backends)]


class StateSaver:
    """Saves the state soon after anything changed, on a thread of its own, and makes
    writes durable on request (:meth:`durable`): several requests waiting at once are
    covered by one save (a group commit).

    Args:
        store: Where to save.
        env: The stack's ``ADAPTER_*`` variables.
        changes: A counter that grows when the state may have changed.
        redelivering: The ids of messages whose last invocation failed (see
            :meth:`StateStore.save`).
    """

    def __init__(
        self,
        store: StateStore,
        env: dict[str, str],
        *,
        changes: Callable[[], int],
        redelivering: Callable[[], Iterable[str]],
    ) -> None:
        self.store = store
        self._env = env
        self._changes = changes
        self._redelivering = redelivering
        self._cond = threading.Condition()
        self._asked = 0  # tickets handed out by durable()
        self._covered = 0  # tickets covered by a save on disk
        self._failed: Exception | None = None
        self._stop = False
        self._saved_changes = -1
        self._thread = threading.Thread(target=self._loop, name="dev-state", daemon=True)
        self.saves = 0

    def start(self) -> None:
        self._thread.start()

    def durable(self) -> None:
        """Return once a snapshot started after this call is on disk.

        Raises:
            DevStackError: the save failed or took too long.
        """
        with self._cond:
            self._asked += 1
            ticket = self._asked
            self._cond.notify_all()
            if not self._cond.wait_for(
                lambda: self._covered >= ticket or self._stop, DURABLE_TIMEOUT_SECONDS
            ):
                raise DevStackError(f"the state was not saved in {DURABLE_TIMEOUT_SECONDS:.0f}s")
            if self._covered < ticket:
                raise DevStackError("the stack is stopping: the state was not saved")
            if self._failed is not None:
                raise DevStackError(f"saving the state failed: {self._failed}")

    def stop(self) -> dict[str, int] | None:
        """Stop the thread and save one last time; return the final counts."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(DURABLE_TIMEOUT_SECONDS)
        return self.store.save(self._env, self._redelivering())

    def _loop(self) -> None:
        pause = SAVE_EVERY_SECONDS
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stop or self._asked > self._covered, pause)
                if self._stop:
                    return
                ticket = self._asked
            changes = self._changes()
            if ticket == self._covered and changes == self._saved_changes:
                continue
            began = time.monotonic()
            failed: Exception | None = None
            try:
                self.store.save(self._env, self._redelivering())
                self._saved_changes = changes
                self.saves += 1
            except Exception as exc:  # a full disk, say: told to whoever waits
                logger.warning("saving the state to %s failed: %s", self.store.path, exc)
                failed = exc
            took = time.monotonic() - began
            pause = max(SAVE_EVERY_SECONDS, 4 * took)
            with self._cond:
                self._failed = failed
                self._covered = ticket
                self._cond.notify_all()
