"""Human approval: a webhook raced against a timeout.

``request_approval`` sends the approver a link (the webhook's URL), then waits for
whichever comes first: a POST to that URL, or the deadline. Either way the run ends
with a recorded decision; nothing polls and nothing runs while it waits.
"""

from __future__ import annotations

import asyncio

from adapter import create_webhook, sleep, step, workflow


@step
async def notify_approver(order_id: str, url: str) -> str:
    # Send the link by email or chat here; steps may do any I/O.
    return f"asked to approve {order_id} at {url}"


@step
async def apply_decision(order_id: str, decision: str, by: str | None) -> str:
    return f"order {order_id} {decision}" + (f" by {by}" if by else "")


@workflow
async def request_approval(order_id: str, timeout: str = "3d") -> dict[str, str]:
    webhook = create_webhook(metadata={"order_id": order_id})
    await notify_approver(order_id, webhook.url)
    answer = webhook.next()
    done, _ = await asyncio.wait([answer, sleep(timeout)], return_when=asyncio.FIRST_COMPLETED)
    if answer in done:
        payload = answer.result() or {}
        decision = "approved" if payload.get("approved") else "rejected"
        summary = await apply_decision(order_id, decision, payload.get("by"))
    else:
        decision = "expired"
        summary = await apply_decision(order_id, decision, None)
    return {"order_id": order_id, "decision": decision, "summary": summary}
