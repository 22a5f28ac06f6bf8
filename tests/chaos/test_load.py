"""Load: 200 concurrent runs of 10 steps through a moto *server*, four SQS workers.

The stack is configured only through the ``ADAPTER_*`` variables and
``AWS_ENDPOINT_URL`` (as a deployment is): the resources come from
``create_resources``, the client API and the workers use ``env_runtime()``, and each
worker polls both queues and hands Lambda-shaped batches to
``adapter.aws.process_sqs_event``, deleting what succeeded (the event-source mapping's
job). Every run must complete with its result and a sound log.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest

from adapter import start, step, workflow
from adapter.aws import process_sqs_event, sqs_record
from adapter.core import serde
from adapter.runtime import env_runtime, reset_env_runtime
from adapter.world.aws import create_resources
from tests.devstack import free_port

from ._moto import serialized_moto
from .harness import REPORT, log_violations

RUNS = 200
STEPS = 10
WORKERS = 4
DEADLINE_SECONDS = 180
VISIBILITY_SECONDS = 30  # a failed delivery comes back in 30 s, not 15 min


@step(name="chaos.load.add")
def load_add(x: int, i: int) -> int:
    return x + i


@workflow(name="chaos.load.chain")
async def load_chain(n: int) -> int:
    value = 0
    for i in range(n):
        value = await load_add(value, i)
    return value


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A ThreadedMotoServer on a free local port, with AWS_ENDPOINT_URL pointing at it."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    cleared = [
        k for k in os.environ if k.startswith("ADAPTER_") or k == "AWS_LAMBDA_FUNCTION_VERSION"
    ]
    from moto import backends
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    modules = list(backends.list_of_moto_modules())
    with contextlib.ExitStack() as stack:
        # The dev server's defaults cost tens of ms per request: a thread per request
        # (no keep-alive), Nagle's algorithm on its two writes per response (headers,
        # body) meeting the client's delayed ACKs, and a directory listing of moto's
        # modules for every request.
        stack.enter_context(mock.patch.object(MotoRequestHandler, "protocol_version", "HTTP/1.1"))
        stack.enter_context(mock.patch.object(MotoRequestHandler, "disable_nagle_algorithm", True))
        stack.enter_context(mock.patch.object(backends, "list_of_moto_modules", lambda: modules))
        stack.enter_context(serialized_moto())
        stack.enter_context(mock.patch.dict(os.environ, env))
        for key in cleared:
            os.environ.pop(key)
        server.start()
        try:
            yield env["AWS_ENDPOINT_URL"]
        finally:
            server.stop()
            reset_env_runtime()


class Worker(threading.Thread):
    """Polls both queues; processes each batch like one Lambda invocation."""

    def __init__(self, urls: list[str], stop: threading.Event, tally: Counter[str]) -> None:
        super().__init__(name="load-worker", daemon=True)
        self.urls = urls
        self.stop_event = stop
        self.tally = tally
        self.sqs = boto3.client("sqs")
        self.errors: list[BaseException] = []

    def run(self) -> None:
        runtime = env_runtime()
        while not self.stop_event.is_set():
            busy = False
            for url in self.urls:
                try:
                    busy |= self._poll(url, runtime)
                except Exception as exc:  # keep polling; reported at the end
                    self.errors.append(exc)
            if not busy:
                time.sleep(0.05)

    def _poll(self, url: str, runtime: Any) -> bool:
        messages = self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return False
        event = {"Records": [sqs_record(m, _arn(url)) for m in messages]}
        answer = process_sqs_event(event, None, runtime)
        failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
        done = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(messages)
            if m["MessageId"] not in failed
        ]
        if done:
            self.sqs.delete_message_batch(QueueUrl=url, Entries=done)
        self.tally["messages"] += len(messages)
        self.tally["failed deliveries"] += len(failed)
        return True


def _arn(url: str) -> str:
    return f"arn:aws:sqs:us-east-1:123456789012:{url.rsplit('/', 1)[1]}"


@pytest.mark.slow
@pytest.mark.timeout(DEADLINE_SECONDS + 60)
def test_200_concurrent_runs_of_10_steps_through_a_moto_server() -> None:
    began = time.monotonic()
    with moto_server():
        env = create_resources(f"load-{uuid.uuid4().hex[:6]}")
        os.environ.update(env)
        reset_env_runtime()
        sqs = boto3.client("sqs")
        urls = [env["ADAPTER_WORKFLOW_QUEUE_URL"], env["ADAPTER_STEP_QUEUE_URL"]]
        for url in urls:
            sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)}
            )
        runtime = env_runtime()
        run_ids = [start(load_chain, args=[STEPS]).run_id for _ in range(RUNS)]

        stop = threading.Event()
        tally: Counter[str] = Counter()
        workers = [Worker(urls, stop, tally) for _ in range(WORKERS)]
        for worker in workers:
            worker.start()
        pending = list(run_ids)
        deadline = time.monotonic() + DEADLINE_SECONDS
        try:
            while pending and time.monotonic() < deadline:
                # Runs progress roughly in start order: look at the oldest pending ones
                # only, so polling does not compete with the workers for the server.
                while pending and runtime.get_record(pending[0]).ended:
                    pending.pop(0)
                time.sleep(0.5)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=30)
        elapsed = time.monotonic() - began

        problems: list[str] = []
        statuses: Counter[str] = Counter()
        expected = sum(range(STEPS))
        for run_id in run_ids:
            record = runtime.get_record(run_id)
            statuses[record.status] += 1
            if record.status != "completed":
                continue
            if serde.from_json(record.output) != expected:
                problems.append(f"{run_id} returned {record.output}, not {expected}")
            events = runtime.history(run_id)[1]
            problems.extend(log_violations(events, record.last_seq))
            if sum(e.type == "step_completed" for e in events) != STEPS:
                problems.append(f"{run_id}: not {STEPS} step_completed events")
        every_run = runtime.world.list_runs(workflow_name=None, status=None, limit=1000)
        if len(every_run) != RUNS:
            problems.append(f"{len(every_run)} runs in the table, not {RUNS}")
        for url in urls:
            dlq = sqs.get_queue_attributes(
                QueueUrl=url + "-dlq", AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
            if int(dlq):
                problems.append(f"{dlq} message(s) in {url.rsplit('/', 1)[1]}-dlq")
        errors = [repr(e) for w in workers for e in w.errors]

    lost = RUNS - statuses["completed"]
    REPORT.add(
        {
            "scenario": "load-200x10-moto-server",
            "config": f"{RUNS} runs x {STEPS} steps, {WORKERS} workers, moto server",
            "seconds": round(elapsed, 2),
            "runs": RUNS,
            "runs_completed": statuses["completed"],
            "runs_failed_by_design": 0,
            "runs_lost": lost,
            "result_mismatches": 0,
            "invariant_violations": len(problems) + len(errors),
            "violations": (problems + errors)[:20],
            "messages": tally["messages"],
            "failed_deliveries": tally["failed deliveries"],
            "messages_per_second": round(tally["messages"] / max(elapsed, 1e-9), 1),
            "faults": {},
        }
    )
    assert lost == 0, f"runs not completed after {DEADLINE_SECONDS}s: {dict(statuses)}"
    assert not problems, "\n".join(problems[:20])
    assert not errors, errors[:5]
