"""Delivery chaos: duplicate, reordered and concurrent deliveries, expired visibility
timeouts while a step runs, Lambda timeouts mid-step, processes dying mid-call."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import boto3
import pytest

from adapter.aws import process_sqs_event, sqs_record

from . import workloads
from .faults import FaultConfig
from .harness import Scenario, cold_starts, run_scenario, step_results, two_workers
from .workloads import Job, standard_jobs

# The queue the records say they come from, as the event-source mapping would.
_STEP_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:step"

Baseline = dict[str, tuple[str, Any]]


def test_duplicate_deliveries(baseline: Baseline) -> None:
    config = FaultConfig(seed=21, duplicate_rate=0.5)
    result = run_scenario("duplicates", config, standard_jobs("duplicates"), baseline)
    assert result.faults.stats.duplicates, "no message was duplicated"
    assert not result.violations, "\n".join(result.violations)


def test_reordered_deliveries(baseline: Baseline) -> None:
    config = FaultConfig(seed=22, delay_rate=0.5, max_extra_delay=45, shuffle_receives=True)
    result = run_scenario("reordered", config, standard_jobs("reordered"), baseline)
    stats = result.faults.stats
    assert stats.delays and stats.shuffles, "nothing was reordered"
    assert not result.violations, "\n".join(result.violations)


def test_processes_dying_between_any_two_aws_calls(baseline: Baseline) -> None:
    # The invocation dies (a BaseException nothing catches) before or after a call.
    config = FaultConfig(seed=23, rate=0.08, kinds=("crash",))
    result = run_scenario("crash-anywhere", config, standard_jobs("crash-anywhere"), baseline)
    assert result.faults.stats.total_faults > 0
    assert not result.violations, "\n".join(result.violations)


@pytest.mark.parametrize("seed", [31, 32])
def test_everything_at_once(seed: int, baseline: Baseline) -> None:
    config = FaultConfig(
        seed=seed,
        rate=0.08,
        kinds=("throttle", "5xx", "crash"),
        duplicate_rate=0.3,
        delay_rate=0.3,
        shuffle_receives=True,
    )
    name = f"everything-{seed}"
    result = run_scenario(name, config, standard_jobs(name), baseline, around_drain=[cold_starts])
    assert not result.violations, "\n".join(result.violations)


def test_timers_hopping_every_15_minutes_under_faults(baseline: Baseline) -> None:
    # With SQS's real 900 s delay cap, the sleeper's hour is four hops of one message.
    config = FaultConfig(seed=24, rate=0.1, duplicate_rate=0.2, delay_rate=0.2)
    result = run_scenario(
        "timer-hops", config, standard_jobs("timer-hops"), baseline, max_delay_seconds=900
    )
    assert not result.violations, "\n".join(result.violations)


def test_two_workers_process_every_message_at_once(baseline: Baseline) -> None:
    # Each workflow and step message is handed to two workers that race to their
    # first conditional write: one wins, the other must back off cleanly.
    config = FaultConfig(seed=41)
    result = run_scenario(
        "two-workers", config, standard_jobs("two-workers"), baseline, around_drain=[two_workers]
    )
    assert result.faults.stats.rendezvous > 20, "the workers never raced"
    assert not result.violations, "\n".join(result.violations)


def test_visibility_timeout_expires_while_a_step_runs() -> None:
    """The step queue redelivers a message whose step is still running.

    The first attempt of ``chaos.outlive_lease`` moves the clock past the step lease
    and the queue's visibility timeout; SQS then hands the same message to another
    consumer, which runs concurrently (attempt 2, while attempt 1 has not returned).
    Exactly one outcome may be recorded, and the workflow must see that one.
    """
    job = Job(
        "outlives", "chaos.outlives", [5], expected={"slow": {"x": 6, "attempt": 2}, "after": 7}
    )
    redeliveries: list[dict[str, Any]] = []
    with Scenario("visibility-expired", FaultConfig(seed=0)) as sc:
        rt = sc.rt
        step_url = rt.env["ADAPTER_STEP_QUEUE_URL"]
        sqs = boto3.client("sqs", region_name="us-east-1")

        with sc.faults.paused():
            visibility = int(
                sqs.get_queue_attributes(QueueUrl=step_url, AttributeNames=["VisibilityTimeout"])[
                    "Attributes"
                ]["VisibilityTimeout"]
            )
        assert rt.runtime.step_lease.total_seconds() <= visibility

        def redeliver_while_running() -> None:
            # Past the lease and the visibility timeout: SQS shows the message again.
            rt.clock.advance_to(rt.now() + timedelta(seconds=visibility + 5))
            with sc.faults.exempt():  # this is the event-source mapping, not the runtime
                raw = sqs.receive_message(
                    QueueUrl=step_url, MaxNumberOfMessages=10, AttributeNames=["All"]
                ).get("Messages", [])
            redeliveries.extend(raw)
            answers: list[dict[str, Any]] = []
            second = threading.Thread(
                target=lambda: answers.append(
                    process_sqs_event(
                        {"Records": [sqs_record(m, _STEP_QUEUE_ARN) for m in raw]}, None, rt.runtime
                    )
                )
            )
            second.start()
            second.join()
            failed = {f["itemIdentifier"] for f in answers[0]["batchItemFailures"]}
            with sc.faults.exempt():
                for m in raw:
                    if m["MessageId"] not in failed:
                        sqs.delete_message(QueueUrl=step_url, ReceiptHandle=m["ReceiptHandle"])

        workloads.on_first_attempt["outlive"] = redeliver_while_running
        try:
            run_ids = sc.start_all([job])
            sc.drive([job], run_ids)
        finally:
            workloads.on_first_attempt.clear()
        with sc.faults.paused():
            events = rt.events(run_ids["outlives"])
        slow = _step_cid(events, "chaos.outlive_lease")
        attempts = [
            e.data.attempt for e in events if e.type == "step_started" and e.correlation_id == slow
        ]
        recorded = step_results(events, "chaos.outlive_lease")
        result = sc.finish([job], run_ids)
        executions = workloads.executions[f"chaos.outlive_lease:{run_ids['outlives']}:{slow}"]

    assert len(redeliveries) == 1, "the message was not delivered again while running"
    assert redeliveries[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert executions == 2, "the step did not run twice (at least once, concurrently)"
    assert attempts == [1, 2]
    assert recorded == [{"x": 6, "attempt": 2}], recorded
    output = result.checks[0].result
    assert output == {"slow": {"x": 6, "attempt": 2}, "after": 7}
    assert not result.violations, "\n".join(result.violations)


def test_lambda_timeout_in_the_middle_of_a_step() -> None:
    """A step's invocation dies (Lambda timeout): SQS redelivers after the visibility
    timeout, the lease has expired, attempt 2 runs and its outcome is recorded once."""
    job = Job(
        "timeouts", "chaos.timeouts", [3], expected={"first": 9, "fanned": [0, 3, 6], "last": 10}
    )
    with Scenario("lambda-timeout", FaultConfig(seed=0)) as sc:
        run_ids = sc.start_all([job])
        sc.drive([job], run_ids)
        with sc.faults.paused():
            events = sc.rt.events(run_ids["timeouts"])
        result = sc.finish([job], run_ids)
    started: dict[str, list[int]] = {}
    for e in events:
        if e.type == "step_started":
            started.setdefault(e.correlation_id or "", []).append(e.data.attempt)
    timed_out = [cid for cid, seen in started.items() if seen == [1, 2]]
    assert len(timed_out) == 4, started  # every dies_once step died once and ran again
    assert not result.violations, "\n".join(result.violations)


def _step_cid(events: list[Any], step_name: str) -> str:
    return next(
        e.correlation_id
        for e in events
        if e.type == "step_created" and e.data.step_name == step_name
    )


def test_duplicate_step_messages_cost_a_bounded_number_of_extra_invocations() -> None:
    """A duplicate of a step message must cost O(1) more invocations, not O(fan-out).

    Every message is a Lambda invocation. A fan-out of 40 steps runs on 42 of them;
    with some step messages duplicated (as SQS may do), each duplicate should add a
    handful at most.
    """
    width = 40
    job = Job("wide", "chaos.wide", [width], expected=sum(range(1, width + 1)))
    clean = run_scenario("wide-clean", FaultConfig(seed=25), [job])
    noisy = run_scenario("wide-duplicates", FaultConfig(seed=25, duplicate_rate=0.1), [job])
    duplicates = sum(noisy.faults.stats.duplicates.values())
    assert not clean.violations and not noisy.violations, clean.violations + noisy.violations
    assert duplicates > 0
    budget = clean.messages + 3 * duplicates
    assert noisy.messages <= budget, (
        f"{duplicates} duplicate message(s) cost {noisy.messages - clean.messages} extra "
        f"invocations ({clean.messages} without duplicates)"
    )
