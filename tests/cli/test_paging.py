"""``runs ls --cursor/--since/--until`` and the ``page_runs`` pager under them."""

from __future__ import annotations

from datetime import datetime

import pytest
from typer.testing import CliRunner

from adapter import Run, start
from adapter.runtime import page_runs
from adapter.testing import LocalRuntime
from samples.onboarding import onboard_user

from . import workflows as wf
from .helpers import invoke, ok_json


def _start_many(rt: LocalRuntime, count: int) -> list[Run]:
    runs = [start(wf.child, args=[n]) for n in range(count)]
    rt.drain()
    return runs


def _ids(body: dict[str, list[dict[str, str]]]) -> list[str]:
    return [run["runId"] for run in body["runs"]]


def test_page_runs_walks_every_run_once(rt: LocalRuntime) -> None:
    runs = _start_many(rt, 23)
    newest_first = [r.run_id for r in reversed(runs)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page, cursor = page_runs(limit=4, cursor=cursor)
        pages += 1
        assert len(page) <= 4
        seen.extend(r.run_id for r in page)
        if cursor is None:
            break
    assert seen == newest_first
    assert pages == 6  # 5 full pages and the last 3


def test_page_runs_is_stable_while_runs_start(rt: LocalRuntime) -> None:
    runs = _start_many(rt, 6)
    first, cursor = page_runs(limit=3)
    assert [r.run_id for r in first] == [r.run_id for r in reversed(runs[3:])]
    newer = start(wf.child, args=[99])  # newer than every page: never shifts them
    second, cursor = page_runs(limit=3, cursor=cursor)
    assert [r.run_id for r in second] == [r.run_id for r in reversed(runs[:3])]
    assert cursor is None
    assert page_runs(limit=1)[0][0].run_id == newer.run_id


def test_page_runs_filters_and_rejects_bad_input(rt: LocalRuntime) -> None:
    children = _start_many(rt, 3)
    other = start(onboard_user, args=["p@x.y"])
    rt.drain()
    page, cursor = page_runs(workflow_name="tests.cli.workflows.child", limit=2)
    assert [r.run_id for r in page] == [children[2].run_id, children[1].run_id]
    rest, end = page_runs(workflow_name="tests.cli.workflows.child", limit=2, cursor=cursor)
    assert [r.run_id for r in rest] == [children[0].run_id] and end is None
    assert other.run_id not in {r.run_id for r in page + rest}

    with pytest.raises(ValueError, match="not a cursor"):
        page_runs(cursor="not-a-cursor")
    with pytest.raises(ValueError, match="aware"):
        page_runs(since=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="limit"):
        page_runs(limit=0)


def test_runs_ls_pages_with_a_cursor(rt: LocalRuntime, runner: CliRunner) -> None:
    runs = _start_many(rt, 7)
    newest_first = [r.run_id for r in reversed(runs)]

    first = ok_json(runner, "runs", "ls", "--limit", "3")
    assert _ids(first) == newest_first[:3] and first["nextCursor"]
    second = ok_json(runner, "runs", "ls", "--limit", "3", "--cursor", first["nextCursor"])
    assert _ids(second) == newest_first[3:6] and second["nextCursor"]
    third = ok_json(runner, "runs", "ls", "--limit", "3", "--cursor", second["nextCursor"])
    assert _ids(third) == newest_first[6:] and third["nextCursor"] is None

    # As a table, the cursor of the next page goes to stderr: stdout stays the table.
    table = invoke(runner, "runs", "ls", "-n", "3")
    assert table.exit_code == 0, table.output
    rows = table.stdout.splitlines()[1:]
    assert [row.split()[0] for row in rows] == newest_first[:3]
    assert f"--cursor {first['nextCursor']}" in table.stderr
    last = invoke(runner, "runs", "ls", "-n", "3", "--cursor", second["nextCursor"])
    assert [row.split()[0] for row in last.stdout.splitlines()[1:]] == newest_first[6:]
    assert last.stderr == ""

    bad = invoke(runner, "runs", "ls", "--cursor", "garbage!")
    assert bad.exit_code == 2
    [line] = bad.stderr.strip().splitlines()
    assert line.startswith("error: ") and "--cursor" in line and "not a cursor" in line


def test_runs_ls_time_range(rt: LocalRuntime, runner: CliRunner) -> None:
    old = start(wf.child, args=[1])
    rt.drain()
    rt.advance("2h")
    middle = start(wf.child, args=[2])
    rt.drain()
    rt.advance("2h")
    new = start(wf.child, args=[3])
    rt.drain()

    recent = ok_json(runner, "runs", "ls", "--since", "1h")  # on the runtime's clock
    assert _ids(recent) == [new.run_id]
    assert _ids(ok_json(runner, "runs", "ls", "--since", "3h")) == [new.run_id, middle.run_id]
    since = middle.created_at.isoformat()
    until = new.created_at.isoformat()
    assert _ids(ok_json(runner, "runs", "ls", "--since", since)) == [new.run_id, middle.run_id]
    assert _ids(ok_json(runner, "runs", "ls", "--until", until)) == [middle.run_id, old.run_id]
    window = ok_json(runner, "runs", "ls", "--since", since, "--until", until)
    assert _ids(window) == [middle.run_id]
    # A time without a zone is local time.
    naive = middle.created_at.astimezone().replace(tzinfo=None).isoformat()
    assert _ids(ok_json(runner, "runs", "ls", "--since", naive)) == [new.run_id, middle.run_id]

    rt.advance("10m")
    nothing = invoke(runner, "runs", "ls", "--since", "5m")
    assert nothing.exit_code == 0 and "no runs matching the filters" in nothing.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--since", "yesterday"], "--since"),
        (["--until", "5 minutes"], "--until"),
        (["--since", "1h", "--until", "2h"], "later than --since"),
    ],
    ids=["since", "until", "inverted"],
)
def test_runs_ls_rejects_bad_times(
    rt: LocalRuntime, runner: CliRunner, args: list[str], fragment: str
) -> None:
    result = invoke(runner, "runs", "ls", *args)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and fragment in line
    assert "(see `adapter runs ls --help`)" in line
