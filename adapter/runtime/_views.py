"""JSON views of runs and events, as the HTTP API and the CLI show them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..core import RunState, serde
from ..core.errors import (
    DeploymentNotFoundError,
    HookConflictError,
    HookNotFoundError,
    IdempotencyConflictError,
    InvalidHookTokenError,
    NotRetryableError,
    PayloadTooLargeError,
    RunNotFoundError,
    SerializationError,
    WorkflowArgumentsError,
    WorkflowNotRegisteredError,
)
from ..core.events import ErrorInfo, Event
from ..world import RunRecord

API_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (WorkflowNotRegisteredError, 404, "workflow_not_found"),
    (WorkflowArgumentsError, 400, "invalid_arguments"),
    (RunNotFoundError, 404, "run_not_found"),
    (HookNotFoundError, 404, "hook_not_found"),
    (DeploymentNotFoundError, 400, "unknown_deployment"),
    (PayloadTooLargeError, 413, "payload_too_large"),
    (SerializationError, 400, "invalid_payload"),
    (InvalidHookTokenError, 400, "invalid_hook_token"),
    (IdempotencyConflictError, 409, "idempotency_conflict"),
    (NotRetryableError, 409, "not_retryable"),
    (HookConflictError, 409, "hook_conflict"),
)
"""How the HTTP API (status, code) and the CLI (code) name the errors users cause."""


def api_error(exc: BaseException) -> tuple[int, str] | None:
    """The HTTP status and error code of ``exc``, if it is one users cause."""
    for kind, status, code in API_ERRORS:
        if isinstance(exc, kind):
            return status, code
    return None


def run_json(record: RunRecord) -> dict[str, Any]:
    """A run as the API shows it."""
    body: dict[str, Any] = {
        "runId": record.run_id,
        "workflowName": record.workflow_name,
        "deploymentId": record.deployment_id,
        "status": record.status,
        "input": serde.to_plain(record.input),
        "createdAt": record.created_at.isoformat(),
        "startedAt": record.started_at.isoformat() if record.started_at else None,
        "completedAt": record.completed_at.isoformat() if record.completed_at else None,
    }
    if record.status == "completed":
        body["output"] = serde.to_plain(record.output)
    if record.error is not None:
        body["error"] = {"type": record.error.type, "message": record.error.message}
    parent = parent_of(record)
    body["parentRunId"], body["spawnedBy"] = parent if parent else (None, None)
    if record.stuck is not None:
        body["stuck"] = {
            "reason": record.stuck.reason,
            "since": record.stuck.since.isoformat(),
            "kind": record.stuck.kind,
        }
    return body


def event_json(event: Event) -> dict[str, Any]:
    """An event as the API shows it (payloads as plain JSON).

    An error keeps the stack trace its step or run recorded: the CLI and the inspector
    show it beside the failure (it is the user's own code's traceback, not the API's).
    """
    data = event.data.model_dump(mode="json")
    for key in ("input", "result", "output", "payload", "metadata"):
        if key in data:
            data[key] = serde.to_plain(data[key])
    return {
        "runId": event.run_id,
        "seq": event.seq,
        "type": event.type,
        "correlationId": event.correlation_id,
        "createdAt": event.created_at.isoformat(),
        "data": data,
    }


def parent_of(record: RunRecord) -> tuple[str, str] | None:
    """``(parent run id, spawning step's correlation id)`` of a run started from a step."""
    if record.parent_run_id:
        return record.parent_run_id, record.parent_step or ""
    return None


def child_runs(run_id: str) -> list[RunRecord]:
    """Runs started from a step of ``run_id``, oldest first (one index query)."""
    from ._client import current_runtime

    return current_runtime().child_runs(run_id)


def timeline_json(state: RunState) -> dict[str, Any]:
    """The folded run, as ``GET /runs/{runId}/timeline`` answers it (camelCase)."""
    return {
        "runId": state.run_id,
        "workflowName": state.workflow_name,
        "deploymentId": state.deployment_id,
        "status": state.status,
        "createdAt": _time(state.created_at),
        "startedAt": _time(state.started_at),
        "endedAt": _time(state.ended_at),
        "error": _error(state.error),
        "lastSeq": state.last_seq,
        "steps": [
            {
                "correlationId": step.correlation_id,
                "stepName": step.step_name,
                "status": step.status,
                "createdAt": _time(step.created_at),
                "endedAt": _time(step.ended_at),
                "attempts": [
                    {
                        "attempt": a.number,
                        "startedAt": _time(a.started_at),
                        "endedAt": _time(a.ended_at),
                        "outcome": a.outcome,
                        "leaseUntil": _time(a.lease_until),
                        "retryAt": _time(a.retry_at),
                        "error": _error(a.error),
                    }
                    for a in step.attempts
                ],
                "error": _error(step.error),
            }
            for step in state.steps.values()
        ],
        "waits": [
            {
                "correlationId": wait.correlation_id,
                "createdAt": _time(wait.created_at),
                "resumeAt": _time(wait.resume_at),
                "completedAt": _time(wait.completed_at),
            }
            for wait in state.waits.values()
        ],
        "hooks": [
            {
                "correlationId": hook.correlation_id,
                "token": hook.token,
                "webhook": hook.webhook,
                "createdAt": _time(hook.created_at),
                "conflict": hook.conflict,
                "payloads": hook.payloads,
                "receivedAt": [_time(at) for at in hook.received_at],
                "disposedAt": _time(hook.disposed_at),
                "metadata": serde.to_plain(hook.metadata),
            }
            for hook in state.hooks.values()
        ],
        "children": [
            {
                "runId": child.run_id,
                "workflowName": child.workflow_name,
                "status": child.status,
                "spawnedBy": child.spawned_by,
                "createdAt": _time(child.created_at),
                "completedAt": _time(child.completed_at),
            }
            for child in state.children
        ],
    }


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _error(error: ErrorInfo | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return error.model_dump(mode="json", exclude_none=True)
