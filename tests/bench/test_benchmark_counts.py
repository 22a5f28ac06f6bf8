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

ROOT = Path(__file__).resolve().parents[2]


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
