from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from adapter.core.events import Event
from adapter.testing import LocalRuntime


@pytest.fixture
def rt() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        yield runtime


def assert_log_invariants(events: list[Event]) -> None:
    """No gaps, no duplicates, each step created once and finished at most once."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "run_created"
    created = Counter(e.correlation_id for e in events if e.type == "step_created")
    finished = Counter(
        e.correlation_id for e in events if e.type in ("step_completed", "step_failed")
    )
    assert all(n == 1 for n in created.values()), created
    assert all(n == 1 for n in finished.values()), finished
    assert set(finished) <= set(created)
    assert len({e.run_id for e in events}) == 1
