"""A payment step that retries through a flaky gateway, safely.

The gateway answers 503 twice, then accepts. The step is retried with backoff
(``RetryableError`` sets the delay); ``get_step_metadata().step_id`` is the idempotency
key sent to the gateway, the same on every attempt, so a retry never charges twice.
"""

from __future__ import annotations

from adapter import FatalError, RetryableError, get_step_metadata, step, workflow

# A stand-in for the payment provider: charges by idempotency key, flaky at first.
GATEWAY_CHARGES: dict[str, int] = {}
GATEWAY_CALLS: list[str] = []


def gateway_charge(idempotency_key: str, cents: int) -> str:
    GATEWAY_CALLS.append(idempotency_key)
    if GATEWAY_CALLS.count(idempotency_key) <= 2:
        raise ConnectionError("503 Service Unavailable")
    GATEWAY_CHARGES.setdefault(idempotency_key, cents)
    return f"ch_{abs(hash(idempotency_key)) % 10**8:08d}"


@step(max_retries=5)
async def charge(customer: str, cents: int) -> dict[str, object]:
    if cents <= 0:
        raise FatalError(f"invalid amount {cents}")  # retrying cannot fix this
    meta = get_step_metadata()
    try:
        charge_id = gateway_charge(meta.step_id, cents)
    except ConnectionError as exc:
        raise RetryableError(f"gateway unavailable: {exc}", retry_after="5s") from exc
    return {"charge_id": charge_id, "attempts": meta.attempt}


@step
async def send_receipt(customer: str, charge_id: str) -> str:
    return f"receipt for {charge_id} sent to {customer}"


@workflow
async def pay(customer: str, cents: int) -> dict[str, object]:
    result = await charge(customer, cents)
    receipt = await send_receipt(customer, str(result["charge_id"]))
    return {**result, "receipt": receipt}
