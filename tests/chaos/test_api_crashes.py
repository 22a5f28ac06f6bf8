"""The client API under faults: ``start`` and ``resume_hook`` write, then send.

Each test injects exactly one fault at a chosen point of a client call (the caller is
an API handler, a script or a step: its process can die or see an error like any
other), then checks that every run still ends with the right result.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter

import boto3
import pytest

from adapter import resume_hook, start
from adapter.core.errors import HookNotFoundError
from adapter.core.messages import parse_message

from .faults import FaultConfig, ProcessDied
from .harness import Scenario
from .workloads import Job

SEND = frozenset({"SendMessage"})


def one_fault(seed: int, operation: str, phase: str, kind: str) -> FaultConfig:
    return FaultConfig(
        seed=seed,
        rate=1.0,
        kinds=(kind,),
        phases=(phase,),
        operations=frozenset({operation}),
        max_faults=1,
    )


def test_start_dying_before_its_first_message_is_recovered_by_a_retry_with_its_key() -> None:
    # The documented remedy: start again with the same idempotency key.
    job = Job("chain", "chaos.chain", [4], expected=10)
    with Scenario("start-dies-keyed", one_fault(61, "SendMessage", "before", "crash")) as sc:
        run_ids = sc.start_all([job])  # the client retries with the same key
        sc.drive([job], run_ids)
        result = sc.finish([job], run_ids)
    assert result.faults.stats.total_faults == 1
    assert sc.client.retries == 1
    assert not result.violations, "\n".join(result.violations)


def test_start_dying_before_its_first_message_leaves_no_run_that_never_ends() -> None:
    """``start()`` writes the run item and ``run_created``, then sends the first message.

    When its process dies in between (an API handler's Lambda timing out, a script
    killed), the run exists, is listed as ``pending``, and nothing will ever move it.
    """
    job = Job("chain", "chaos.chain", [4], expected=10)
    with Scenario("start-dies-unkeyed", one_fault(62, "SendMessage", "before", "crash")) as sc:
        with pytest.raises(ProcessDied):
            start(job.workflow, args=job.args)  # no key: the caller cannot look it up again
        run = sc.client.call(lambda: start(job.workflow, args=job.args))  # it tries again
        run_ids = {job.label: run.run_id}
        sc.drive([job], run_ids)
        with sc.faults.paused():
            others = [
                r
                for r in sc.rt.runtime.world.list_runs(workflow_name=None, status=None, limit=100)
                if r.run_id != run.run_id
            ]
        orphan_ids = {f"orphan {i}": r.run_id for i, r in enumerate(others)}
        orphans = [Job(label, "chaos.chain", [4], expected=10) for label in orphan_ids]
        result = sc.finish([job, *orphans], {**run_ids, **orphan_ids})
    assert result.checks[0].status == "completed"
    assert len(others) == 1, "the first call did write a run"
    assert not result.violations, "\n".join(result.violations)


@pytest.mark.parametrize("kind", ["crash", "5xx"])
def test_resume_hook_dying_before_it_wakes_the_run(kind: str) -> None:
    """``resume_hook`` appends ``hook_received``, then sends the workflow message.

    When the caller dies between the two (or gives up after an error from the send),
    the payload is recorded but no message will ever replay the run: it waits forever.
    """
    token = f"tok-hook-dies-{kind}"
    job = Job("hooked", "chaos.hooked", [token], expected=42)
    config = one_fault(63, "SendMessage", "before", kind)
    with Scenario(f"resume-hook-dies-{kind}", config) as sc:
        with sc.faults.paused():
            run_ids = sc.start_all([job])
            sc.rt.drain()  # the run now waits on its hook
        if kind == "crash":
            with pytest.raises(ProcessDied):
                resume_hook(token, 40)  # the wake-up message is never sent
        else:
            # The payload is recorded: the failed wake-up is left to the stall sweep
            # instead of failing the caller (who would retry and record it twice).
            assert resume_hook(token, 40) == run_ids["hooked"]
        sc.rt.drain()
        result = sc.finish([job], run_ids)
        with sc.faults.paused():
            received = [e for e in sc.rt.events(run_ids["hooked"]) if e.type == "hook_received"]
    assert len(received) == 1, "the payload was recorded before the failure"
    assert not result.violations, "\n".join(result.violations)


@pytest.mark.parametrize("operation", ["TransactWriteItems", "SendMessage"])
def test_resume_hook_retried_after_an_ambiguous_failure_records_the_payload_once(
    operation: str,
) -> None:
    """The write (or the send) went through but the caller got an error, so it tries
    again, as any client of ``POST /hooks/{token}`` does on a 5xx. The payload must be
    delivered to the workflow once: a hook collecting two payloads gets ["a", "b"]."""
    token = f"tok-ambiguous-{operation}"
    job = Job("collector", "chaos.collector", [token, 2], expected=["a", "b"])
    config = one_fault(64, operation, "after", "5xx")
    with Scenario(f"resume-hook-ambiguous-{operation}", config) as sc:
        with sc.faults.paused():
            run_ids = sc.start_all([job])
            sc.rt.drain()
        sc.client.call(lambda: resume_hook(token, "a"), give_up_on=(HookNotFoundError,))
        sc.rt.drain()
        with sc.faults.paused():
            # The run may have ended already, on a duplicated "a": checked below.
            with contextlib.suppress(HookNotFoundError):
                resume_hook(token, "b")
            sc.rt.drain()
            received = [
                e.data.payload
                for e in sc.rt.events(run_ids["collector"])
                if e.type == "hook_received"
            ]
        result = sc.finish([job], run_ids)
    # The write went through (or only the wake-up failed): resume_hook sees that and
    # answers success, so the client has nothing to retry.
    assert sc.client.retries == 0, "the call should have succeeded"
    assert received == ["a", "b"], f"payloads recorded: {received}"
    assert not result.violations, "\n".join(result.violations)


WIDE = 120  # step_created events in one turn: more than one transaction holds


@pytest.mark.parametrize("kind", ["5xx", "crash"])
def test_a_turn_written_in_two_transactions_survives_a_failure_between_them(kind: str) -> None:
    """A turn that records more than 100 items appends them in several transactions.

    The first transaction (``run_started`` and 98 ``step_created``) commits, the second
    fails; the messages of the turn are sent only after the last one. On redelivery the
    replay finds the first 98 steps recorded and records the other 22 - and sends only
    the messages of those 22.
    """
    job = Job("wide", "chaos.wide", [WIDE], expected=sum(range(1, WIDE + 1)))
    # TransactWriteItems #1 is start()'s; #2 and #3 are the first turn's two chunks.
    config = FaultConfig(
        seed=65,
        rate=1.0,
        kinds=(kind,),
        phases=("before",),
        operations=frozenset({"TransactWriteItems"}),
        max_faults=1,
        skip=2,
    )
    with Scenario(f"wide-turn-{kind}", config) as sc:
        run_ids = sc.start_all([job])
        sc.drive([job], run_ids)
        result = sc.finish([job], run_ids)
        with sc.faults.paused():
            events = sc.rt.events(run_ids["wide"])
    created = sum(e.type == "step_created" for e in events)
    completed = sum(e.type == "step_completed" for e in events)
    assert result.faults.stats.total_faults == 1
    assert created == WIDE + 1 or created == WIDE, created
    assert completed == created, f"{created - completed} step(s) never ran"
    assert not result.violations, "\n".join(result.violations)


def test_a_turn_written_in_two_transactions_survives_a_concurrent_delivery() -> None:
    """The same turn, delivered to two workers at once (SQS may), without any fault.

    Worker A writes the first transaction (``run_started`` + 98 ``step_created``) and is
    slow to write the second. Worker B lost the first race, reads the log, finds 98
    steps recorded, records the other 22 and sends *their* messages. A's second write
    then loses its race; A reads again, finds nothing left to record and returns - and
    nobody ever sends the messages of the first 98 steps.
    """
    job = Job("wide", "chaos.wide", [WIDE], expected=sum(range(1, WIDE + 1)))
    with Scenario("wide-turn-two-workers", FaultConfig(seed=66)) as sc:
        run_ids = sc.start_all([job])
        url = sc.rt.env["ADAPTER_WORKFLOW_QUEUE_URL"]
        sqs = boto3.client("sqs", region_name="us-east-1")
        with sc.faults.exempt():
            (raw,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
        message = parse_message(raw["Body"])

        a_wrote_first_chunk = threading.Event()
        b_is_done = threading.Event()
        role = threading.local()
        writes: Counter[str] = Counter()

        def choreography(when: str, operation: str) -> None:
            name = getattr(role, "name", None)
            # A chunk that moves the run item on is a transaction; one of events alone
            # (B's 22, once A has marked the run started) is a single put.
            if operation not in ("TransactWriteItems", "PutItem") or name is None:
                return
            if when == "before" and name == "B" and writes["B"] == 0:
                a_wrote_first_chunk.wait(5)  # B's first write comes after A's first chunk
            if when == "after":
                writes[name] += 1
                if name == "A" and writes["A"] == 1:
                    a_wrote_first_chunk.set()
                    b_is_done.wait(5)  # A is slow to write its second chunk

        def worker(name: str) -> None:
            role.name = name
            try:
                sc.rt.runtime.process(message)
            finally:
                if name == "B":
                    b_is_done.set()

        sc.faults.observer = choreography
        threads = [threading.Thread(target=worker, args=(n,)) for n in ("A", "B")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sc.faults.observer = None
        with sc.faults.exempt():
            sqs.delete_message(QueueUrl=url, ReceiptHandle=raw["ReceiptHandle"])
        sc.drive([job], run_ids)
        result = sc.finish([job], run_ids)
        with sc.faults.paused():
            events = sc.rt.events(run_ids["wide"])
    created = sum(e.type == "step_created" for e in events)
    completed = sum(e.type == "step_completed" for e in events)
    assert writes["A"] >= 2 and writes["B"] >= 2, f"the race did not happen as planned: {writes}"
    assert completed == created, f"{created - completed} step(s) never ran"
    assert not result.violations, "\n".join(result.violations)
