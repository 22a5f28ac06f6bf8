"""The hook routes: ``POST /hooks/{token}`` (IAM-authenticated, any hook) and
``POST /webhooks/{token}`` (public: only hooks made by ``create_webhook()`` with a
generated token, which is the secret)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path

from ..runtime import current_runtime
from ._api_models import HookAccepted
from ._api_support import answer, documented

router = Router()  # type: ignore[no-untyped-call]

Token = Annotated[str, Path(min_length=1, max_length=1024, description="The hook's token.")]
Payload = Annotated[Any, Body(description="Any JSON value: what the awaiting code gets.")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        min_length=1,
        max_length=512,
        description="Deliveries with the same key are recorded once.",
    ),
]


@router.post(
    "/hooks/<token>",
    summary="Resume any hook (IAM-authenticated)",
    responses=documented(202, HookAccepted, 404, 413),
)
def post_hook(
    token: Token, payload: Payload = None, idempotency_key: IdempotencyKey = None
) -> Response[str]:
    run_id = current_runtime().resume_hook(token, payload, delivery_key=_key(idempotency_key))
    return answer(202, {"runId": run_id})


@router.post(
    "/webhooks/<token>",
    summary="Resume a webhook (public)",
    description=(
        "Only hooks made by create_webhook() with a generated token; any other token is "
        "404 hook_not_found and nothing is recorded. A repeated delivery (the same "
        "Idempotency-Key header, or else the same API Gateway request id) is recorded "
        "once and answered with the same runId."
    ),
    responses=documented(202, HookAccepted, 404, 413),
)
def post_webhook(
    token: Token, payload: Payload = None, idempotency_key: IdempotencyKey = None
) -> Response[str]:
    key = _key(idempotency_key)
    if key is None:
        context = router.current_event.raw_event.get("requestContext")
        request_id = context.get("requestId") if isinstance(context, dict) else None
        key = f"request:{request_id}" if isinstance(request_id, str) and request_id else None
    run_id = current_runtime().resume_hook(token, payload, public=True, delivery_key=key)
    return answer(202, {"runId": run_id})


def _key(idempotency_key: str | None) -> str | None:
    # Kinds apart: a caller's key never equals a request id.
    return f"key:{idempotency_key}" if idempotency_key is not None else None
