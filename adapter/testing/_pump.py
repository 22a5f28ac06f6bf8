"""``LocalRuntime``'s stand-in for Lambda's event-source mapping: it receives messages
from moto's queues and runs each as an invocation of its own, on a thread of its own.

Read in-process (no client call), so moto's visibility timeouts, receive counts and
redrive apply, as they do to the mapping on AWS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

from .._moto import message_body
from ..runtime import Runtime, loop_running
from ..world import ENV_STEP_QUEUE, ENV_WORKFLOW_QUEUE
from ._clock import EPOCH

_T = TypeVar("_T")
# Whether this thread is running an invocation (see QueuePump._invoke).
_here = threading.local()

_ACCOUNT = "123456789012"
REGION = "us-east-1"


class QueuePump:
    """Receives and processes the workflow and step queues' messages (a mixin of
    ``LocalRuntime``, which sets the attributes declared here)."""

    env: dict[str, str]
    _in_flight: set[str]
    _lock: threading.RLock
    _invokers: ThreadPoolExecutor

    @property
    def runtime(self) -> Runtime:
        """The runtime messages are handed to."""
        raise NotImplementedError

    def _invoke(self, invocation: Callable[[], _T]) -> _T:
        """Run ``invocation`` as Lambda would run an invocation: on a thread of its own.

        That thread may be the caller's, when the caller is not inside an invocation
        itself and runs no event loop: handing work to another thread and waiting for
        it costs more than a cheap step. Otherwise (a step waiting for a child run
        drives this runtime from inside, with its loop running) it is a pooled thread,
        never shared by two invocations at once.
        """
        if getattr(_here, "invoking", False) or loop_running():
            return self._invokers.submit(self._as_invocation, invocation).result()
        return self._as_invocation(invocation)

    @staticmethod
    def _as_invocation(invocation: Callable[[], _T]) -> _T:
        _here.invoking = True
        try:
            return invocation()
        finally:
            _here.invoking = False

    @staticmethod
    def _sqs() -> Any:
        from moto.sqs.models import sqs_backends

        return sqs_backends[_ACCOUNT][REGION]

    def _queues(self) -> list[Any]:
        backend = self._sqs()
        return [
            backend.queues[url.rsplit("/", 1)[1]]
            for url in (self.env[ENV_WORKFLOW_QUEUE], self.env[ENV_STEP_QUEUE])
        ]

    def _next_due(self) -> datetime | None:
        """When the next queued message (delayed or invisible) becomes receivable."""
        moments = [
            max(message.visible_at, message.delayed_until)
            for queue in self._queues()
            for message in list(queue._messages)
            if message.id not in self._in_flight
        ]
        if not moments:
            return None
        # moto treats "visible" strictly after visible_at: step one millisecond past it.
        return EPOCH + timedelta(milliseconds=min(moments) + 1)

    def _hold_in_flight(self) -> None:
        # A message being processed (a step polling a child, say) must not reappear when
        # a nested drain moves the clock past its visibility timeout: its "invocation"
        # is still running.
        for queue in self._queues():
            for message in list(queue._messages):
                if message.id in self._in_flight:
                    message.change_visibility(43_200)

    def _pump(self) -> int:
        """Receive and process messages until none is visible; return how many."""
        processed = 0
        while True:
            received = 0
            for queue in self._queues():
                if not self._receivable(queue):
                    continue  # spare an empty ReceiveMessage (the ESM's cost, not ours)
                with self._lock:
                    self._hold_in_flight()
                    batch = self._receive(queue)
                for raw in batch:
                    received += 1
                    self._process_one(queue, raw)
            processed += received
            if not received:
                return processed

    def _receive(self, queue: Any) -> list[dict[str, Any]]:
        """Up to 10 messages, shaped as ``ReceiveMessage`` returns them.

        The event-source mapping polls the queue on AWS, not the function: here it is
        moto's queue, read in-process (its visibility timeouts, receive counts and
        redrive apply) without a client call.
        """
        received = self._sqs().receive_message(queue.name, 10, 0, queue.visibility_timeout)
        return [
            {
                "MessageId": message.id,
                "ReceiptHandle": message.receipt_handle,
                "Body": message_body(message),
                "MD5OfBody": message.body_md5,
                "Attributes": {
                    "ApproximateReceiveCount": str(message.approximate_receive_count),
                    "SentTimestamp": str(message.sent_timestamp),
                    "ApproximateFirstReceiveTimestamp": str(
                        message.approximate_first_receive_timestamp
                    ),
                },
            }
            for message in received
        ]

    def _delete(self, queue: Any, receipt_handle: str) -> None:
        self._sqs().delete_message(queue.name, receipt_handle)

    def _process_one(self, queue: Any, raw: dict[str, Any]) -> None:
        from ..aws import process_sqs_event
        from ..dev import deliver

        self._in_flight.add(raw["MessageId"])
        try:
            self._invoke(
                lambda: deliver(
                    raw,
                    queue.queue_arn,
                    lambda event: process_sqs_event(event, None, self.runtime),
                    lambda handle: self._delete(queue, handle),
                )
            )
        finally:
            self._in_flight.discard(raw["MessageId"])

    def _receivable(self, queue: Any) -> bool:
        return any(
            m.visible and not m.delayed and m.id not in self._in_flight for m in queue._messages
        )
