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
    return body


def event_json(event: Event) -> dict[str, Any]:
    """An event as the API shows it (payloads as plain JSON)."""
    data = event.data.model_dump(mode="json")
    for key in ("input", "result", "output", "payload", "metadata"):
        if key in data:
            data[key] = serde.to_plain(data[key])
    if isinstance(data.get("error"), dict):
        data["error"].pop("stack", None)  # stack traces stay in the log, not the API
    return {
        "runId": event.run_id,
        "seq": event.seq,
        "type": event.type,
        "correlationId": event.correlation_id,
        "createdAt": event.created_at.isoformat(),
        "data": data,
    }
