"""The event models: discriminated, frozen, strict."""

from __future__ import annotations

from datetime import UTC, datetime

import pydantic
import pytest

from adapter.core.events import (
    RunCompleted,
    RunCreated,
    RunStarted,
    StepCompleted,
    StepFailed,
    parse_event,
)

AT = datetime(2024, 1, 1, tzinfo=UTC)


def test_parse_event_picks_the_model_by_type() -> None:
    created = parse_event(
        {
            "type": "run_created",
            "run_id": "r1",
            "seq": 1,
            "created_at": AT.isoformat(),
            "data": {
                "workflow_name": "w",
                "input": {"args": [], "kwargs": {}},
                "deployment_id": "1",
            },
        }
    )
    assert isinstance(created, RunCreated)
    assert created.created_at == AT
    started = parse_event({"type": "run_started", "run_id": "r1", "seq": 2, "created_at": AT})
    assert isinstance(started, RunStarted)
    failed = parse_event(
        {
            "type": "step_failed",
            "run_id": "r1",
            "seq": 3,
            "correlation_id": "step_1",
            "created_at": AT,
            "data": {"error": {"type": "ValueError", "message": "m", "fatal": True}},
        }
    )
    assert isinstance(failed, StepFailed)
    assert failed.data.error.fatal is True
    assert failed.data.error.attempt is None


def test_events_round_trip_through_their_json() -> None:
    event = StepCompleted(
        run_id="r1", seq=4, correlation_id="step_1", created_at=AT, data={"result": [1, 2]}
    )
    assert parse_event(event.model_dump(mode="json")) == event
    assert event.data.attempt == 1


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "nope", "run_id": "r1", "seq": 1, "created_at": AT},
        {"type": "run_started", "run_id": "r1", "seq": 0, "created_at": AT},
        {"type": "run_started", "run_id": "r1", "seq": 1, "created_at": AT, "extra": 1},
        {"type": "run_completed", "run_id": "r1", "seq": 1, "created_at": AT},
        {"type": "run_started", "seq": 1, "created_at": AT},
    ],
    ids=["unknown-type", "seq-0", "extra-field", "missing-data", "missing-run-id"],
)
def test_invalid_events_are_rejected(raw: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        parse_event(raw)


def test_events_are_frozen() -> None:
    event = RunCompleted(run_id="r1", seq=9, created_at=AT, data={"output": None})
    with pytest.raises(pydantic.ValidationError):
        event.seq = 10  # type: ignore[misc]
