"""The HTTP API: API Gateway REST (v1) and HTTP (v2) events, one set of routes.

Routes, JSON in and out, camelCase keys; bad input always gets a 4xx with
``{"error": {"code", "message"}}``, never a 500 or a stack trace. Requests are validated
by powertools against the routes' typed parameters (pydantic), which also make the
OpenAPI document served at ``GET /openapi.json``.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    Response,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic.alias_generators import to_camel

from ..runtime import api_error
from . import _routes_hooks, _routes_runs
from ._api_support import ApiError, answer, check_encoding, decode_body, error, error_shape
from ._logging import logger

__all__ = ["ApiError", "is_api_event", "openapi_document", "process_api_event"]


def _validation_message(errors: list[Any]) -> str:
    parts = []
    for problem in errors:
        where = ".".join(str(p) for p in problem.get("loc", ())) or "request"
        parts.append(f"{where}: {problem.get('msg', 'invalid')}")
    return "; ".join(parts)[:2000] or "the request does not validate"


def _make_resolver(cls: type[APIGatewayRestResolver] | type[APIGatewayHttpResolver]) -> Any:
    app = cls(enable_validation=True, json_body_deserializer=decode_body)
    app.include_router(_routes_runs.router)
    app.include_router(_routes_hooks.router)

    @app.get(
        "/openapi.json",
        summary="This API's OpenAPI document",
        responses={200: {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
    )
    def get_openapi() -> Response[str]:
        return answer(200, openapi_document())

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def invalid(exc: RequestValidationError) -> Response[str]:
        errors = list(exc.errors())
        code = "invalid_json" if any(e.get("type") == "json_invalid" for e in errors) else None
        return error(400, code or "invalid_request", _validation_message(errors))

    @app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
    def unsupported(exc: RequestUnsupportedContentType) -> Response[str]:
        return error(415, "unsupported_media_type", _JSON_ONLY)

    @app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
    def on_api_error(exc: ApiError) -> Response[str]:
        return error(exc.status, exc.code, exc.message)

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def any_error(exc: Exception) -> Response[str]:
        known = api_error(exc)
        if known is not None:
            return error(known[0], known[1], str(exc))
        logger.exception("unexpected error in the HTTP API")
        return error(500, "internal_error", "internal error; see the function's logs")

    @app.not_found
    def not_found(exc: Exception) -> Response[str]:
        event = app.current_event
        return error(404, "not_found", f"no route for {event.http_method} {event.path}")

    return app


_rest = _make_resolver(APIGatewayRestResolver)
_http = _make_resolver(APIGatewayHttpResolver)


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the HTTP API (what ``GET /openapi.json`` answers).

    Made by powertools from the routes' typed parameters and answer models; its
    validation answers are ours (400 with the pinned error shape), not its 422.
    """
    try:
        package_version = version("adapter")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        package_version = "0"
    schema = _http.get_openapi_schema(
        title="adapter",
        version=package_version,
        description=(
            "Durable workflows on AWS Lambda. Errors are "
            '`{"error": {"code", "message"}}`. Every route but POST /webhooks/{token} '
            "is IAM-authenticated."
        ),
    )
    document: dict[str, Any] = schema.model_dump(mode="json", by_alias=True, exclude_none=True)
    paths: dict[str, Any] = {}
    for path, item in document.get("paths", {}).items():
        # The pinned names: /runs/{runId}, as API Gateway and the stacks spell them.
        paths[_PARAM.sub(lambda m: "{" + to_camel(m.group(1)) + "}", path)] = item
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            operation.get("responses", {}).pop("422", None)
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path":
                    parameter["name"] = to_camel(parameter["name"])
    document["paths"] = paths
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ResponseValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


_PARAM = re.compile(r"\{(\w+)\}")


def is_api_event(event: Any) -> bool:
    """Does this Lambda event come from API Gateway (REST v1 or HTTP v2)?"""
    if not isinstance(event, dict) or not isinstance(event.get("requestContext"), dict):
        return False
    return "httpMethod" in event or event.get("version") == "2.0"


def _media_type_refused(event: dict[str, Any]) -> dict[str, Any] | None:
    """415 for a body declared as anything but JSON (a form, multipart, text): the API
    takes JSON only, and the resolvers would otherwise try to parse it as declared."""
    headers = event.get("headers")
    method = event.get("httpMethod") or (event["requestContext"].get("http") or {}).get("method")
    if not isinstance(headers, dict) or not (event.get("body") or method in _BODY_METHODS):
        return None
    declared = next(
        (v for k, v in headers.items() if isinstance(k, str) and k.lower() == "content-type"),
        None,
    )
    if not isinstance(declared, str) or not declared.strip():
        return None  # undeclared: read as JSON
    if declared.split(";", 1)[0].strip().lower() == "application/json":
        return None
    return _plain_error(415, "unsupported_media_type", _JSON_ONLY)


_JSON_ONLY = "send the body as JSON (Content-Type: application/json)"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def process_api_event(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Answer one API Gateway request."""
    resolver = _http if event.get("version") == "2.0" else _rest
    try:
        refused = _media_type_refused(event)
        if refused is not None:
            return refused
        check_encoding(event)
        return resolver.resolve(event, context)  # type: ignore[no-any-return]
    except ApiError as exc:
        return _plain_error(exc.status, exc.code, exc.message)
    except Exception:  # a malformed event the resolver itself cannot read
        logger.exception("malformed API Gateway event")
        return _plain_error(400, "invalid_request", "malformed request event")


def _plain_error(status: int, code: str, message: str) -> dict[str, Any]:
    """An error answer made without the resolvers (for what they cannot read)."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(error_shape(code, message)),
    }
