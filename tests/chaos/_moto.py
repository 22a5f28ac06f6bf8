"""Make moto's DynamoDB and SQS safe to call from several threads at once.

moto is written for one caller at a time, and its shortcuts matter as soon as two
workers share it (the concurrency scenarios, the moto server of the load test):

* ``TransactWriteItems`` is not atomic when interleaved with another thread.
  ``adapter._moto.tuned`` (what LocalRuntime and ``adapter dev`` run moto with)
  serializes DynamoDB requests on ``adapter._moto.MOTO_LOCK``, and (unless
  ``ADAPTER_TUNE_MOTO=0``) makes transactions and queries cost what they touch.
* ``ReceiveMessage`` mutates the queue without a lock: here SQS requests take the same
  lock too (LocalRuntime's poller reads moto's queues in-process, never long-polling).

Real DynamoDB transactions are atomic and isolated, and reads never see half of one.
:func:`serialized_moto` gives moto those semantics for the duration of a test. This is
a fix of the test double, not of the code under test.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from unittest import mock

from adapter._moto import tuned
from adapter._moto._dynamodb import locked


@contextlib.contextmanager
def serialized_moto() -> Iterator[None]:
    """Atomic, isolated DynamoDB transactions and thread-safe SQS in moto, for a while."""
    from moto.sqs.responses import SQSResponse

    # ``locked``: under adapter._moto.MOTO_LOCK, the lock DynamoDB's handler takes too.
    with tuned(), mock.patch.object(SQSResponse, "call_action", locked(SQSResponse.call_action)):
        yield
