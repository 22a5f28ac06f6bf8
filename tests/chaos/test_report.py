"""The chaos report: no run may be lost, whichever scenarios ran before this test."""

from __future__ import annotations

from typing import Any

from .faults import FaultConfig
from .harness import REPORT, run_scenario
from .workloads import standard_jobs


def test_no_run_was_lost_across_the_chaos_suite(baseline: dict[str, tuple[str, Any]]) -> None:
    if len(REPORT.scenarios) <= 1:  # run on its own: do some chaos first
        config = FaultConfig(seed=99, rate=0.1, duplicate_rate=0.2, shuffle_receives=True)
        run_scenario("report-smoke", config, standard_jobs("report-smoke"), baseline)
    report = REPORT.as_dict()
    lost = {s["scenario"]: s["violations"] for s in report["details"] if s["runs_lost"]}
    assert report["runs"] > 0
    assert report["runs_lost"] == 0, f"{report['runs_lost']} run(s) lost: {lost}"
