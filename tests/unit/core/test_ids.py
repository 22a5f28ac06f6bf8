"""Identifiers: time-ordered ULIDs and run ids."""

from __future__ import annotations

import re

from adapter.core._ids import new_run_id, new_ulid

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")  # Crockford base32: no I, L, O, U


def test_ulid_shape() -> None:
    for _ in range(50):
        assert ULID.match(new_ulid())


def test_ulid_time_prefix_is_the_milliseconds() -> None:
    assert new_ulid(0)[:10] == "0000000000"
    assert new_ulid(1)[:10] == "0000000001"
    assert new_ulid(32)[:10] == "0000000010"
    assert new_ulid(2**48 - 1)[:10] == "7ZZZZZZZZZ"


def test_ulids_sort_by_time() -> None:
    stamps = [0, 1, 999, 1_000_000, 1_700_000_000_000, 1_700_000_000_001]
    ids = [new_ulid(ms) for ms in stamps]
    assert sorted(ids) == ids


def test_ulids_are_random_within_one_millisecond() -> None:
    ids = {new_ulid(1_700_000_000_000) for _ in range(100)}
    assert len(ids) == 100


def test_run_id_shape() -> None:
    run_id = new_run_id(1_700_000_000_000)
    assert run_id.startswith("wrun_")
    assert ULID.match(run_id.removeprefix("wrun_"))
    assert run_id[5:15] == new_ulid(1_700_000_000_000)[:10]
