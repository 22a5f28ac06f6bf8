"""Run a Python script in a fresh interpreter of this environment, from the repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(script: str, *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -c script`` in the repository root; its output captured, never raising."""
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
