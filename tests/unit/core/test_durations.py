"""durations: "30s", numbers and timedeltas into time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from adapter.core.durations import parse_duration, resolve_deadline

NOW = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250ms", timedelta(milliseconds=250)),
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("0s", timedelta(0)),
        ("1.5s", timedelta(milliseconds=1500)),
        ("0.5h", timedelta(minutes=30)),
        ("90m", timedelta(hours=1, minutes=30)),
        (" 30s ", timedelta(seconds=30)),
        ("10 m", timedelta(minutes=10)),
    ],
)
def test_duration_strings(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_ms_is_milliseconds_not_minutes() -> None:
    assert parse_duration("1ms") == timedelta(milliseconds=1)
    assert parse_duration("1m") == timedelta(minutes=1)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (0, timedelta(0)),
        (30, timedelta(seconds=30)),
        (2.5, timedelta(seconds=2.5)),
        (86400, timedelta(days=1)),
    ],
)
def test_numbers_are_seconds(number: float, expected: timedelta) -> None:
    assert parse_duration(number) == expected


def test_timedelta_passes_through() -> None:
    value = timedelta(hours=3, microseconds=5)
    assert parse_duration(value) == value


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "30",
        "s",
        "30sec",
        "5 minutes",
        "1y",
        "1M",
        "1e3s",
        "-5s",
        "+5s",
        "1.s",
        ".5s",
        "5s5m",
        "five s",
        None,
        [30],
        True,
        False,
    ],
    ids=repr,
)
def test_bad_durations_raise_value_error(bad: Any) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(bad)


@pytest.mark.parametrize("negative", [-1, -0.001, timedelta(seconds=-1), timedelta(days=-3)])
def test_negative_durations_raise_value_error(negative: Any) -> None:
    with pytest.raises(ValueError, match="negative"):
        parse_duration(negative)


def test_error_message_shows_the_examples() -> None:
    with pytest.raises(ValueError) as info:
        parse_duration("soon")
    assert "'soon'" in str(info.value)
    assert "30s" in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30s", NOW + timedelta(seconds=30)),
        (60, NOW + timedelta(minutes=1)),
        (timedelta(days=2), NOW + timedelta(days=2)),
        ("0s", NOW),
    ],
)
def test_resolve_deadline_adds_durations_to_now(value: Any, expected: datetime) -> None:
    assert resolve_deadline(value, NOW) == expected


def test_resolve_deadline_returns_aware_datetime_unchanged() -> None:
    at = datetime(2030, 1, 1, tzinfo=timezone(timedelta(hours=-5)))
    assert resolve_deadline(at, NOW) is at
    # a moment in the past is still a moment: it is returned as given
    past = NOW - timedelta(days=1)
    assert resolve_deadline(past, NOW) == past


def test_resolve_deadline_rejects_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve_deadline(datetime(2030, 1, 1), NOW)


def test_resolve_deadline_rejects_bad_durations() -> None:
    with pytest.raises(ValueError):
        resolve_deadline("tomorrow", NOW)
    with pytest.raises(ValueError):
        resolve_deadline(-5, NOW)
