"""The HTTP API: API Gateway REST (v1) and HTTP (v2) events, one set of routes.

Routes, JSON in and out, camelCase keys; bad input always gets a 4xx with
``{"error": {"code", "message"}}``, never a 500 or a stack trace.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    Response,
)
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from ..core.errors import (
    HookNotFoundError,
    RunNotFoundError,
    SerializationError,
    WorkflowNotRegisteredError,
)
from ..runtime import (
    DeploymentNotFoundError,
    Run,
    child_runs,
    current_runtime,
    event_json,
    get_run,
    list_runs,
    resume_hook,
    run_json,
    start,
)
from ..world import RUN_STATUSES, RunRecord
from ._logging import logger

MAX_BODY_BYTES = 256 * 1024


class ApiError(Exception):
    """An error answered with its status and the pinned error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class StartRunBody(_Body):
    """``POST /runs``."""

    workflow: str = Field(min_length=1, max_length=512)
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    deployment_id: str | None = Field(default=None, max_length=128)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=512)


def _json_body(router: Router) -> Any:
    event = router.current_event
    raw = event.decoded_body if event.body is not None else ""
    if len((raw or "").encode("utf-8")) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"the body is larger than {MAX_BODY_BYTES} bytes")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from exc


def _answer(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(
        status_code=status, content_type="application/json", body=json.dumps(body, default=str)
    )


def _error(status: int, code: str, message: str) -> Response[str]:
    return _answer(status, {"error": {"code": code, "message": message}})


router = Router()  # type: ignore[no-untyped-call]


@router.post("/runs")
def post_run() -> Response[str]:
    payload = _json_body(router)
    if not isinstance(payload, dict):
        raise ApiError(
            400, "invalid_request", "the body must be a JSON object with a 'workflow' field"
        )
    try:
        body = StartRunBody.model_validate(payload)
    except ValidationError as exc:
        raise ApiError(400, "invalid_request", _validation_message(exc)) from exc
    run = start(
        body.workflow,
        args=body.args,
        kwargs=body.kwargs,
        deployment_id=body.deployment_id,
        idempotency_key=body.idempotency_key,
    )
    # The status it was accepted with (pending, or the run an idempotency key found):
    # a worker may already have moved it on, which GET /runs/{id} tells.
    return _answer(202, {"runId": run.run_id, "status": run.record().status})


@router.get("/runs")
def get_runs() -> Response[str]:
    query = router.current_event.query_string_parameters or {}
    status = query.get("status") or None
    if status is not None and status not in RUN_STATUSES:
        raise ApiError(400, "invalid_request", f"status must be one of {', '.join(RUN_STATUSES)}")
    try:
        limit = int(query.get("limit") or 100)
    except ValueError:
        raise ApiError(400, "invalid_request", "limit must be an integer") from None
    if not 1 <= limit <= 1000:
        raise ApiError(400, "invalid_request", "limit must be between 1 and 1000")
    runs = list_runs(workflow_name=query.get("workflow") or None, status=status, limit=limit)
    return _answer(200, {"runs": [run_json(_record(r)) for r in runs]})


@router.get("/runs/<run_id>")
def get_one_run(run_id: str) -> Response[str]:
    return _answer(200, run_json(_record(get_run(run_id))))


@router.get("/runs/<run_id>/events")
def get_events(run_id: str) -> Response[str]:
    # Leniently: a run whose history cannot be replayed must still be readable.
    run, events = current_runtime().readable_history(run_id)
    if run is None:
        raise RunNotFoundError(run_id)
    return _answer(200, {"events": [event_json(e) for e in events]})


@router.get("/runs/<run_id>/children")
def get_children(run_id: str) -> Response[str]:
    """Runs started from a step of ``run_id``, oldest first (``spawnedBy``: the step)."""
    get_run(run_id)  # 404 for an unknown run
    return _answer(200, {"children": [run_json(r) for r in child_runs(run_id)]})


@router.post("/runs/<run_id>/cancel")
def cancel_run(run_id: str) -> Response[str]:
    run = get_run(run_id)
    run.cancel()
    return _answer(202, {"runId": run_id, "status": run.status})


@router.post("/hooks/<token>")
def post_hook(token: str) -> Response[str]:
    return _answer(202, {"runId": resume_hook(token, _json_body(router))})


def _record(run: Run) -> RunRecord:
    return run.record()


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


_MAPPED: list[tuple[type[Exception], int, str]] = [
    (WorkflowNotRegisteredError, 404, "workflow_not_found"),
    (RunNotFoundError, 404, "run_not_found"),
    (HookNotFoundError, 404, "hook_not_found"),
    (DeploymentNotFoundError, 400, "unknown_deployment"),
    (SerializationError, 400, "invalid_payload"),
]


def _make_resolver(cls: type[APIGatewayRestResolver] | type[APIGatewayHttpResolver]) -> Any:
    app = cls()
    app.include_router(router)

    @app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
    def api_error(exc: ApiError) -> Response[str]:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def any_error(exc: Exception) -> Response[str]:
        for kind, status, code in _MAPPED:
            if isinstance(exc, kind):
                return _error(status, code, str(exc))
        logger.exception("unexpected error in the HTTP API")
        return _error(500, "internal_error", "internal error; see the function's logs")

    @app.not_found
    def not_found(exc: Exception) -> Response[str]:
        event = app.current_event
        return _error(404, "not_found", f"no route for {event.http_method} {event.path}")

    return app


_rest = _make_resolver(APIGatewayRestResolver)
_http = _make_resolver(APIGatewayHttpResolver)


def is_api_event(event: Any) -> bool:
    """Does this Lambda event come from API Gateway (REST v1 or HTTP v2)?"""
    if not isinstance(event, dict) or not isinstance(event.get("requestContext"), dict):
        return False
    return "httpMethod" in event or event.get("version") == "2.0"


def process_api_event(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Answer one API Gateway request."""
    resolver = _http if event.get("version") == "2.0" else _rest
    try:
        return resolver.resolve(event, context)  # type: ignore[no-any-return]
    except Exception:  # a malformed event the resolver itself cannot read
        logger.exception("malformed API Gateway event")
        return {
            "statusCode": 400,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(
                {"error": {"code": "invalid_request", "message": "malformed request event"}}
            ),
        }
