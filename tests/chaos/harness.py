"""Run workloads on LocalRuntime under chaos, check the invariants, keep the report.

A scenario starts every job of a workload mix (with idempotency keys, retrying
``start`` like a client would when it gets an error), drains the runtime, resumes
hooks (again retrying on errors), and repeats until every run ended. Then, with the
injector paused, it checks each run:

* it ended, with the status its workflow is designed to end with;
* its result equals the fault-free run's result;
* its event log has seqs 1..n with no gap or duplicate, the run item's ``last_seq``
  is n, each step is created once and its ``step_completed``/``step_failed`` is
  recorded exactly once per correlation id, each recorded result came from a real
  execution of the step, and the run ended exactly once;
* children spawned by steps ended too, and no run exists that should not (a retried
  spawn or start never makes a second run);
* the dead-letter queues are empty.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3

from adapter import resume_hook, start
from adapter.core import serde
from adapter.core.errors import HookNotFoundError
from adapter.core.events import Event
from adapter.testing import LocalRuntime

from . import workloads
from ._moto import serialized_moto
from .faults import FaultConfig, FaultInjector, ProcessDied
from .workloads import CHAOS, Job

logger = logging.getLogger(__name__)

TERMINAL = ("completed", "failed", "cancelled")
MAX_ROUNDS = 12
CLIENT_ATTEMPTS = 40


# --- the session report -----------------------------------------------------------------------


class ChaosReport:
    """Everything the chaos scenarios did, for ``tests/chaos/report.json``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.scenarios: list[dict[str, Any]] = []

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.scenarios.append(entry)

    def total(self, key: str) -> int:
        return sum(int(s.get(key, 0)) for s in self.scenarios)

    @property
    def runs(self) -> int:
        return self.total("runs")

    @property
    def runs_lost(self) -> int:
        return self.total("runs_lost")

    def as_dict(self) -> dict[str, Any]:
        by_kind: Counter[str] = Counter()
        by_op: Counter[str] = Counter()
        by_phase: Counter[str] = Counter()
        for s in self.scenarios:
            faults = s.get("faults", {})
            by_kind.update(faults.get("faults_by_kind", {}))
            by_op.update(faults.get("faults_by_operation", {}))
            by_phase.update(faults.get("faults_by_phase", {}))
        return {
            "scenarios": len(self.scenarios),
            "runs": self.runs,
            "runs_completed": self.total("runs_completed"),
            "runs_failed_by_design": self.total("runs_failed_by_design"),
            "runs_lost": self.runs_lost,
            "runs_doubled": self.total("runs_doubled"),
            "runs_stuck": self.total("runs_stuck"),
            "result_mismatches": self.total("result_mismatches"),
            "invariant_violations": self.total("invariant_violations"),
            "faults_injected": sum(by_kind.values()),
            "faults_by_kind": dict(sorted(by_kind.items())),
            "faults_by_operation": dict(sorted(by_op.items())),
            "faults_by_phase": dict(sorted(by_phase.items())),
            "duplicate_deliveries": sum(
                s.get("faults", {}).get("duplicates", 0) for s in self.scenarios
            ),
            "delayed_messages": sum(s.get("faults", {}).get("delayed", 0) for s in self.scenarios),
            "shuffled_batches": sum(
                s.get("faults", {}).get("shuffled_batches", 0) for s in self.scenarios
            ),
            "forced_races": sum(s.get("faults", {}).get("forced_races", 0) for s in self.scenarios),
            "cold_starts": sum(s.get("faults", {}).get("cold_starts", 0) for s in self.scenarios),
            "client_retries": self.total("client_retries"),
            "messages_processed": self.total("messages"),
            "details": self.scenarios,
        }


REPORT = ChaosReport()


# --- checks -------------------------------------------------------------------------------------


def log_violations(events: list[Event], last_seq: int | None = None) -> list[str]:
    """Everything wrong with one run's event log (empty when it is sound)."""
    problems: list[str] = []
    if not events:
        return ["no events"]
    run_id = events[0].run_id
    seqs = [e.seq for e in events]
    if seqs != list(range(1, len(events) + 1)):
        problems.append(f"{run_id}: seqs are not 1..{len(events)}: {seqs}")
    if last_seq is not None and last_seq != seqs[-1]:
        problems.append(f"{run_id}: run item last_seq {last_seq} != last event seq {seqs[-1]}")
    if events[0].type != "run_created":
        problems.append(f"{run_id}: first event is {events[0].type}")
    if {e.run_id for e in events} != {run_id}:
        problems.append(f"{run_id}: events of several runs in one log")
    types = Counter(e.type for e in events)
    if types["run_started"] > 1:
        problems.append(f"{run_id}: run_started recorded {types['run_started']} times")
    ends = [e for e in events if e.type in ("run_completed", "run_failed", "run_cancelled")]
    if len(ends) > 1:
        problems.append(f"{run_id}: ended {len(ends)} times: {[e.type for e in ends]}")
    if ends:
        after = [e.type for e in events[events.index(ends[0]) + 1 :]]
        if any(t != "hook_disposed" for t in after):
            problems.append(f"{run_id}: events after the run ended: {after}")

    def per_cid(*kinds: str) -> Counter[str]:
        return Counter(e.correlation_id or "" for e in events if e.type in kinds)

    created = per_cid("step_created")
    completed = per_cid("step_completed")
    failed = per_cid("step_failed")
    for cid, n in created.items():
        if n != 1:
            problems.append(f"{run_id}: step {cid} created {n} times")
    for cid, n in completed.items():
        if n != 1:
            problems.append(f"{run_id}: step_completed recorded {n} times for {cid}")
    for cid, n in failed.items():
        if n != 1:
            problems.append(f"{run_id}: step_failed recorded {n} times for {cid}")
    both = set(completed) & set(failed)
    if both:
        problems.append(f"{run_id}: steps both completed and failed: {sorted(both)}")
    orphans = (set(completed) | set(failed)) - set(created)
    if orphans:
        problems.append(f"{run_id}: outcomes of steps never created: {sorted(orphans)}")
    if ends and ends[0].type == "run_completed":
        unfinished = set(created) - set(completed) - set(failed)
        if unfinished:
            problems.append(f"{run_id}: completed with steps unfinished: {sorted(unfinished)}")
    for cid, n in per_cid("wait_created").items():
        if n != 1:
            problems.append(f"{run_id}: wait {cid} created {n} times")
    for cid, n in per_cid("wait_completed").items():
        if n != 1:
            problems.append(f"{run_id}: wait {cid} completed {n} times")
    attempts: dict[str, list[int]] = {}
    for e in events:
        if e.type == "step_started":
            attempts.setdefault(e.correlation_id or "", []).append(e.data.attempt)
    for cid, seen in attempts.items():
        if seen != sorted(set(seen)):
            problems.append(f"{run_id}: attempts of {cid} not strictly increasing: {seen}")
    return problems


def step_results(events: list[Event], step_name: str) -> list[Any]:
    """The decoded results of every completed step named ``step_name``, in log order."""
    names = {e.correlation_id: e.data.step_name for e in events if e.type == "step_created"}
    return [
        serde.from_json(e.data.result)
        for e in events
        if e.type == "step_completed" and names.get(e.correlation_id) == step_name
    ]


def unexecuted_results(events: list[Event]) -> list[str]:
    """Completed steps whose function body never ran (a result out of thin air)."""
    names = {e.correlation_id: e.data.step_name for e in events if e.type == "step_created"}
    missing = []
    for e in events:
        if e.type == "step_completed":
            key = f"{names.get(e.correlation_id)}:{e.run_id}:{e.correlation_id}"
            if workloads.executions[key] < 1:
                missing.append(key)
    return missing


# --- running a scenario -------------------------------------------------------------------------


@dataclass
class RunCheck:
    label: str
    run_id: str
    status: str
    expect_status: str
    result: Any
    expected: Any
    problems: list[str] = field(default_factory=list)
    stuck: bool = False
    """Not ended, and marked stuck (visible, recoverable: still counted as lost)."""

    @property
    def doubled(self) -> bool:
        """Something recorded twice in its log (a step's outcome, a wait, an end)."""
        return any(" times" in p for p in self.problems)

    @property
    def lost(self) -> bool:
        return self.status != self.expect_status

    @property
    def mismatch(self) -> bool:
        return not self.lost and self.result != self.expected


@dataclass
class ScenarioResult:
    name: str
    checks: list[RunCheck]
    problems: list[str]
    faults: FaultInjector
    seconds: float
    client_retries: int
    messages: int = 0

    @property
    def violations(self) -> list[str]:
        """Every broken invariant, as sentences (empty when the scenario is sound)."""
        out = list(self.problems)
        for c in self.checks:
            if c.lost:
                out.append(
                    f"run lost: {c.label} ({c.run_id}) is {c.status}, expected {c.expect_status}"
                )
            elif c.mismatch:
                out.append(
                    f"result mismatch: {c.label} ({c.run_id}) returned {c.result!r}, "
                    f"the fault-free run returned {c.expected!r}"
                )
            out.extend(f"{c.label}: {p}" for p in c.problems)
        return out


class Client:
    """A client of the API: retries a call that raised, as one would on a 5xx."""

    def __init__(self) -> None:
        self.retries = 0

    def call(
        self, fn: Callable[[], Any], *, give_up_on: tuple[type[BaseException], ...] = ()
    ) -> Any:
        for attempt in range(CLIENT_ATTEMPTS):
            try:
                return fn()
            except give_up_on:
                raise
            except (Exception, ProcessDied) as exc:  # a 5xx, a dropped connection
                if attempt == CLIENT_ATTEMPTS - 1:
                    raise
                self.retries += 1
                logger.info("client retries after %r", exc)
        raise AssertionError("unreachable")


Wrapper = Callable[[LocalRuntime, FaultInjector], contextlib.AbstractContextManager[Any]]


class Scenario:
    """One LocalRuntime (on thread-safe moto) with a fault injector, and its checks.

    Example::

        with Scenario("name", FaultConfig(seed=1, rate=0.1)) as sc:
            run_ids = sc.start_all(jobs)
            sc.drive(jobs, run_ids)
            result = sc.finish(jobs, run_ids)
        assert not result.violations
    """

    def __init__(self, name: str, config: FaultConfig, *, max_delay_seconds: int | None = None):
        self.name = name
        self.config = config
        self.max_delay_seconds = max_delay_seconds
        self.client = Client()
        self.messages = 0
        self._stack = contextlib.ExitStack()
        self.rt: LocalRuntime
        self.faults: FaultInjector

    def __enter__(self) -> Scenario:
        workloads.reset()
        self._began = time.monotonic()
        self._stack.enter_context(serialized_moto())
        options = (
            {} if self.max_delay_seconds is None else {"max_delay_seconds": self.max_delay_seconds}
        )
        self.rt = self._stack.enter_context(LocalRuntime(CHAOS, **options))
        self.faults = self._stack.enter_context(FaultInjector(self.config))
        self._stack.enter_context(self._counting())
        return self

    @contextlib.contextmanager
    def _counting(self) -> Iterator[None]:
        """Count every delivery the runtime processes (nested pumps included)."""
        runtime = self.rt.runtime
        original = runtime.process

        def process(message: Any, **kwargs: Any) -> None:
            self.messages += 1
            original(message, **kwargs)

        with _replaced_process(runtime, process):
            yield

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def start(self, job: Job) -> str:
        """Start ``job`` like a careful client: an idempotency key, retries on errors."""
        key = f"{self.name}:{job.label}"
        run = self.client.call(lambda: start(job.workflow, args=job.args, idempotency_key=key))
        return str(run.run_id)

    def start_all(self, jobs: list[Job]) -> dict[str, str]:
        return {job.label: self.start(job) for job in jobs}

    def drive(self, jobs: list[Job], run_ids: dict[str, str]) -> None:
        drive(self.rt, self.faults, jobs, run_ids, self.client)

    def finish(
        self,
        jobs: list[Job],
        run_ids: dict[str, str],
        baseline: dict[str, tuple[str, Any]] | None = None,
    ) -> ScenarioResult:
        """Check every run with faults paused; add the scenario to the report."""
        with self.faults.paused():
            checks, problems = verify(self.rt, jobs, run_ids, baseline)
        result = ScenarioResult(
            self.name,
            checks,
            problems,
            self.faults,
            time.monotonic() - self._began,
            self.client.retries,
            self.messages,
        )
        REPORT.add(scenario_entry(result, self.config))
        return result


def run_scenario(
    name: str,
    config: FaultConfig,
    jobs: list[Job],
    baseline: dict[str, tuple[str, Any]] | None = None,
    *,
    around_drain: Sequence[Wrapper] = (),
    max_delay_seconds: int | None = None,
) -> ScenarioResult:
    """Run ``jobs`` under ``config`` in a fresh LocalRuntime; check; add to the report.

    Args:
        baseline: ``label -> (status, result)`` of the fault-free runs.
        around_drain: Wrap the driving of the runs (two workers per message, cold
            starts...).
        max_delay_seconds: SQS's real 900 makes long timers hop (LocalRuntime's
            default delivers any timer in one message).
    """
    with Scenario(name, config, max_delay_seconds=max_delay_seconds) as sc:
        run_ids = sc.start_all(jobs)
        with contextlib.ExitStack() as stack:
            for wrap in around_drain:
                stack.enter_context(wrap(sc.rt, sc.faults))
            sc.drive(jobs, run_ids)
        return sc.finish(jobs, run_ids, baseline)


def drive(
    rt: LocalRuntime,
    faults: FaultInjector,
    jobs: list[Job],
    run_ids: dict[str, str],
    client: Client,
) -> None:
    """Drain, resume hooks, repeat until every run ended (or nothing moves any more)."""
    resumed: set[str] = set()
    for _ in range(MAX_ROUNDS):
        rt.drain()
        for job in jobs:
            if job.hook is None or job.label in resumed:
                continue
            token, payload = job.hook
            try:
                client.call(
                    lambda t=token, p=payload: resume_hook(t, p), give_up_on=(HookNotFoundError,)
                )
                resumed.add(job.label)
            except HookNotFoundError:
                pass  # not waiting on its hook yet
        with faults.paused():
            statuses = [rt.runtime.get_record(run_id).status for run_id in run_ids.values()]
        if all(s in TERMINAL for s in statuses) and resumed >= {j.label for j in jobs if j.hook}:
            rt.drain()  # let stragglers (late timers, duplicates) finish too
            return


def verify(
    rt: LocalRuntime,
    jobs: list[Job],
    run_ids: dict[str, str],
    baseline: dict[str, tuple[str, Any]] | None,
) -> tuple[list[RunCheck], list[str]]:
    checks: list[RunCheck] = []
    problems: list[str] = []
    children: list[str] = []
    for job in jobs:
        run_id = run_ids[job.label]
        record = rt.runtime.get_record(run_id)
        events = rt.events(run_id)
        expected = job.expected
        if baseline is not None and job.label in baseline:
            base_status, base_result = baseline[job.label]
            if (base_status, base_result) != (job.expect_status, job.expected):
                problems.append(
                    f"baseline of {job.label} is {base_status} {base_result!r}, "
                    f"not {job.expect_status} {job.expected!r}"
                )
            expected = base_result
        check = RunCheck(
            job.label,
            run_id,
            record.status,
            job.expect_status,
            outcome(record),
            expected,
            stuck=record.stuck is not None and not record.ended,
        )
        check.problems.extend(log_violations(events, record.last_seq))
        check.problems.extend(f"result without execution: {k}" for k in unexecuted_results(events))
        checks.append(check)
        for ids in step_results(events, "chaos.spawn"):
            children.extend(ids)
    for child_id in children:
        record = rt.runtime.get_record(child_id)
        events = rt.events(child_id)
        n = serde.from_json(events[0].data.input)["args"][0]
        check = RunCheck(
            f"child {n}", child_id, record.status, "completed", outcome(record), n * (n + 1) // 2
        )
        check.problems.extend(log_violations(events, record.last_seq))
        check.problems.extend(f"result without execution: {k}" for k in unexecuted_results(events))
        checks.append(check)
    every_run = rt.runtime.world.list_runs(workflow_name=None, status=None, limit=1000)
    known = set(run_ids.values()) | set(children)
    extra = [
        f"{r.run_id} ({r.workflow_name}, {r.status})" for r in every_run if r.run_id not in known
    ]
    if extra:
        problems.append(f"runs nobody asked for (a start or spawn not idempotent): {extra}")
    stranded = dead_letters(rt)
    if stranded:
        problems.append(f"messages in the dead-letter queues: {stranded}")
    return checks, problems


def outcome(record: Any) -> Any:
    """A run's result as compared with the baseline: its output, or its error type."""
    if record.status == "completed":
        return serde.from_json(record.output)
    if record.status == "failed" and record.error is not None:
        return record.error.type
    return None


def dead_letters(rt: LocalRuntime) -> dict[str, int]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    counts = {}
    for key in ("ADAPTER_WORKFLOW_QUEUE_URL", "ADAPTER_STEP_QUEUE_URL"):
        url = rt.env[key] + "-dlq"
        attrs = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        n = int(attrs["ApproximateNumberOfMessages"])
        if n:
            counts[url.rsplit("/", 1)[1]] = n
    return counts


def scenario_entry(result: ScenarioResult, config: FaultConfig) -> dict[str, Any]:
    checks = result.checks
    return {
        "scenario": result.name,
        "config": config.describe(),
        "seconds": round(result.seconds, 2),
        "runs": len(checks),
        "runs_completed": sum(c.status == "completed" for c in checks),
        "runs_failed_by_design": sum(
            c.status == "failed" and c.expect_status == "failed" for c in checks
        ),
        "runs_lost": sum(c.lost for c in checks),
        "runs_doubled": sum(c.doubled for c in checks),
        "runs_stuck": sum(c.stuck for c in checks),
        "result_mismatches": sum(c.mismatch for c in checks),
        "invariant_violations": len(result.violations),
        "violations": result.violations[:20],
        "client_retries": result.client_retries,
        "messages": result.messages,
        "faults": result.faults.stats.summary(),
    }


# --- two workers per message ----------------------------------------------------------------


@contextlib.contextmanager
def two_workers(rt: LocalRuntime, faults: FaultInjector) -> Iterator[None]:
    """Every message is processed by two workers at once, racing to their first write.

    SQS standard queues may hand one message to two consumers; here both call
    ``runtime.process`` on their own thread, meet at a barrier right before their
    first write to the log, and race. A delivery fails if either worker raised
    (a real exception, not a lost race).
    """
    runtime = rt.runtime
    original = runtime.process

    def process(message: Any, **kwargs: Any) -> None:
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def worker() -> None:
            faults.rendezvous_at_first_write(barrier)
            try:
                original(message, **kwargs)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, name=f"worker-{i}") for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    with _replaced_process(runtime, process):
        yield


@contextlib.contextmanager
def cold_starts(rt: LocalRuntime, faults: FaultInjector) -> Iterator[None]:
    """Half the invocations run in a fresh container: no history cached in memory.

    The runtime keeps each run's log in memory between invocations (a warm Lambda
    container); a cold one reads the whole log again, S3-held payloads included.
    """
    runtime = rt.runtime
    original = runtime.process
    rng = random.Random(faults.config.seed)
    lock = threading.Lock()

    def process(message: Any, **kwargs: Any) -> None:
        with lock:
            cold = rng.random() < 0.5
        if cold:
            runtime.journal.clear()
            faults.stats.cold_starts += 1
        original(message, **kwargs)

    with _replaced_process(runtime, process):
        yield


@contextlib.contextmanager
def _replaced_process(runtime: Any, process: Callable[..., None]) -> Iterator[None]:
    """``runtime.process`` is ``process`` for a while (wrappers nest)."""
    previous = vars(runtime).get("process")
    runtime.process = process
    try:
        yield
    finally:
        if previous is None:
            del runtime.process
        else:
            runtime.process = previous
