"""Durations: the one place that turns ``"30s"``, numbers and timedeltas into time."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")

DurationLike = str | int | float | timedelta


def parse_duration(value: DurationLike) -> timedelta:
    """Turn a duration into a ``timedelta``.

    Args:
        value: ``"250ms"``, ``"30s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"1w"``, a number of
            seconds, or a ``timedelta``.

    Raises:
        ValueError: for a negative duration or an unknown form.
    """
    try:
        result = _to_timedelta(value)
    except OverflowError:
        raise ValueError(f"duration out of range: {value!r}") from None
    if result < timedelta(0):
        raise ValueError(f"duration must not be negative: {value!r}")
    return result


def _to_timedelta(value: DurationLike) -> timedelta:
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    elif isinstance(value, (int, float)):
        result = timedelta(seconds=value)
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if not match:
            raise ValueError(
                f"not a duration: {value!r} (use e.g. '250ms', '30s', '5m', '2h', '1d', '1w')"
            )
        result = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError(f"not a duration: {value!r}")
    return result


def resolve_deadline(value: DurationLike | datetime, now: datetime) -> datetime:
    """Return the moment ``value`` points at: ``now + duration``, or an aware datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetime must be timezone-aware")
        return value
    return now + parse_duration(value)
