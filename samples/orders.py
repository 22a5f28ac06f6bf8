"""Background composition: a step spawns an independent run.

``fulfill_order`` charges and ships an order; one of its steps ``start()``s
``generate_report`` as a separate run (its own run id, event log and retries) and
returns the new run id at once. The order run does not wait for the report; whoever
wants the report reads it later with ``get_run(report_run_id).return_value``.
"""

from __future__ import annotations

from adapter import start, step, workflow


@step
async def reserve_inventory(order_id: str, items: list[str]) -> dict[str, object]:
    return {"order_id": order_id, "reserved": sorted(items)}


@step
async def charge_payment(order_id: str, amount_cents: int) -> str:
    return f"charge_{order_id}_{amount_cents}"


@step
async def start_report(order_id: str) -> str:
    # start() inside a step: recorded once, so a retried step never spawns twice.
    return start(generate_report, args=[order_id]).run_id


@step
async def send_confirmation(order_id: str, charge_id: str) -> str:
    return f"confirmation sent for {order_id} ({charge_id})"


@step
async def collect_metrics(order_id: str) -> dict[str, int]:
    return {"items": 3, "revenue_cents": 4200}


@step
async def render_report(order_id: str, metrics: dict[str, int]) -> str:
    return f"report {order_id}: {metrics['items']} items, {metrics['revenue_cents'] / 100:.2f} USD"


@workflow
async def generate_report(order_id: str) -> str:
    metrics = await collect_metrics(order_id)
    return await render_report(order_id, metrics)


@workflow
async def fulfill_order(order_id: str, items: list[str], amount_cents: int) -> dict[str, object]:
    reservation = await reserve_inventory(order_id, items)
    charge_id = await charge_payment(order_id, amount_cents)
    report_run_id = await start_report(order_id)
    confirmation = await send_confirmation(order_id, charge_id)
    return {
        "order_id": order_id,
        "reserved": reservation["reserved"],
        "charge_id": charge_id,
        "confirmation": confirmation,
        "report_run_id": report_run_id,
    }
