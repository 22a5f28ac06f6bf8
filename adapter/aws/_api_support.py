"""What every route shares: the pinned error shape, JSON answers, the request body's
decoding and how answers are documented in the OpenAPI document."""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel

from ..core.errors import AdapterError
from ._api_models import ErrorAnswer

MAX_BODY_BYTES = 256 * 1024


class ApiError(AdapterError):
    """An error answered with its status and the pinned error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def answer(status: int, body: dict[str, Any]) -> Response[str]:
    """A JSON answer."""
    return Response(
        status_code=status, content_type="application/json", body=json.dumps(body, default=str)
    )


def error_shape(code: str, message: str) -> dict[str, Any]:
    """The pinned error body, ``{"error": {"code", "message"}}``."""
    return {"error": {"code": code, "message": message}}


def error(status: int, code: str, message: str) -> Response[str]:
    """:func:`error_shape` with ``status``."""
    return answer(status, error_shape(code, message))


def decode_body(text: str) -> Any:
    """The request body as JSON (the resolvers' ``json_body_deserializer``).

    Raises:
        ApiError: 413 for a body over :data:`MAX_BODY_BYTES`; 400 ``invalid_json`` for
            JSON that Python cannot hold (an integer over 4,300 digits, nesting deeper
            than the interpreter's recursion limit).
        json.JSONDecodeError: not JSON (answered 400 ``invalid_json``).
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise  # the resolvers answer it with the parser's position
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", f"the body cannot be read: {exc}"[:500]) from None


def check_encoding(event: dict[str, Any]) -> None:
    """Refuse a body that is not text: a base64 body (``isBase64Encoded``) that does not
    decode, or whose bytes are not UTF-8. The resolvers would fail on it later, as a
    server error.

    Raises:
        ApiError: 400 ``invalid_body``.
    """
    body = event.get("body")
    if not isinstance(body, str) or not event.get("isBase64Encoded"):
        return
    try:
        base64.b64decode(body.encode("ascii"), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeEncodeError and UnicodeDecodeError are
        raise ApiError(400, "invalid_body", "the body is not base64-encoded UTF-8 text") from None


_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad input: not JSON, or fields that do not validate",
    404: "Not found",
    409: "Conflict",
    413: "The body is too large",
}


def documented(status: int, model: type[BaseModel], *errors: int) -> dict[int, Any]:
    """The ``responses`` of a route: its answer's model, then the error answers."""
    responses: dict[int, Any] = {
        status: {
            "description": _REASONS[status],
            "content": {"application/json": {"model": model}},
        }
    }
    for code in (400, *errors):
        responses[code] = {
            "description": _REASONS[code],
            "content": {"application/json": {"model": ErrorAnswer}},
        }
    return responses
