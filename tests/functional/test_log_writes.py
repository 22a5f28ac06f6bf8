"""How appends land in DynamoDB: each event's key is the lock, and the run item is
written only when something that reads it without the log needs it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from adapter import create_hook, get_run, resume_hook, sleep, start, step, workflow
from adapter.core.errors import ConflictError
from adapter.core.events import HookReceived, RunCancelled
from adapter.testing import LocalRuntime
from adapter.world import AppendBatch
from adapter.world._payloads import PayloadStore


@step
async def add_one(x: int) -> int:
    return x + 1


@workflow
async def steps_then_sleep(n: int) -> int:
    x = 0
    for _ in range(n):
        x = await add_one(x)
    await sleep("1h")
    return x


@workflow
async def waits_for_two_payloads() -> list[Any]:
    hook = create_hook(token="log-writes-hook")
    first = await hook
    x = await add_one(0)
    second = await hook
    return [first, x, second]


def _stored_run_item(rt: LocalRuntime, run_id: str) -> dict[str, Any]:
    ddb = rt.runtime.world._ddb  # type: ignore[attr-defined]
    key = {"PK": {"S": f"RUN#{run_id}"}, "SK": {"S": "RUN"}}
    item: dict[str, Any] = ddb.get_item(TableName=rt.env["ADAPTER_TABLE_NAME"], Key=key)["Item"]
    return item


def _count_writes(rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    ddb = rt.runtime.world._ddb  # type: ignore[attr-defined]
    counts: Counter[str] = Counter()
    for name in ("put_item", "transact_write_items", "query", "get_item"):
        original = getattr(ddb, name)

        def counted(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            counts[_name] += 1
            if _name == "transact_write_items":
                counts["run item updates"] += sum("Update" in w for w in kw["TransactItems"])
            if _name == "get_item" or (_name == "query" and "IndexName" not in kw):
                counts["run reads"] += 1  # not the stall sweep's index queries
            return _original(*args, **kw)

        monkeypatch.setattr(ddb, name, counted)
    return counts


def test_a_step_appends_without_writing_the_run_item(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with LocalRuntime() as rt:
        counts = _count_writes(rt, monkeypatch)
        run = start(steps_then_sleep, args=[5])
        rt.advance("1m")  # five steps done, asleep for an hour
        reads = counts["run reads"]
        events = rt.events(run.run_id)
        assert [e.type for e in events][-1] == "wait_created"
        # start() writes the run (one transaction); the first turn marks it running
        # (one transaction with the run item); each step is claimed with one PutItem
        # and finished with another (a page: its result and the next decision), none
        # touching the run item, but the last: the run goes to sleep with no step in
        # flight, and its run item says so (the idle mark the stall sweep reads).
        assert counts["run item updates"] == 2
        assert counts["put_item"] == 5 + 4
        assert counts["transact_write_items"] == 1 + 2
        stored = _stored_run_item(rt, run.run_id)
        assert stored["idle_until"]["S"] == events[-1].data.resume_at.isoformat()
        # Nor does anything read: start() left the new run in this process's cache, and
        # every later decision is proved current by its append.
        assert reads == 0
        assert int(stored["last_seq"]["N"]) == events[-1].seq
        # get_run tells the log's newest seq: it reads the newest event too.
        assert rt.runtime.world.get_run(run.run_id).last_seq == events[-1].seq
        rt.drain()
        assert get_run(run.run_id).return_value == 5
        stored = _stored_run_item(rt, run.run_id)
        assert int(stored["last_seq"]["N"]) == rt.events(run.run_id)[-1].seq


def test_the_sweep_mark_is_set_by_a_payload_and_cleared_by_the_next_turn() -> None:
    with LocalRuntime() as rt:
        run = start(waits_for_two_payloads)
        rt.drain()
        resume_hook("log-writes-hook", "a")
        # Recorded but not processed yet: the run item says so, for the stall sweep.
        assert _stored_run_item(rt, run.run_id)["last_event"]["S"] == "hook_received"
        rt.drain()
        assert _stored_run_item(rt, run.run_id)["last_event"]["S"] != "hook_received"
        resume_hook("log-writes-hook", "b")
        assert run.return_value == ["a", 1, "b"]


def test_two_appends_at_one_seq_one_wins() -> None:
    with LocalRuntime() as rt:
        run = start(steps_then_sleep, args=[1])
        rt.advance("1m")
        world = rt.runtime.world
        seq = world.get_run(run.run_id).last_seq

        def cancelled() -> AppendBatch:
            batch = AppendBatch(touch_run=False)
            now = datetime.now(UTC)
            batch.add([RunCancelled(run_id=run.run_id, seq=seq + 1, created_at=now)])
            return batch

        assert world.append(run.run_id, seq, cancelled()) == seq + 1
        with pytest.raises(ConflictError) as lost:
            world.append(run.run_id, seq, cancelled())
        assert lost.value.reason == "seq"
        assert [e.seq for e in rt.events(run.run_id)][-1] == seq + 1


@contextmanager
def _a_run_asleep() -> Iterator[tuple[LocalRuntime, Any, str, int]]:
    """A LocalRuntime with a run asleep after one step: the runtime, its world, the
    run's id and last seq."""
    with LocalRuntime() as rt:
        run = start(steps_then_sleep, args=[1])
        rt.advance("1m")
        world = rt.runtime.world
        yield rt, world, run.run_id, world.get_run(run.run_id).last_seq


def _event_items(rt: LocalRuntime, run_id: str) -> list[dict[str, Any]]:
    ddb = rt.runtime.world._ddb  # type: ignore[attr-defined]
    found: list[dict[str, Any]] = ddb.query(
        TableName=rt.env["ADAPTER_TABLE_NAME"],
        KeyConditionExpression="PK = :pk AND begins_with(SK, :ev)",
        ExpressionAttributeValues={":pk": {"S": f"RUN#{run_id}"}, ":ev": {"S": "EV#"}},
    )["Items"]
    return found


def _received(run_id: str, first_seq: int, payloads: list[Any]) -> AppendBatch:
    batch = AppendBatch(touch_run=False)
    now = datetime.now(UTC)
    for i, payload in enumerate(payloads):
        data = {"payload": payload}
        event = HookReceived(
            run_id=run_id, seq=first_seq + i, created_at=now, correlation_id="h", data=data
        )
        batch.add([event])
    return batch


def test_an_appends_events_share_one_item_and_its_first_seq_is_the_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _a_run_asleep() as (rt, world, run_id, seq):
        before = len(_event_items(rt, run_id))
        counts = _count_writes(rt, monkeypatch)
        assert world.append(run_id, seq, _received(run_id, seq + 1, ["a", "b", "c"])) == (seq + 3)
        assert counts["put_item"] == 1 and counts["transact_write_items"] == 0
        stored = _event_items(rt, run_id)
        assert len(stored) == before + 1
        page = stored[-1]
        assert (int(page["seq"]["N"]), int(page["through"]["N"])) == (seq + 1, seq + 3)
        # Read back in order, from the top or from where a reader left off.
        _, events = world.read(run_id, seq)
        assert [(e.seq, e.data.payload) for e in events] == [  # type: ignore[union-attr]
            (seq + 1, "a"),
            (seq + 2, "b"),
            (seq + 3, "c"),
        ]
        assert [e.seq for e in world.read(run_id, 0)[1]] == list(range(1, seq + 4))
        assert world.get_run(run_id).last_seq == seq + 3
        # A writer that had not seen the page aims at its first seq, and loses.
        with pytest.raises(ConflictError) as lost:
            world.append(run_id, seq, _received(run_id, seq + 1, ["late"]))
        assert lost.value.reason == "seq"


def test_pages_stay_well_under_the_item_size_limit() -> None:
    big = "x" * 60_000  # inline (under the 64 KB limit), so five of them need two items
    with _a_run_asleep() as (rt, world, run_id, seq):
        before = len(_event_items(rt, run_id))
        world.append(run_id, seq, _received(run_id, seq + 1, [big] * 5))
        stored = _event_items(rt, run_id)[before:]
        assert len(stored) == 2
        assert all(len(str(item)) < 300_000 for item in stored)
        _, events = world.read(run_id, seq)
        assert [e.seq for e in events] == list(range(seq + 1, seq + 6))
        assert all(e.data.payload == big for e in events)  # type: ignore[union-attr]


def test_an_event_near_the_item_limit_is_stored_typed_so_it_still_fits() -> None:
    # Quotes double when a payload is put in JSON text: as text, this would not fit.
    quoted = '"' * 150_000
    with _a_run_asleep() as (rt, world, run_id, seq):
        world.payloads = PayloadStore(None, None)
        before = len(_event_items(rt, run_id))
        world.append(run_id, seq, _received(run_id, seq + 1, [quoted, "small"]))
        stored = _event_items(rt, run_id)[before:]
        assert len(stored) == 2  # the big one alone, the next in an item of its own
        assert "events" not in stored[0] and "data" in stored[0]  # typed: stored as it is
        _, events = world.read(run_id, seq)
        assert [e.data.payload for e in events] == [quoted, "small"]  # type: ignore[union-attr]


def test_pages_are_sized_in_bytes_not_characters() -> None:
    euros = "€" * 21_000  # 63 KB in UTF-8 (inline), 21,000 characters
    with _a_run_asleep() as (rt, world, run_id, seq):
        before = len(_event_items(rt, run_id))
        world.append(run_id, seq, _received(run_id, seq + 1, [euros] * 8))  # ~504 KB
        stored = _event_items(rt, run_id)[before:]
        assert len(stored) == 2  # counted in characters, all eight fit one (too big) item
        _, events = world.read(run_id, seq)
        assert [e.data.payload for e in events] == [euros] * 8  # type: ignore[union-attr]
