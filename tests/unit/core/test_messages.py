"""Queue messages: what a message may say, and nothing else."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pydantic
import pytest

from adapter.core._ids import new_run_id
from adapter.core.messages import StepMessage, WorkflowMessage, parse_message


def body(**fields: Any) -> str:
    return json.dumps(fields)


def test_workflow_message() -> None:
    message = parse_message(body(kind="workflow", run_id="wrun_01HX", deployment_id="1"))
    assert isinstance(message, WorkflowMessage)
    assert message.run_id == "wrun_01HX"
    assert message.deployment_id == "1"
    assert message.kind == "workflow"


def test_step_message() -> None:
    message = parse_message(
        body(kind="step", run_id="wrun_01HX", deployment_id="live", correlation_id="step_3")
    )
    assert isinstance(message, StepMessage)
    assert message.correlation_id == "step_3"
    assert message.deployment_id == "live"


def test_timer_message() -> None:
    message = parse_message(
        body(
            kind="workflow",
            run_id="r1",
            deployment_id="1",
            timer="wait_2",
            resume_at="2024-01-01T12:00:00+00:00",
        )
    )
    assert isinstance(message, WorkflowMessage)
    assert message.timer == "wait_2"
    assert message.resume_at == datetime(2024, 1, 1, 12, tzinfo=UTC)
    plain = parse_message(body(kind="workflow", run_id="r1", deployment_id="1"))
    assert (plain.timer, plain.resume_at) == (None, None)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "message",
    [
        WorkflowMessage(run_id="r-1", deployment_id="1"),
        StepMessage(run_id="a.b:c_d-1", deployment_id="v2", correlation_id="step_12"),
    ],
)
def test_messages_round_trip_through_json(message: Any) -> None:
    assert parse_message(message.model_dump_json()) == message


def test_generated_run_ids_are_valid_message_ids() -> None:
    for _ in range(20):
        run_id = new_run_id()
        assert parse_message(body(kind="workflow", run_id=run_id, deployment_id="1")).run_id == (
            run_id
        )


def test_longest_allowed_id() -> None:
    run_id = "a" * 128
    assert parse_message(body(kind="workflow", run_id=run_id, deployment_id="d" * 128))


@pytest.mark.parametrize(
    "raw",
    [
        body(kind="timer", run_id="r1", deployment_id="1"),
        body(kind="", run_id="r1", deployment_id="1"),
        body(kind=None, run_id="r1", deployment_id="1"),
        body(kind="WORKFLOW", run_id="r1", deployment_id="1"),
    ],
)
def test_unknown_kind_is_rejected(raw: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        parse_message(raw)


@pytest.mark.parametrize(
    "raw",
    [
        body(run_id="r1", deployment_id="1"),
        body(kind="workflow", deployment_id="1"),
        body(kind="workflow", run_id="r1"),
        body(kind="step", run_id="r1", deployment_id="1"),
        body(),
    ],
    ids=["no-kind", "no-run-id", "no-deployment", "step-without-correlation-id", "empty"],
)
def test_missing_fields_are_rejected(raw: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        parse_message(raw)


@pytest.mark.parametrize(
    "raw",
    [
        body(kind="workflow", run_id="r1", deployment_id="1", payload={"x": 1}),
        body(kind="workflow", run_id="r1", deployment_id="1", correlation_id="step_1"),
        body(kind="step", run_id="r1", deployment_id="1", correlation_id="step_1", attempt=2),
    ],
)
def test_extra_fields_are_rejected(raw: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=r"[Ee]xtra"):
        parse_message(raw)


@pytest.mark.parametrize(
    "run_id",
    ["", "has space", "a/b", "semi;colon", "emoji✓", "x" * 129, 123, None, "new\nline"],
    ids=repr,
)
def test_bad_run_ids_are_rejected(run_id: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        parse_message(body(kind="workflow", run_id=run_id, deployment_id="1"))
    with pytest.raises(pydantic.ValidationError):
        parse_message(body(kind="step", run_id=run_id, deployment_id="1", correlation_id="s_1"))


@pytest.mark.parametrize("correlation_id", ["", "step 1", "../x", "y" * 129])
def test_bad_correlation_ids_are_rejected(correlation_id: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        parse_message(
            body(kind="step", run_id="r1", deployment_id="1", correlation_id=correlation_id)
        )


@pytest.mark.parametrize("deployment_id", ["", "d" * 129, 1])
def test_bad_deployment_ids_are_rejected(deployment_id: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        parse_message(body(kind="workflow", run_id="r1", deployment_id=deployment_id))


@pytest.mark.parametrize("raw", ["", "not json", "[]", "null", '"workflow"', "{"])
def test_non_messages_are_rejected(raw: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        parse_message(raw)


def test_messages_are_frozen() -> None:
    message = WorkflowMessage(run_id="r1", deployment_id="1")
    with pytest.raises(pydantic.ValidationError):
        message.run_id = "r2"  # type: ignore[misc]
