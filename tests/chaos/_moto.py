"""Make moto's DynamoDB and SQS safe to call from several threads at once.

moto is written for one caller at a time, and its shortcuts matter as soon as two
workers share it (the concurrency scenarios, the moto server of the load test):

* ``TransactWriteItems`` is not atomic when interleaved with another thread, and its
  rollback swaps in a deep copy of the whole table; a ``Query`` on one partition scans
  and sorts the whole table. ``adapter._moto.tune_moto`` (what LocalRuntime and
  ``adapter dev`` run moto with) fixes both: undo-log transactions under a lock, and
  queries that look at their partition only.
* ``ReceiveMessage`` mutates the queue without a lock, and DynamoDB actions read while
  another thread writes.

Real DynamoDB transactions are atomic and isolated, and reads never see half of one.
:func:`serialized_moto` gives moto those semantics for the duration of a test: moto
tuned as above, and one lock around every DynamoDB and SQS action. This is a fix of the
test double, not of the code under test.
"""

from __future__ import annotations

import contextlib
import functools
import threading
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


@contextlib.contextmanager
def serialized_moto() -> Iterator[None]:
    """Atomic, isolated DynamoDB transactions and thread-safe SQS in moto, for a while."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.responses import SQSResponse

    from adapter._moto import tune_moto

    tune_moto()  # undo-log transactions and partition queries, as LocalRuntime runs moto
    with contextlib.ExitStack() as stack:
        for cls in (DynamoHandler, SQSResponse):
            stack.enter_context(mock.patch.object(cls, "call_action", _locked(cls.call_action)))
        yield
