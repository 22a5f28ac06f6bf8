"""The SQS event-source mapping, locally: poll the queues, run each message as its own
"invocation" of the Lambda handler, delete what it does not report as failed."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._common import (
    DEV_FUNCTION_TIMEOUT,
    MAX_CONCURRENT_INVOCATIONS,
    POLL_WAIT_SECONDS,
    REGION,
    SHUTDOWN_GRACE_SECONDS,
)
from ._motoserver import queue_arn

if TYPE_CHECKING:
    from ..runtime import Runtime

logger = logging.getLogger("adapter.dev")

SqsProcessor = Callable[[dict[str, Any]], dict[str, Any]]


def sqs_record(raw: dict[str, Any], arn: str) -> dict[str, Any]:
    """One received SQS message as a record of a Lambda SQS event."""
    from ..aws import sqs_record as record

    return record(raw, arn, REGION)


def deliver(
    raw: dict[str, Any],
    arn: str,
    process: SqsProcessor,
    delete: Callable[[str], object],
) -> bool:
    """Deliver one received message as the event-source mapping does, with a batch of one.

    ``process`` gets the Lambda-shaped SQS event; the message is deleted (``delete``
    gets its receipt handle) unless the response reports it in ``batchItemFailures`` or
    the invocation crashed: then SQS delivers it again after its visibility timeout.
    The dev stack's worker and ``LocalRuntime`` both deliver through here.

    Returns:
        Whether the message was acknowledged (deleted, or at least asked to be).
    """
    message_id = raw["MessageId"]
    try:
        response = process({"Records": [sqs_record(raw, arn)]})
    except KeyboardInterrupt:
        raise  # the person running this, not a crash to simulate
    except BaseException as exc:  # the invocation crashed: SQS redelivers
        logger.warning(
            "invocation for message %s crashed: %s: %s; it will be redelivered",
            message_id,
            type(exc).__name__,
            exc,
        )
        return False
    reported = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
    if message_id in reported:
        logger.info("message %s reported as failed; SQS will redeliver it", message_id)
        return False
    try:
        delete(raw["ReceiptHandle"])
    except Exception as exc:  # the message simply comes back: handlers are idempotent
        logger.warning("deleting message %s failed: %s", message_id, exc)
    return True


class InvocationContext:
    """What the handler reads of Lambda's context: the time left before the invocation
    would be killed. A step attempt's lease ends there (plus a margin), so a step whose
    process died is taken over about one function timeout later, as on AWS."""

    def __init__(self, timeout_seconds: float) -> None:
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_processor(
    function_timeout: float = DEV_FUNCTION_TIMEOUT, runtime: Runtime | None = None
) -> SqsProcessor:
    """What the Lambda function does with an SQS event, with ``function_timeout``, on
    ``runtime`` (default: the environment's)."""

    def process(event: dict[str, Any]) -> dict[str, Any]:
        from ..aws import process_sqs_event
        from ..runtime import env_runtime

        context: Any = InvocationContext(function_timeout)
        return process_sqs_event(event, context, runtime or env_runtime())

    return process


class Worker:
    """Polls the queues and runs each message as its own "invocation", on its own thread.

    Like the Lambda event-source mapping with a batch size of one: a message is deleted
    when the handler does not report it in ``batchItemFailures``; a reported one, or one
    whose invocation crashed, comes back after its visibility timeout.
    """

    def __init__(
        self,
        queue_urls: Sequence[str],
        *,
        process: SqsProcessor | None = None,
        max_concurrency: int = MAX_CONCURRENT_INVOCATIONS,
        wait_seconds: int = POLL_WAIT_SECONDS,
    ) -> None:
        import boto3

        self._queues = [(url, queue_arn(url)) for url in queue_urls]
        self._process = process or lambda_processor()
        self._max = max_concurrency
        self._wait = wait_seconds
        self._sqs = boto3.client("sqs")
        self._stop = threading.Event()
        self._slots = threading.Condition()
        self._in_flight: dict[str, threading.Thread] = {}
        self._redelivering: set[str] = set()
        self._pollers: list[threading.Thread] = []
        self.processed = 0
        """Invocations finished so far (a cheap "something changed" signal)."""

    def start(self) -> None:
        """Start one polling thread per queue (so a long poll on one never delays the other)."""
        for url, arn in self._queues:
            name = url.rsplit("/", 1)[-1]
            thread = threading.Thread(
                target=self._poll, args=(url, arn), name=f"poll-{name}", daemon=True
            )
            thread.start()
            self._pollers.append(thread)

    def in_flight(self) -> set[str]:
        """Ids of the messages being processed right now."""
        with self._slots:
            return set(self._in_flight)

    def redelivering(self) -> set[str]:
        """Ids of the messages whose last invocation failed (reported or crashed): SQS
        delivers them again after their visibility timeout."""
        with self._slots:
            return set(self._redelivering)

    def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> list[str]:
        """Stop polling, wait up to ``grace`` seconds for running invocations; return the ids
        of those abandoned (as after a crash, their messages are delivered again)."""
        self._stop.set()
        with self._slots:
            self._slots.notify_all()
        for thread in self._pollers:
            thread.join(self._wait + 5)
        deadline = time.monotonic() + grace
        with self._slots:
            while self._in_flight and time.monotonic() < deadline:
                self._slots.wait(max(0.0, min(0.2, deadline - time.monotonic())))
            return sorted(self._in_flight)

    def _poll(self, url: str, arn: str) -> None:
        while not self._stop.is_set():
            with self._slots:
                while len(self._in_flight) >= self._max and not self._stop.is_set():
                    self._slots.wait(0.5)
                free = self._max - len(self._in_flight)
            if self._stop.is_set():
                return
            try:
                answer = self._sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=max(1, min(10, free)),
                    WaitTimeSeconds=self._wait,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
            except Exception as exc:  # moto stopping, or a hiccup: keep polling until told
                if self._stop.is_set():
                    return
                logger.warning("receiving from %s failed: %s", url.rsplit("/", 1)[-1], exc)
                self._stop.wait(1.0)
                continue
            for raw in answer.get("Messages", []):
                self._dispatch(url, arn, dict(raw))

    def _dispatch(self, url: str, arn: str, raw: dict[str, Any]) -> None:
        thread = threading.Thread(
            target=self._invoke,
            args=(url, arn, raw),
            name=f"invoke-{raw['MessageId'][:8]}",
            daemon=True,  # an abandoned invocation must not keep the process alive
        )
        with self._slots:
            self._in_flight[raw["MessageId"]] = thread
        thread.start()

    def _invoke(self, url: str, arn: str, raw: dict[str, Any]) -> None:
        message_id = raw["MessageId"]
        done = False
        began = time.perf_counter()
        try:
            done = deliver(
                raw,
                arn,
                self._process,
                lambda handle: self._sqs.delete_message(QueueUrl=url, ReceiptHandle=handle),
            )
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "%s in %.0fms", _describe(raw["Body"]), (time.perf_counter() - began) * 1000
                )
        finally:
            with self._slots:
                self._in_flight.pop(message_id, None)
                if done:
                    self._redelivering.discard(message_id)
                else:
                    self._redelivering.add(message_id)
                self.processed += 1
                self._slots.notify_all()


def _describe(body: str) -> str:
    """``workflow turn of wrun_…`` or ``step step_2 of wrun_…``, for the verbose log."""
    try:
        message = json.loads(body)
        if message.get("kind") == "step":
            return f"step {message.get('correlation_id')} of {message.get('run_id')}"
        return f"{message.get('kind', 'message')} turn of {message.get('run_id')}"
    except (ValueError, AttributeError):
        return "a message that is not adapter's"
