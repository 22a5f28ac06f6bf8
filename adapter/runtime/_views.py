"""JSON views of runs and events, as the HTTP API and the CLI show them."""

from __future__ import annotations

from typing import Any

from ..core import serde
from ..core.events import Event
from ..world import RunRecord


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


CHILD_SCAN_LIMIT = 1000


def parent_of(record: RunRecord) -> tuple[str, str] | None:
    """``(parent run id, spawning step's correlation id)`` of a run started from a step.

    ``start()`` inside a step derives the idempotency key
    ``<parent run id>:<step correlation id>:<index>``: that is the link.
    """
    parts = (record.idempotency_key or "").split(":")
    if len(parts) == 3 and parts[0].startswith("wrun_") and parts[2].isdigit():
        return parts[0], parts[1]
    return None


def child_runs(run_id: str, *, scan: int = CHILD_SCAN_LIMIT) -> list[RunRecord]:
    """Runs started from a step of ``run_id``, oldest first, among the newest ``scan``."""
    from ._client import list_runs

    children = [
        run.record()
        for run in list_runs(limit=scan)
        if (parent := parent_of(run.record())) is not None and parent[0] == run_id
    ]
    return sorted(children, key=lambda r: (r.created_at, r.run_id))
