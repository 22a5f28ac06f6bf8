"""Make moto's DynamoDB and SQS safe to call from several threads at once.

moto is written for one caller at a time. Two of its shortcuts matter as soon as two
workers share it (the concurrency scenarios, the moto server of the load test):

* ``TransactWriteItems`` checks and applies its items one by one, and on a failed
  condition rolls back by swapping in a deep copy of the *whole table* taken before
  the transaction. Interleaved with another thread, a transaction is not atomic and a
  rollback silently undoes the other thread's writes; the deep copy also costs
  O(table size) per transaction and races with concurrent writers
  ("dictionary changed size during iteration").
* ``ReceiveMessage`` mutates the queue without a lock.
* A ``Query`` on one partition scans and sorts the whole table: O(table) per read.
* ``ReceiveMessage`` builds every queue attribute for every message it returns.

Real DynamoDB transactions are atomic and isolated, and reads never see half of one.
:func:`serialized_moto` gives moto those semantics for the duration of a test: one
lock around every DynamoDB and SQS action; transactions rolled back by restoring just
the items they touched (no whole-table copy); queries that look at their partition only.
This is a fix of the test double, not of the code under test.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

_LOCK = threading.RLock()


def _locked(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return fn(*args, **kwargs)

    return wrapper


def _atomic_transact(original: Callable[..., Any]) -> Callable[..., Any]:
    no_copy = types.SimpleNamespace(deepcopy=lambda value, memo=None: value)

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _LOCK:
            try:
                undo = _snapshot(self, transact_items)
            except Exception:
                return original(self, transact_items)  # let moto report what is wrong
            # moto applies item by item and, on a failed condition, swaps in a deep copy
            # of the whole table taken beforehand. Skip that copy and put back just the
            # items this transaction touches instead.
            try:
                with mock.patch("moto.dynamodb.models.copy", no_copy):
                    return original(self, transact_items)
            except BaseException:
                _restore(undo)
                raise

    return transact_write_items


def _snapshot(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """``(table, hash, range, deep copy of the item or None)`` per touched key."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    undo = []
    for item in transact_items:
        op_type, op = next(iter(item.items()))
        table = backend.get_table(op["TableName"])
        attrs = op["Item"] if op_type == "Put" else op["Key"]
        hash_key = DynamoType(attrs[table.hash_key_attr])
        range_key = (
            DynamoType(attrs[table.range_key_attr]) if table.range_key_attr is not None else None
        )
        current = table.get_item(hash_key, range_key)
        undo.append((table, hash_key, range_key, copy.deepcopy(current)))
    return undo


def _restore(undo: list[tuple[Any, ...]]) -> None:
    for table, hash_key, range_key, old in reversed(undo):
        if range_key is None:
            if old is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = old
        elif old is None:
            table.items[hash_key].pop(range_key, None)
        else:
            table.items[hash_key][range_key] = old


def _partition_query(original: Callable[..., Any]) -> Callable[..., Any]:
    from collections import defaultdict

    @functools.wraps(original)
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is not None or hash_key is None or not self.range_key_attr:
            return original(self, hash_key, *args, **kwargs)
        with _LOCK:
            everything = self.items
            # moto scans and sorts the whole table for a query on one partition:
            # show it only that partition (the answer is the same).
            partition = defaultdict(dict)
            if hash_key in everything:
                partition[hash_key] = everything[hash_key]
            self.items = partition
            try:
                return original(self, hash_key, *args, **kwargs)
            finally:
                self.items = everything

    return query


def _retention_check(self: Any, queue_name: str, message: Any) -> bool:
    """moto's check, without building every queue attribute for every message received."""
    from moto.sqs import models

    queue = self.get_queue(queue_name)
    retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
    return bool(retain_until > models.unix_time())  # the (possibly virtual) clock, late-bound


@contextlib.contextmanager
def serialized_moto() -> Iterator[None]:
    """Atomic, isolated DynamoDB transactions and thread-safe SQS in moto, for a while."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.models import SQSBackend
    from moto.sqs.responses import SQSResponse

    with contextlib.ExitStack() as stack:
        for cls in (DynamoHandler, SQSResponse):
            stack.enter_context(mock.patch.object(cls, "call_action", _locked(cls.call_action)))
        stack.enter_context(
            mock.patch.object(
                DynamoDBBackend,
                "transact_write_items",
                _atomic_transact(DynamoDBBackend.transact_write_items),
            )
        )
        stack.enter_context(mock.patch.object(Table, "query", _partition_query(Table.query)))
        stack.enter_context(
            mock.patch.object(
                SQSBackend, "is_message_valid_based_on_retention_period", _retention_check
            )
        )
        yield
