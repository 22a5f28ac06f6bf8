"""Faults that used to leave runs ``running`` forever: every run ends, or is stuck visibly.

* deliveries whose receive count starts again at 1 (a DLQ redrive, Lambda's async
  retries of forwarded messages, a restored snapshot);
* an outage of the event log's writes longer than the queues' redrive budget;
* payload objects deleted from S3 and events that no longer decode, mid-run;
* items over DynamoDB's limits (a huge step result, a huge step error);
* a random mix on a random seed, printed so a failure can be replayed.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from adapter.testing import LocalRuntime
from adapter.world import STUCK, TERMINAL_STATUSES

from ..damage import corrupt_event, delete_payload_objects
from .faults import FaultConfig, FaultInjector
from .harness import REPORT, Scenario, _replaced_process, cold_starts, run_scenario
from .workloads import Job, standard_jobs

WRITES = frozenset({"TransactWriteItems", "PutItem"})


@contextlib.contextmanager
def receive_counts_reset(rt: LocalRuntime, faults: FaultInjector) -> Iterator[None]:
    """Every delivery looks like the first one (``ApproximateReceiveCount`` 1)."""
    runtime = rt.runtime
    original = runtime.process

    def process(message: Any, **kwargs: Any) -> None:
        kwargs["receive_count"] = 1
        original(message, **kwargs)

    with _replaced_process(runtime, process):
        yield


def test_receive_counts_that_start_again_strand_no_run(
    baseline: dict[str, tuple[str, Any]],
) -> None:
    config = FaultConfig(seed=31, rate=0.12, kinds=("throttle", "5xx", "crash"))
    result = run_scenario(
        "receive-count-resets",
        config,
        standard_jobs("resets"),
        baseline,
        around_drain=[receive_counts_reset, cold_starts],
    )
    assert result.faults.stats.total_faults > 0
    assert not result.violations, "\n".join(result.violations)


def test_an_outage_longer_than_the_redrive_budget_leaves_runs_stuck_then_redriven(
    baseline: dict[str, tuple[str, Any]],
) -> None:
    jobs = standard_jobs("outage")
    with Scenario("outage-longer-than-budget", FaultConfig(seed=32)) as sc:
        run_ids = sc.start_all(jobs)
        began = sc.rt.now()
        sc.faults.config = FaultConfig(
            seed=32, rate=1.0, kinds=("throttle",), phases=("before",), operations=WRITES
        )
        sc.rt.drain()  # every delivery of every message fails, backing off
        outage = sc.rt.now() - began
        sc.faults.config = FaultConfig(seed=32)
        with sc.faults.paused():
            stuck = {
                r.run_id
                for r in sc.rt.runtime.world.list_runs(workflow_name=None, status=STUCK, limit=100)
            }
            statuses = {rid: sc.rt.runtime.get_record(rid).status for rid in run_ids.values()}
        # Nothing could be written: no run moved, none failed, every one is visibly stuck.
        assert outage > timedelta(hours=3), outage
        assert set(statuses.values()) == {"pending"}, statuses
        assert stuck == set(run_ids.values())
        moved = sc.rt.runtime.redrive()
        assert moved["workflow"] == len(jobs)
        sc.drive(jobs, run_ids)
        result = sc.finish(jobs, run_ids, baseline)
    assert not result.violations, "\n".join(result.violations)


def _ended_or_failed_unreadable(rt: LocalRuntime, run_ids: dict[str, str]) -> dict[str, str]:
    """Each run's end: its status, or ``failed:<kind>`` for a failure the runtime gave it."""
    ends = {}
    for label, run_id in run_ids.items():
        record = rt.runtime.get_record(run_id)
        assert record.status in TERMINAL_STATUSES or record.stuck is not None, (
            f"{label} ({run_id}) is silently {record.status}"
        )
        kind = record.error.kind if record.error is not None else None
        ends[label] = f"{record.status}:{kind}" if kind else record.status
    return ends


def _damage_scenario(name: str, seed: int, damage: Any) -> dict[str, str]:
    jobs = [*standard_jobs(name), Job("big-nap", "chaos.big_nap", [70_000], expected=70_000)]
    with Scenario(name, FaultConfig(seed=seed, rate=0.05)) as sc:
        run_ids = sc.start_all(jobs)
        for _ in range(2):
            sc.rt.drain(skip_time=False)
        with sc.faults.paused():
            damaged = damage(sc.rt, run_ids, random.Random(seed))
            sc.rt.runtime.journal.clear()  # fresh containers read the damaged logs
        sc.drive(jobs, run_ids)
        with sc.faults.paused():
            ends = _ended_or_failed_unreadable(sc.rt, run_ids)
        REPORT.add(
            {
                "scenario": name,
                "config": f"seed={seed} damaged={damaged}",
                "seconds": 0.0,
                "runs": len(jobs),
                "runs_completed": sum(e == "completed" for e in ends.values()),
                "runs_failed_by_design": sum(e.startswith("failed") for e in ends.values()),
                "runs_lost": 0,
                "runs_doubled": 0,
                "runs_stuck": 0,
                "result_mismatches": 0,
                "invariant_violations": 0,
                "violations": [],
                "client_retries": sc.client.retries,
                "messages": sc.messages,
                "faults": sc.faults.stats.summary(),
            }
        )
    return ends


def _delete_payloads(rt: LocalRuntime, run_ids: dict[str, str], rng: random.Random) -> int:
    return delete_payload_objects(rt)


def test_payload_objects_missing_from_s3_fail_their_runs_visibly() -> None:
    ends = _damage_scenario("missing-s3-objects", 33, _delete_payloads)
    # The run asleep with its blob in S3 cannot be replayed, and says why.
    assert ends["big-nap"] == "failed:unreadable", ends
    assert ends["doomed"] == "failed"  # its own code fails it, as without damage
    assert {e for label, e in ends.items() if label not in ("big-nap", "doomed")} <= {
        "completed",
        "failed:unreadable",
    }


def _corrupt_events(rt: LocalRuntime, run_ids: dict[str, str], rng: random.Random) -> list[str]:
    victims = sorted(rng.sample(sorted(run_ids), 3))
    for label in victims:
        corrupt_event(rt, run_ids[label], rng)
    return victims


def test_events_that_no_longer_decode_fail_their_runs_visibly() -> None:
    ends = _damage_scenario("undecodable-events", 34, _corrupt_events)
    unreadable = [label for label, end in ends.items() if end == "failed:unreadable"]
    assert unreadable, ends  # at least one victim had not ended before the damage
    assert all(end in ("completed", "failed", "failed:unreadable") for end in ends.values())


def oversized_jobs() -> list[Job]:
    size = 450_000  # over DynamoDB's 400 KB item limit
    return [
        Job("huge-result", "chaos.big", [size], expected=size),
        Job(
            "huge-error",
            "chaos.oversized",
            [size],
            expected={"caught": "FatalError", "kept": True, "truncated": True},
        ),
    ]


def test_items_over_the_size_limits_end_their_runs_with_the_right_result() -> None:
    config = FaultConfig(seed=35, rate=0.1)
    result = run_scenario("oversized-items", config, oversized_jobs(), around_drain=[cold_starts])
    assert not result.violations, "\n".join(result.violations)


def test_a_random_mix_on_a_printed_seed(baseline: dict[str, tuple[str, Any]]) -> None:
    seed = int(os.environ.get("ADAPTER_CHAOS_SEED") or random.SystemRandom().randrange(2**31))
    print(f"\nchaos seed {seed}: replay with ADAPTER_CHAOS_SEED={seed} pytest {__file__}")
    rng = random.Random(seed)
    config = FaultConfig(
        seed=seed,
        rate=rng.uniform(0.02, 0.15),
        kinds=tuple(rng.sample(["throttle", "5xx", "crash"], rng.randint(1, 3))),
        duplicate_rate=rng.choice([0.0, 0.2]),
        delay_rate=rng.choice([0.0, 0.2]),
        shuffle_receives=rng.random() < 0.5,
    )
    wrappers = [w for w in (cold_starts, receive_counts_reset) if rng.random() < 0.5]
    result = run_scenario(
        f"random-seed-{seed}", config, standard_jobs(f"seed{seed}"), baseline, around_drain=wrappers
    )
    assert not result.violations, f"seed {seed}:\n" + "\n".join(result.violations)
