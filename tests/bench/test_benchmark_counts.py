"""The benchmark's call and read counts, as regression tests.

Counts are exact (they do not depend on the machine's speed), so they can be asserted;
times stay in the benchmark's report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests._python import ROOT, run_python


@pytest.mark.timeout(600)
def test_quick_benchmark_runs_and_meets_the_call_and_read_targets(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--plain",
            "--only",
            "calls,replay",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert not report["errors"]
    # At most 4 handler AWS calls per step on a sequential chain (we make 3).
    assert report["calls"]["handler_calls_per_step"] <= 4
    # Linear replay: a warm container reads only what it does not have yet.
    growth = report["replay"]["warm"]["growth"]
    assert growth["steps_ratio"] >= 4
    assert growth["items_ratio"] <= 4.5


_SUSPENDED = """
import botocore.client
from adapter import start
from adapter.testing import LocalRuntime
from benchmarks._counting import CallCounter
from benchmarks.workflows import chain

stock = botocore.client.BaseClient._make_api_call
counter = CallCounter.install()
with LocalRuntime():
    before = counter.snapshot()
    with counter.suspended():
        assert botocore.client.BaseClient._make_api_call is stock
        assert start(chain, args=[3]).return_value == 3
    during = counter.snapshot() - before
    assert botocore.client.BaseClient._make_api_call is not stock
    assert start(chain, args=[3]).return_value == 3
    after = counter.snapshot() - before - during
print(*(snap.total(who) for snap in (during, after) for who in ("handler", "poller")))
"""


def test_timings_set_against_peers_run_with_counting_suspended() -> None:
    result = run_python(_SUSPENDED, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    handler_during, poller_during, handler_after, poller_after = map(int, result.stdout.split())
    assert (handler_during, poller_during) == (0, 0)
    assert handler_after >= 3 * 3 and poller_after >= 4
