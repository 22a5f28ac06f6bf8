"""The same stack against a moto *server* over HTTP, driven like Lambda would be.

A ``ThreadedMotoServer`` listens on a free 127.0.0.1 port; ``AWS_ENDPOINT_URL`` points
boto3 at it; ``create_resources`` makes the table, queues and bucket there. A small
loop plays Lambda's SQS event-source mapping: it receives messages from both queues and
hands each one, as a one-record Lambda SQS event, to the pinned entry point
``adapter.aws.handler``; a message is deleted unless reported in
``batchItemFailures`` (as LocalRuntime's ``_pump``/``_process_one`` do).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from ._counting import role

_REGION = "us-east-1"
_ACCOUNT = "123456789012"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerStack:
    """A moto server, the resources on it, and a Lambda-like driver of the queues."""

    def __init__(self) -> None:
        self.endpoint = ""
        self.env: dict[str, str] = {}
        self._server: Any = None
        self._env_patch: Any = None
        self._sqs: Any = None

    def __enter__(self) -> ServerStack:
        from moto.server import ThreadedMotoServer

        import adapter.runtime as runtime_module
        from adapter.world.aws import create_resources

        port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        base = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": _REGION,
        }
        self._env_patch = mock.patch.dict(os.environ, base)
        self._env_patch.start()
        for key in [k for k in os.environ if k.startswith("ADAPTER_")]:
            os.environ.pop(key)
        self.env = create_resources(f"bench-{uuid.uuid4().hex[:8]}")
        os.environ.update(self.env)
        runtime_module.reset_env_runtime()
        import boto3

        self._sqs = boto3.client("sqs", region_name=_REGION, endpoint_url=self.endpoint)
        return self

    def __exit__(self, *exc: object) -> None:
        import adapter.runtime as runtime_module

        runtime_module.reset_env_runtime()
        if self._env_patch is not None:
            self._env_patch.stop()
        if self._server is not None:
            self._server.stop()

    # --- driving ---------------------------------------------------------------------------

    def _queues(self) -> list[tuple[str, str]]:
        return [
            (url, f"arn:aws:sqs:{_REGION}:{_ACCOUNT}:{url.rsplit('/', 1)[1]}")
            for url in (self.env["ADAPTER_WORKFLOW_QUEUE_URL"], self.env["ADAPTER_STEP_QUEUE_URL"])
        ]

    def pump(self) -> int:
        """Receive and handle messages until the queues have nothing visible."""
        from adapter.aws import handler, sqs_record

        processed = 0
        while True:
            received = 0
            for url, arn in self._queues():
                answer = self._sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
                for raw in answer.get("Messages", []):
                    received += 1
                    record = sqs_record(raw, arn, _REGION)
                    with role("handler"):
                        response = handler({"Records": [record]}, None)
                    failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
                    if raw["MessageId"] not in failed:
                        self._sqs.delete_message(QueueUrl=url, ReceiptHandle=raw["ReceiptHandle"])
            processed += received
            if not received:
                return processed

    def run(self, wf: Any, args: list[Any], timeout: float = 600.0) -> Any:
        """``start(wf, args)``, drive the queues until the run ends, return its value."""
        import adapter

        run = adapter.start(wf, args=args)
        deadline = time.monotonic() + timeout
        while True:
            if self.pump():
                continue
            if run.status in ("completed", "failed", "cancelled"):
                return run.return_value
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run.run_id} did not end within {timeout}s")
            time.sleep(0.01)  # a delayed message (a retry): let it become visible


@contextmanager
def server_stack() -> Iterator[ServerStack]:
    with ServerStack() as stack:
        yield stack
