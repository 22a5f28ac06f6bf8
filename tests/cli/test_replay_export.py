"""Logs exported with ``adapter runs events`` replay through ``adapter.testing.replay``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapter import NonDeterminismError, resume_hook, start
from adapter.testing import LocalRuntime, replay
from tests.functional import replaying as r

from .helpers import invoke


def test_exported_logs_replay(runner: CliRunner, tmp_path: Path) -> None:
    with LocalRuntime(registry=r.v1) as rt:
        waiting = start("orders.flow", args=["cli-lamp", 5])
        done = start("orders.flow", args=["cli-desk", 9])
        rt.drain()
        resume_hook("approve:cli-desk", "ok")
        rt.drain()
        exports = {}
        for name, run in (("waiting", waiting), ("done", done)):
            for flag in ("--json", "--raw"):
                result = invoke(runner, "runs", "events", run.run_id, flag)
                assert result.exit_code == 0, result.output
                path = tmp_path / f"{name}{flag}.json"
                path.write_text(result.stdout)
                exports[name, flag] = path
        follow = invoke(runner, "runs", "events", done.run_id, "--raw", "--follow")
        assert follow.exit_code == 0, follow.output
        lines = tmp_path / "follow.jsonl"
        lines.write_text(follow.stdout)
    # No stack needed any more: replaying is pure.
    finished = {"steps": ["reserved cli-desk", "shipped cli-desk"], "paid": 9}
    assert replay(exports["done", "--raw"], r.flow).output == finished
    assert replay(lines, r.flow).output == finished
    assert replay(exports["waiting", "--json"], r.flow).status == "suspended"
    assert replay(exports["waiting", "--raw"], r.flow).status == "suspended"
    for flag in ("--json", "--raw"):
        with pytest.raises(NonDeterminismError, match=r"'orders\.bill'"):
            replay(exports["waiting", flag], r.flow_renamed)
    # --json shows payloads as plain JSON: code reading a dataclass result cannot
    # finish on it, and the error says which export keeps the types.
    with pytest.raises(NonDeterminismError, match="--raw"):
        replay(exports["done", "--json"], r.flow)
