"""Count AWS API calls at the botocore level, by who made them and by operation.

Every boto3 client call goes through ``botocore.client.BaseClient._make_api_call``
(one logical call, whatever the HTTP retries underneath). We wrap it once per process
and attribute each call to a *role*:

* ``poller``  -- SQS ReceiveMessage / DeleteMessage / ChangeMessageVisibility: the work
  Lambda's event-source mapping does for us on AWS (LocalRuntime's pump, which reads
  moto's queues in-process and is counted at its own two methods, or the moto server
  driver here). Counted, but never as handler calls.
* ``handler`` -- calls made while serving a message: code that runs inside the Lambda
  invocation (LocalRuntime's invocations, on whichever thread, and the server driver's
  handler calls are marked with :func:`role`; any other thread's calls count too).
* ``client``  -- everything else on the driving thread: ``start()`` and the
  ``run.return_value`` polling of the benchmark itself.

Responses of DynamoDB reads (Query, GetItem, BatchGetItem, Scan) are inspected: we
count the items returned and the size of their JSON (DynamoDB's typed JSON, as on the
wire, compact separators).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

POLLER_OPS = frozenset(
    {
        "ReceiveMessage",
        "DeleteMessage",
        "DeleteMessageBatch",
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
    }
)
READ_OPS = frozenset({"Query", "GetItem", "BatchGetItem", "Scan"})

_local = threading.local()


@contextmanager
def role(name: str) -> Iterator[None]:
    """Attribute the calls made by this thread inside the block to ``name``."""
    previous = getattr(_local, "role", None)
    _local.role = name
    try:
        yield
    finally:
        _local.role = previous


def _current_role(operation: str) -> str:
    if operation in POLLER_OPS:
        return "poller"
    forced: str | None = getattr(_local, "role", None)
    if forced is not None:
        return forced
    return "client" if threading.current_thread() is threading.main_thread() else "handler"


def _items_of(operation: str, response: dict[str, Any]) -> list[Any]:
    if operation in ("Query", "Scan"):
        return list(response.get("Items", []))
    if operation == "GetItem":
        return [response["Item"]] if response.get("Item") else []
    if operation == "BatchGetItem":
        return [item for items in response.get("Responses", {}).values() for item in items]
    return []


@dataclass
class Snapshot:
    """Counters at one moment; subtract two to get what happened in between."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (role, operation)
    items: Counter[str] = field(default_factory=Counter)  # role -> items read
    bytes: Counter[str] = field(default_factory=Counter)  # role -> bytes of items read
    messages: Counter[str] = field(default_factory=Counter)  # role -> SQS messages sent

    def __sub__(self, other: Snapshot) -> Snapshot:
        return Snapshot(
            self.calls - other.calls,
            self.items - other.items,
            self.bytes - other.bytes,
            self.messages - other.messages,
        )

    def by_op(self, who: str) -> dict[str, int]:
        return dict(
            sorted(
                ((op, n) for (r, op), n in self.calls.items() if r == who),
                key=lambda kv: (-kv[1], kv[0]),
            )
        )

    def total(self, who: str) -> int:
        return sum(n for (r, _), n in self.calls.items() if r == who)

    def as_dict(self) -> dict[str, Any]:
        roles = ("handler", "client", "poller")
        return {
            "calls": {r: self.total(r) for r in roles},
            "by_operation": {r: self.by_op(r) for r in roles},
            "items_read": {r: self.items[r] for r in roles},
            "bytes_read": {r: self.bytes[r] for r in roles},
            "messages_sent": {r: self.messages[r] for r in roles},
        }


class CallCounter:
    """Process-wide counter of botocore API calls (install once, read snapshots)."""

    _installed: CallCounter | None = None

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now = Snapshot()
        # (owner, name, original, counting): what install() swapped, to undo for a while.
        self._swaps: list[tuple[Any, str, Any, Any]] = []

    @classmethod
    def install(cls) -> CallCounter:
        if cls._installed is not None:
            return cls._installed
        import botocore.client

        counter = cls()
        original = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]

        def _make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            who = _current_role(operation_name)
            response = original(client, operation_name, api_params)
            counter._record(who, operation_name, api_params, response)
            return response

        _make_api_call.__wrapped__ = original  # type: ignore[attr-defined]
        counter._swap(botocore.client.BaseClient, "_make_api_call", _make_api_call)
        counter._count_local_poller()
        cls._installed = counter
        return counter

    def _swap(self, owner: Any, name: str, counting: Any) -> None:
        self._swaps.append((owner, name, owner.__dict__[name], counting))
        setattr(owner, name, counting)

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Nothing counted inside, at no cost: for timings set against other systems,
        which pay for no counting."""
        for owner, name, original, _ in self._swaps:
            setattr(owner, name, original)
        try:
            yield
        finally:
            for owner, name, _, counting in self._swaps:
                setattr(owner, name, counting)

    def _count_local_poller(self) -> None:
        """LocalRuntime's poller reads moto's queues in-process, as the event-source
        mapping reads SQS (no botocore call): count its receives and deletes as the
        poller's API calls all the same."""
        # LocalRuntime's queue pump (its base class) defines them.
        from adapter.testing._pump import QueuePump

        receive, delete = QueuePump._receive, QueuePump._delete

        def _receive(rt: Any, queue: Any) -> list[dict[str, Any]]:
            with self._lock:
                self._now.calls[("poller", "ReceiveMessage")] += 1
            return receive(rt, queue)

        def _delete(rt: Any, queue: Any, receipt_handle: str) -> None:
            with self._lock:
                self._now.calls[("poller", "DeleteMessage")] += 1
            delete(rt, queue, receipt_handle)

        self._swap(QueuePump, "_receive", _receive)
        self._swap(QueuePump, "_delete", _delete)

        # An invocation may run on the driving thread itself (LocalRuntime._invoke):
        # what it calls is the handler's all the same.
        as_invocation = QueuePump._as_invocation

        def _as_invocation(invocation: Any) -> Any:
            with role("handler"):
                return as_invocation(invocation)

        self._swap(QueuePump, "_as_invocation", staticmethod(_as_invocation))

    def _record(self, who: str, operation: str, params: dict[str, Any], response: Any) -> None:
        items = _items_of(operation, response) if operation in READ_OPS else []
        size = len(json.dumps(items, separators=(",", ":"), default=str)) if items else 0
        sent = 0
        if operation == "SendMessage":
            sent = 1
        elif operation == "SendMessageBatch":
            sent = len(params.get("Entries", ()))
        with self._lock:
            self._now.calls[(who, operation)] += 1
            if items:
                self._now.items[who] += len(items)
                self._now.bytes[who] += size
            if sent:
                self._now.messages[who] += sent

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                Counter(self._now.calls),
                Counter(self._now.items),
                Counter(self._now.bytes),
                Counter(self._now.messages),
            )
