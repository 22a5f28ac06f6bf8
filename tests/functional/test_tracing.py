"""Tracing (issue 19): one segment per workflow turn and per step attempt, annotated
with the run id and the step name; X-Ray subsegments through the powertools Tracer in
Lambda, nothing elsewhere."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

import adapter
from adapter.aws import _tracing
from adapter.aws._tracing import attach_tracing, subsegments
from adapter.runtime import (
    STEP_SEGMENT,
    TURN_SEGMENT,
    Annotations,
    no_trace,
)
from adapter.testing import LocalRuntime

from . import test_lambda_handler
from . import workflows as wf
from .test_lambda_handler import EventSourceMapping

aws = test_lambda_handler.aws  # the handler tests' fixture: resources on moto


@dataclass
class Segment:
    name: str
    annotations: dict[str, Any]
    children: list[Segment] = field(default_factory=list)


class FakeTrace:
    """A ``Services.trace`` that keeps the tree of segments it was asked to open."""

    def __init__(self) -> None:
        self.roots: list[Segment] = []
        self._local = threading.local()  # LocalRuntime runs each message on a thread

    @contextlib.contextmanager
    def __call__(self, name: str, annotations: Annotations) -> Iterator[object]:
        segment = Segment(name, dict(annotations))
        stack: list[Segment] = self._local.__dict__.setdefault("open", [])
        (stack[-1].children if stack else self.roots).append(segment)
        stack.append(segment)
        try:
            yield segment
        finally:
            stack.pop()

    def all(self, name: str) -> list[Segment]:
        found: list[Segment] = []

        def walk(segments: list[Segment]) -> None:
            for s in segments:
                if s.name == name:
                    found.append(s)
                walk(s.children)

        walk(self.roots)
        return found


def test_each_turn_and_each_step_attempt_gets_an_annotated_segment() -> None:
    wf.reset()
    wf.fail_plan["traced"] = 1  # the first attempt fails, the second succeeds
    trace = FakeTrace()
    with LocalRuntime() as rt:
        assert rt.runtime.trace is no_trace  # nothing is traced unless asked
        rt.runtime.trace = trace
        run = adapter.start(wf.flaky_workflow, args=["traced"])
        rt.drain()
        assert run.return_value == 2
    attempts = trace.all(STEP_SEGMENT)
    step_name = f"{wf.flaky.__module__}.flaky"
    assert [s.annotations for s in attempts] == [
        {"run_id": run.run_id, "step_name": step_name, "attempt": 1},
        {"run_id": run.run_id, "step_name": step_name, "attempt": 2},
    ]
    turns = trace.all(TURN_SEGMENT)
    assert turns and all(t.annotations == {"run_id": run.run_id} for t in turns)
    # The attempt that completed records its outcome with the workflow's next turn.
    assert [c.name for c in attempts[1].children] == [TURN_SEGMENT]


def test_a_failing_attempt_is_still_traced_once() -> None:
    wf.reset()
    wf.fail_plan["doomed"] = 99  # fails for good after max_retries + 1 attempts
    trace = FakeTrace()
    with LocalRuntime() as rt:
        rt.runtime.trace = trace
        run = adapter.start(wf.flaky_workflow, args=["doomed"])
        rt.drain()
        assert run.status == "failed"
    attempts = trace.all(STEP_SEGMENT)
    assert [s.annotations["attempt"] for s in attempts] == [1, 2, 3, 4]
    assert wf.calls["flaky:doomed"] == 4


# --- the powertools shell -----------------------------------------------------------------------


class FakeSubsegment:
    def __init__(self, name: str) -> None:
        self.name = name
        self.annotations: dict[str, Any] = {}

    def put_annotation(self, key: str, value: Any) -> None:
        self.annotations[key] = value


class FakeProvider:
    """The part of powertools' X-Ray provider the shell uses."""

    def __init__(self) -> None:
        self.subsegments: list[FakeSubsegment] = []

    @contextlib.contextmanager
    def in_subsegment(self, name: str) -> Iterator[FakeSubsegment]:
        subsegment = FakeSubsegment(name)
        self.subsegments.append(subsegment)
        yield subsegment


def test_segments_become_annotated_subsegments() -> None:
    provider = FakeProvider()
    trace = subsegments(SimpleNamespace(disabled=False, provider=provider))
    with trace(STEP_SEGMENT, {"run_id": "r1", "step_name": "s", "attempt": 2}):
        pass
    (sub,) = provider.subsegments
    assert sub.name == STEP_SEGMENT
    assert sub.annotations == {"run_id": "r1", "step_name": "s", "attempt": 2}


def test_nothing_is_attached_when_tracing_is_off_or_outside_lambda(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with LocalRuntime() as rt:
        attach_tracing(rt.runtime, SimpleNamespace(disabled=True, provider=FakeProvider()))
        assert rt.runtime.trace is no_trace
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
        attach_tracing(rt.runtime)  # no Tracer is even made outside Lambda
        assert rt.runtime.trace is no_trace
        assert _tracing._tracer is None


@pytest.fixture
def lambda_env(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    """Resources on moto (``aws``), the Lambda environment, and a Tracer that is on."""
    provider = FakeProvider()
    monkeypatch.setattr(_tracing, "_tracer", SimpleNamespace(disabled=False, provider=provider))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "handler-test-workflows")
    return provider


def test_the_lambda_handler_traces_with_the_powertools_tracer(
    aws: dict[str, str], lambda_env: FakeProvider
) -> None:
    run = adapter.start(wf.chain, args=[1])
    EventSourceMapping(aws).run_until_idle()
    assert run.status == "completed"
    steps = [s for s in lambda_env.subsegments if s.name == STEP_SEGMENT]
    assert [s.annotations["step_name"].rsplit(".", 1)[1] for s in steps] == [
        "double",
        "increment",
        "double",
    ]
    assert all(s.annotations["run_id"] == run.run_id for s in lambda_env.subsegments)
    assert any(s.name == TURN_SEGMENT for s in lambda_env.subsegments)


def test_a_package_without_the_xray_sdk_runs_untraced(monkeypatch: pytest.MonkeyPatch) -> None:
    """``aws-lambda-powertools`` without ``[tracer]``: one warning, no failure."""
    import builtins

    real_import = builtins.__import__

    def no_xray(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("aws_xray_sdk"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(_tracing, "_tracer", None)
    monkeypatch.setattr(builtins, "__import__", no_xray)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "untraced")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")  # powertools would trace here
    with LocalRuntime() as rt:
        attach_tracing(rt.runtime)
        attach_tracing(rt.runtime)  # a warm container: still no failure
        assert rt.runtime.trace is no_trace
    assert isinstance(_tracing._tracer, _tracing._Off)  # the import failed, and was caught
    assert _tracing.powertools_tracer().disabled
