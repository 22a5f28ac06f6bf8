"""moto as shipped outside LocalRuntime: patches installed per use, undone on exit,
skipped one by one when moto differs, and off with ``ADAPTER_TUNE_MOTO=0``."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from adapter import Registry, start
from adapter._moto import MOTO_LOCK, PATCHES, active, answer_in_process, prepared, tuned
from adapter.testing import LocalRuntime
from tests.unit.conftest import create_table

reg = Registry()


@reg.step(name="add")
async def add(x: int, y: int) -> int:
    return x + y


@reg.workflow(name="sum3")
async def sum3(x: int) -> int:
    return await add(await add(x, 1), 2)


_MISSING = object()


def _fixed_targets() -> list[tuple[Any, str]]:
    """moto attributes the tuning is known to replace (not taken from the registry)."""
    import moto.core.utils as utils
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.models import Queue, SQSBackend

    return [
        (DynamoHandler, "call_action"),
        (DynamoDBBackend, "transact_write_items"),
        (Table, "query"),
        (Table, "all_items"),
        (SQSBackend, "send_message"),
        (Queue, "approximate_number_of_messages"),
        (utils, "camelcase_to_underscores"),
    ]


def _snapshot(speed_only: bool = False) -> dict[tuple[int, str], tuple[Any, Any, Any]]:
    """Every attribute the registry's patches touch (and the fixed list): the owner's
    own value (or none: inherited) and what it resolves to."""
    targets = [
        (swap.owner, swap.name)
        for each, swaps in prepared(p for p in PATCHES if p.speed or not speed_only)
        for swap in swaps
    ]
    if not speed_only:
        targets += _fixed_targets()
    return {
        (id(owner), name): (owner, vars(owner).get(name, _MISSING), getattr(owner, name))
        for owner, name in targets
    }


def _changed(before: dict[tuple[int, str], tuple[Any, Any, Any]]) -> list[str]:
    return [
        f"{owner}.{name}"
        for (_, name), (owner, own, _) in before.items()
        if vars(owner).get(name, _MISSING) is not own
    ]


def _same(before: dict[tuple[int, str], tuple[Any, Any, Any]]) -> None:
    for (_, name), (owner, own, resolved) in before.items():
        assert vars(owner).get(name, _MISSING) is own, f"{owner}.{name}"
        got = getattr(owner, name)
        assert got is resolved or got == resolved, f"{owner}.{name}"  # bound methods: ==


def test_moto_is_as_shipped_after_a_local_runtime() -> None:
    before = _snapshot()
    assert len(before) >= 20
    with LocalRuntime(reg):
        assert len(_changed(before)) >= 20  # tuned while it runs
        assert start(sum3, args=[1]).return_value == 4
    _same(before)
    assert active() == []


def _slow_reads() -> Any:
    """moto's Table.get_item, slowed: a conditional write reads, waits, then writes."""
    from moto.dynamodb.models.table import Table

    get_item = Table.get_item

    def slow(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = get_item(self, *args, **kwargs)
        time.sleep(0.2)
        return found

    return mock.patch.object(Table, "get_item", slow)


def _racing_creates() -> list[str]:
    """Two threads create the same item on condition that it does not exist."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    create_table(ddb, "race")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create(who: str) -> None:
        barrier.wait()
        try:
            ddb.put_item(
                TableName="race",
                Item={"PK": {"S": "run"}, "SK": {"S": "1"}, "who": {"S": who}},
                ConditionExpression="attribute_not_exists(PK)",
            )
            outcomes.append("written")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=create, args=(w,)) for w in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


@contextlib.contextmanager
def _aws() -> Iterator[None]:
    env = {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    with mock.patch.dict(os.environ, env), mock_aws():
        yield


def test_a_users_mock_aws_after_a_local_runtime_sees_stock_moto() -> None:
    import moto.dynamodb.models as backend_module

    with LocalRuntime(reg):
        assert start(sum3, args=[1]).return_value == 4
    # Stock moto backs up every table a transaction names with a deep copy ...
    copied: list[str] = []
    stock_copy = backend_module.copy  # type: ignore[attr-defined]

    def deepcopy(value: Any, memo: Any = None) -> Any:
        copied.append(type(value).__name__)
        return stock_copy.deepcopy(value, memo)

    recorder = mock.Mock(deepcopy=deepcopy, copy=stock_copy.copy)
    with _aws(), mock.patch.object(backend_module, "copy", recorder):
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_table(ddb, "t")
        item = {"PK": {"S": "p"}, "SK": {"S": "1"}}
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": item}}])
        assert "Table" in copied
        # ... and is not serialized on our lock (held by another thread here).
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with MOTO_LOCK:
                held.set()
                release.wait(5)

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait(5)
        try:
            assert ddb.get_item(TableName="t", Key=item)["Item"] == item
        finally:
            release.set()
            holder.join()
    # ... and lets two conditional writes pass the same condition: the race is real.
    with _aws(), _slow_reads():
        assert _racing_creates() == ["written", "written"]


@pytest.mark.parametrize("tune", ["1", "0"])
def test_conditional_writes_are_atomic_under_threads_tuned_or_not(
    tune: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTER_TUNE_MOTO", tune)
    with _aws(), tuned(), _slow_reads():
        assert _racing_creates() == ["ConditionalCheckFailedException", "written"]


def test_tuning_off_applies_no_speed_patch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTER_TUNE_MOTO", "0")
    speed = _snapshot(speed_only=True)
    assert len(speed) >= 20
    with LocalRuntime(reg) as rt:
        assert active() == ["serialized_dynamodb"]  # correctness only
        _same(speed)
        assert not answer_in_process(boto3.client("sqs", region_name="us-east-1"))
        assert start(sum3, args=[1]).return_value == 4
        run = start(sum3, args=[5])
        assert run.return_value == 8
        types = [e.type for e in rt.events(run.run_id)]
        assert types.count("step_completed") == 2 and types[-1] == "run_completed"
    _same(speed)


def test_a_patch_whose_target_is_missing_is_skipped_with_one_debug_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from moto.moto_api._internal.moto_random import MotoRandom
    from moto.sqs.models import SQSBackend

    monkeypatch.delattr(SQSBackend, "is_message_valid_based_on_retention_period")

    def get_random_hex(self: Any, size: int = 8) -> str:  # another signature
        return "0" * size

    monkeypatch.setattr(MotoRandom, "get_random_hex", get_random_hex)
    monkeypatch.setitem(sys.modules, "moto.core.request", None)  # an import that fails
    caplog.set_level(logging.DEBUG, logger="adapter.moto")
    with _aws(), tuned():
        applied = active()
    skipped = {"retention_read_alone", "strings_drawn_at_once", "requests_routed_once"}
    assert not skipped & set(applied)
    assert {"serialized_dynamodb", "undo_log_transactions", "sends_uncounted"} <= set(applied)
    lines = [r.getMessage() for r in caplog.records if r.name == "adapter.moto"]
    for name in skipped:
        assert len([line for line in lines if f"patch {name} skipped" in line]) == 1, lines
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "adapter.moto")
    assert MotoRandom.get_random_hex is get_random_hex  # left as it was found
    assert not hasattr(SQSBackend, "is_message_valid_based_on_retention_period")


def test_nested_local_runtimes_keep_moto_tuned_until_the_outer_one_exits() -> None:
    before = _snapshot()
    with LocalRuntime(reg):
        tuned_now = {
            key: vars(owner).get(name) for key, (owner, _, _) in before.items() for name in [key[1]]
        }
        with LocalRuntime(reg):
            assert start(sum3, args=[2]).return_value == 5
        # The inner one's exit left the outer one's moto as it was: still tuned.
        assert {
            key: vars(owner).get(name) for key, (owner, _, _) in before.items() for name in [key[1]]
        } == tuned_now
        assert "undo_log_transactions" in active()
        assert start(sum3, args=[3]).return_value == 6
    _same(before)


def test_overlapping_uses_share_one_installation() -> None:
    before = _snapshot()
    first, second = tuned(), tuned()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # not nested: the first one out is not the last
    assert "undo_log_transactions" in active() and _changed(before)
    second.__exit__(None, None, None)
    _same(before)
