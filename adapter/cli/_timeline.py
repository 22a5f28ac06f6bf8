"""A run's timeline as a small typed model: one :class:`Span` per step, sleep and hook.

:func:`build_timeline` is the only place the CLI folds an event log; everything the CLI
draws (``runs show``, the ``--wait`` spinner, ``hooks resume --run``) reads the spans it
returns. When the core's run-state fold lands, only this function changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ..core.events import ErrorInfo, Event
from ._render import format_duration, local, short_name

SpanKind = Literal["step", "sleep", "hook"]
Outcome = Literal[
    "pending",
    "running",
    "retrying",
    "completed",
    "failed",
    "sleeping",
    "waiting",
    "received",
    "conflict",
    "disposed",
    "unfinished",
]


@dataclass
class Span:
    """One line of a run's timeline: a step, a sleep or a hook.

    Attributes:
        name: The step's registered name, ``sleep 5m00s`` or ``hook <token>``.
        attempts: Attempts of a step, payloads received by a hook.
        detail: One line about the outcome (the last error, the hook's conflict...).
        token: A hook's token.
        open: A hook that can still receive payloads (not disposed, its run going on).
        error: A step's latest recorded error (the final one when it failed), with the
            stack trace its attempt recorded.
    """

    kind: SpanKind
    correlation_id: str
    name: str
    start: datetime
    end: datetime | None = None
    attempts: int = 0
    outcome: Outcome = "pending"
    detail: str = ""
    token: str | None = None
    open: bool = False
    error: ErrorInfo | None = None

    @property
    def label(self) -> str:
        """The name as the timeline shows it: steps by their short name."""
        return short_name(self.name) if self.kind == "step" else self.name

    def to_json(self, origin: datetime) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "correlationId": self.correlation_id,
            "name": self.name,
            "startOffset": (self.start - origin).total_seconds(),
            "duration": (self.end - self.start).total_seconds() if self.end else None,
            "attempts": self.attempts,
            "outcome": self.outcome,
            "detail": self.detail,
        }


def build_timeline(events: Sequence[Event]) -> list[Span]:
    """Fold a run's events into one span per step, sleep and hook, in the order they
    began. Spans still open when the run ended are marked ``unfinished``."""
    spans: dict[str, Span] = {}
    ended = False
    for event in events:
        cid = event.correlation_id or ""
        span = spans.get(cid)
        at = event.created_at
        if event.type == "step_created":
            spans[cid] = Span("step", cid, event.data.step_name, at)
        elif event.type == "wait_created":
            # resume_at counts from the workflow's recorded now(), a moment before the
            # event's own timestamp: round so "5m" reads 5m00s, not 4m59s.
            requested = (event.data.resume_at - at).total_seconds()
            label = format_duration(round(requested) if requested >= 1 else requested)
            spans[cid] = Span(
                "sleep",
                cid,
                f"sleep {label}",
                at,
                outcome="sleeping",
                detail=f"until {local(event.data.resume_at)}",
            )
        elif event.type == "hook_created":
            token = event.data.token
            span = Span("hook", cid, f"hook {token}", at, outcome="waiting", token=token, open=True)
            if event.data.conflict:
                span.outcome, span.end, span.open = "conflict", at, False
                span.detail = f"token held by run {event.data.conflict}"
            spans[cid] = span
        elif event.type in ("run_completed", "run_failed", "run_cancelled"):
            ended = True
        elif span is None:
            continue
        elif event.type == "step_started":
            span.attempts = max(span.attempts, event.data.attempt)
            span.outcome = "running"
        elif event.type == "step_retrying":
            span.outcome = "retrying"
            if event.data.error is not None:
                span.error = event.data.error
                span.detail = f"{span.error.type}: {span.error.message}"
        elif event.type == "step_completed":
            span.attempts = max(span.attempts, event.data.attempt)
            span.end, span.outcome, span.error = at, "completed", None
            if span.detail:  # the last retry's error
                failed = span.attempts - 1
                span.detail = f"after {failed} failed attempt{'s' * (failed != 1)}, last: " + (
                    span.detail
                )
        elif event.type == "step_failed":
            span.end, span.outcome, span.error = at, "failed", event.data.error
            span.attempts = max(span.attempts, event.data.error.attempt or 0)
            span.detail = f"{span.error.type}: {span.error.message}"
        elif event.type == "wait_completed":
            span.end, span.outcome, span.detail = at, "completed", ""
        elif event.type == "hook_received":
            span.attempts += 1  # payloads received
            span.end, span.outcome = at, "received"
        elif event.type == "hook_disposed":
            span.open = False
            if span.end is None:
                span.end, span.outcome = at, "disposed"
    result = list(spans.values())
    if ended:
        for span in result:
            span.open = False
            if span.end is None:
                span.outcome = "unfinished"
    return result


def activity(spans: Sequence[Span]) -> str:
    """What an unfinished run is doing now, for the ``--wait`` spinner."""
    open_spans = [s for s in spans if s.end is None]
    if not open_spans:
        return ""
    span = open_spans[-1]
    if span.kind == "step":
        return f"step {span.label} ({span.outcome}, attempt {max(span.attempts, 1)})"
    return f"{span.name} ({span.outcome})"
