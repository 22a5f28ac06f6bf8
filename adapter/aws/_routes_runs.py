"""The run routes: start, list, read, cancel, and the operations that move runs on by
hand (wake, retry, redrive). IAM-authenticated in the stacks."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import AwareDatetime

from ..core.errors import RunNotFoundError
from ..runtime import (
    child_runs,
    current_runtime,
    event_json,
    get_run,
    page_runs,
    run_json,
    start,
    timeline_json,
)
from ._api_models import (
    ChildList,
    EventList,
    ListStatus,
    RedriveBody,
    Redriven,
    Retried,
    RunAccepted,
    RunList,
    RunView,
    StartRunBody,
    Timeline,
    WakeBody,
    Woken,
)
from ._api_support import ApiError, answer, documented

router = Router()  # type: ignore[no-untyped-call]

RunId = Annotated[str, Path(min_length=1, max_length=128, description="The run's id.")]


@router.post("/runs", summary="Start a run", responses=documented(202, RunAccepted, 404, 409, 413))
def post_run(body: Annotated[StartRunBody, Body()]) -> Response[str]:
    run = start(
        body.workflow,
        args=body.args,
        kwargs=body.kwargs,
        deployment_id=body.deployment_id,
        idempotency_key=body.idempotency_key,
    )
    # The status it was accepted with (pending, or the run an idempotency key found):
    # a worker may already have moved it on, which GET /runs/{id} tells.
    return answer(202, {"runId": run.run_id, "status": run.record().status})


@router.get("/runs", summary="List runs, newest first", responses=documented(200, RunList))
def get_runs(
    workflow: Annotated[str | None, Query(max_length=512)] = None,
    status: Annotated[ListStatus | None, Query(description="A status, or stuck.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Runs per page.")] = 100,
    cursor: Annotated[
        str | None, Query(max_length=2048, description="The nextCursor of the previous page.")
    ] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="ISO-8601: created then or later.")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(description="ISO-8601: created before.")] = None,
) -> Response[str]:
    if since is not None and until is not None and until <= since:
        raise ApiError(400, "invalid_request", "until must be later than since")
    try:
        records, next_cursor = page_runs(
            workflow_name=workflow or None,
            status=status or None,
            limit=limit,
            cursor=cursor or None,
            since=since,
            until=until,
        )
    except ValueError as exc:  # a cursor no listing made
        raise ApiError(400, "invalid_cursor", str(exc)) from exc
    return answer(200, {"runs": [run_json(r) for r in records], "nextCursor": next_cursor})


@router.get("/runs/<run_id>", summary="Read a run", responses=documented(200, RunView, 404))
def get_one_run(run_id: RunId) -> Response[str]:
    return answer(200, run_json(get_run(run_id).record()))


@router.get(
    "/runs/<run_id>/events", summary="A run's events", responses=documented(200, EventList, 404)
)
def get_events(run_id: RunId) -> Response[str]:
    # Leniently: a run whose history cannot be replayed must still be readable.
    run, events = current_runtime().readable_history(run_id)
    if run is None:
        raise RunNotFoundError(run_id)
    return answer(200, {"events": [event_json(e) for e in events]})


@router.get(
    "/runs/<run_id>/timeline",
    summary="A run folded: steps, attempts, sleeps, hooks, children",
    responses=documented(200, Timeline, 404),
)
def get_timeline(run_id: RunId) -> Response[str]:
    return answer(200, timeline_json(current_runtime().timeline(run_id)))


@router.get(
    "/runs/<run_id>/children",
    summary="Runs started from a step of this run, oldest first",
    responses=documented(200, ChildList, 404),
)
def get_children(run_id: RunId) -> Response[str]:
    get_run(run_id)  # 404 for an unknown run
    return answer(200, {"children": [run_json(r) for r in child_runs(run_id)]})


@router.post(
    "/runs/<run_id>/cancel", summary="Cancel a run", responses=documented(202, RunAccepted, 404)
)
def cancel_run(run_id: RunId) -> Response[str]:
    run = get_run(run_id)
    run.cancel()
    return answer(202, {"runId": run_id, "status": run.status})


@router.post(
    "/runs/<run_id>/wake",
    summary="End a run's pending sleeps now",
    responses=documented(202, Woken, 404),
)
def wake_run(run_id: RunId, body: Annotated[WakeBody | None, Body()] = None) -> Response[str]:
    runtime = current_runtime()
    runtime.get_record(run_id)  # 404 for an unknown run, ended or not
    woken = runtime.wake(run_id, body.correlation_id if body is not None else None)
    return answer(202, {"runId": run_id, "woken": woken})


@router.post(
    "/runs/<run_id>/retry",
    summary="Bring back a stuck run, or one the runtime failed",
    responses=documented(202, Retried, 404, 409),
)
def retry_run(run_id: RunId) -> Response[str]:
    retried = current_runtime().retry(run_id)  # NotRetryableError: 409 not_retryable
    return answer(202, {"runId": run_id, "retried": retried})


@router.post(
    "/redrive",
    summary="Move dead-lettered messages back to their queues",
    responses=documented(202, Redriven),
)
def redrive(body: Annotated[RedriveBody | None, Body()] = None) -> Response[str]:
    moved = current_runtime().redrive(limit=body.limit if body is not None else None)
    return answer(202, {"workflow": moved.get("workflow", 0), "step": moved.get("step", 0)})
