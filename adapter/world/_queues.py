"""The two SQS queues (workflow turns, step attempts) and their dead-letter queues."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..core.errors import WorldError
from ._base import Outgoing
from ._config import AwsConfig

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SQS_BATCH = 10
SQS_MAX_DELAY = 900
MAX_VISIBILITY = 12 * 3600  # SQS's longest visibility timeout


class Queues:
    """Sends, postpones and redrives the runtime's messages (the SQS half of the world)."""

    def __init__(self, sqs: SQSClient, config: AwsConfig) -> None:
        self._sqs = sqs
        self.config = config

    def _url(self, kind: str) -> str:
        return self.config.step_queue_url if kind == "step" else self.config.workflow_queue_url

    def postpone(self, kind: str, receipt_handle: str, seconds: int) -> None:
        url = self._url(kind)
        self._sqs.change_message_visibility(
            QueueUrl=url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(MAX_VISIBILITY, int(seconds))),
        )

    def redrive(self, kind: str, limit: int | None = None) -> list[str]:
        url = self._url(kind)
        dlq = self._dead_letter_queue(url)
        moved: list[str] = []
        while limit is None or len(moved) < limit:
            want = SQS_BATCH if limit is None else min(SQS_BATCH, limit - len(moved))
            # Hidden long enough to be sent on and deleted; on a crash in between they
            # reappear in the DLQ and a second redrive sends them again (the runtime
            # takes a message twice without doing its work twice).
            got = self._sqs.receive_message(
                QueueUrl=dlq, MaxNumberOfMessages=want, VisibilityTimeout=60, WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                break
            for message in got:
                self._sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
                self._sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
                moved.append(message["Body"])
        return moved

    def _dead_letter_queue(self, url: str) -> str:
        answer = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
        policy = answer.get("Attributes", {}).get("RedrivePolicy")
        if not policy:
            raise WorldError(f"queue {url} has no dead-letter queue")
        arn = json.loads(policy)["deadLetterTargetArn"]
        account, name = arn.split(":")[4], arn.split(":")[5]
        return self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]

    def send(self, messages: Sequence[Outgoing]) -> None:
        by_queue: dict[str, list[Outgoing]] = {}
        for out in messages:
            url = self._url(out.message.kind)
            by_queue.setdefault(url, []).append(out)
        for url, outs in by_queue.items():
            for start in range(0, len(outs), SQS_BATCH):
                self._send_batch(url, outs[start : start + SQS_BATCH])

    def _send_batch(self, url: str, outs: Sequence[Outgoing]) -> None:
        if len(outs) == 1:
            self._sqs.send_message(
                QueueUrl=url,
                MessageBody=outs[0].message.model_dump_json(exclude_none=True),
                DelaySeconds=outs[0].delay_seconds,
            )
            return
        entries = {
            str(i): {
                "Id": str(i),
                "MessageBody": out.message.model_dump_json(exclude_none=True),
                "DelaySeconds": out.delay_seconds,
            }
            for i, out in enumerate(outs)
        }
        failed: list[Any] = []
        for _ in range(3):
            answer = self._sqs.send_message_batch(QueueUrl=url, Entries=list(entries.values()))  # type: ignore[arg-type]
            failed = answer.get("Failed", [])
            if not failed:
                return
            entries = {f["Id"]: entries[f["Id"]] for f in failed}
        raise WorldError(f"could not send {len(entries)} message(s) to {url}: {failed}")
