"""Chaos suite fixtures: the fault-free baseline, the ``slow`` marker, the report."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from .faults import FaultConfig
from .harness import REPORT, run_scenario
from .workloads import standard_jobs

REPORT_PATH = Path(__file__).with_name("report.json")

# test_random_plans uses hypothesis: keep its caches out of the repository.
set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "adapter-hypothesis"))
settings.register_profile("adapter", database=None, print_blob=True)
settings.load_profile("adapter")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: a long test (still run by default; deselect with -m 'not slow')"
    )


@pytest.fixture(autouse=True)
def _quiet_logs() -> Any:
    # Thousands of expected warnings ("invocation crashed", "retrying") slow the suite.
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


@pytest.fixture(scope="session")
def baseline() -> dict[str, tuple[str, Any]]:
    """``label -> (status, result)`` of every standard job, run without any fault."""
    result = run_scenario("baseline", FaultConfig(seed=0), standard_jobs("baseline"))
    assert not result.violations, result.violations
    return {c.label: (c.status, c.result) for c in result.checks if not c.label.startswith("child")}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if REPORT.scenarios:
        REPORT_PATH.write_text(json.dumps(REPORT.as_dict(), indent=2, default=str) + "\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not REPORT.scenarios:
        return
    report = REPORT.as_dict()
    write = terminalreporter.write_line
    terminalreporter.section("chaos report")
    for key in (
        "scenarios",
        "runs",
        "runs_completed",
        "runs_failed_by_design",
        "runs_lost",
        "runs_doubled",
        "runs_stuck",
        "result_mismatches",
        "invariant_violations",
        "faults_injected",
        "faults_by_kind",
        "faults_by_operation",
        "faults_by_phase",
        "duplicate_deliveries",
        "delayed_messages",
        "shuffled_batches",
        "forced_races",
        "cold_starts",
        "client_retries",
        "messages_processed",
    ):
        write(f"{key:>22}: {report[key]}")
    for s in report["details"]:
        write(
            f"  {s['scenario']:<38} runs={s['runs']:<4} lost={s['runs_lost']:<2} "
            f"doubled={s.get('runs_doubled', 0):<2} stuck={s.get('runs_stuck', 0):<2} "
            f"faults={s['faults'].get('faults', 0):<4} msgs={s.get('messages', '-')!s:<5} "
            f"violations={s['invariant_violations']:<3} "
            f"{s['seconds']:>6.1f}s"
        )
    write(f"written to {REPORT_PATH}")
