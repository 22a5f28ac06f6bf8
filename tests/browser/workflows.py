"""Workflows the browser tests (and the screenshot script) run on a real ``adapter dev``."""

from __future__ import annotations

from adapter import (
    FatalError,
    RetryableError,
    create_hook,
    get_step_metadata,
    sleep,
    start,
    step,
    workflow,
)

# --- a 3-step chain ---------------------------------------------------------------------------


@step
async def fetch_order(order_id: str) -> dict[str, object]:
    return {"order_id": order_id, "items": ["pen", "ink"]}


@step
async def price_order(order: dict[str, object]) -> int:
    return 100 * len(order["items"])  # type: ignore[arg-type]


@step
async def confirm_order(order_id: str, total: int) -> str:
    return f"{order_id} confirmed for {total}"


@workflow
async def three_steps(order_id: str) -> str:
    order = await fetch_order(order_id)
    total = await price_order(order)
    return await confirm_order(order_id, total)


# --- a step that fails twice, then succeeds ----------------------------------------------------


@step
async def flaky_call(key: str) -> str:
    attempt = get_step_metadata().attempt
    if attempt < 3:
        raise RetryableError(f"upstream busy (attempt {attempt})", retry_after="300ms")
    return f"value of {key} on attempt {attempt}"


@workflow
async def retry_then_succeed(key: str) -> str:
    return await flaky_call(key)


# --- a step that starts a child run ------------------------------------------------------------


@step
async def child_work(n: int) -> int:
    return n * 2


@workflow
async def child_job(n: int) -> int:
    return await child_work(n)


@step
async def spawn_child(n: int) -> str:
    return start(child_job, args=[n]).run_id


@step
async def record_spawn(child_run_id: str) -> str:
    return f"spawned {child_run_id}"


@workflow
async def parent_job(n: int) -> str:
    child_run_id = await spawn_child(n)
    return await record_spawn(child_run_id)


# --- a run waiting on a hook ---------------------------------------------------------------------


@workflow
async def wait_for_approval(token: str) -> object:
    return await create_hook(token=token)


# --- all of it at once (the run view screenshot) ------------------------------------------------


@step
async def reserve_stock(order_id: str) -> list[str]:
    return ["pen", "ink", "paper"]


@step
async def charge_card(order_id: str, amount_cents: int) -> str:
    attempt = get_step_metadata().attempt
    if attempt < 3:
        raise RetryableError(f"payment gateway timeout (attempt {attempt})", retry_after="400ms")
    return f"ch_{order_id}_{amount_cents}"


@step
async def start_invoice(order_id: str) -> str:
    return start(child_job, args=[len(order_id)]).run_id


@step
async def send_receipt(order_id: str, charge_id: str) -> str:
    return f"receipt for {order_id} ({charge_id})"


@workflow
async def checkout(order_id: str, amount_cents: int) -> dict[str, object]:
    items = await reserve_stock(order_id)
    charge_id = await charge_card(order_id, amount_cents)
    await sleep("1s")
    invoice_run_id = await start_invoice(order_id)
    receipt = await send_receipt(order_id, charge_id)
    return {"items": items, "charge": charge_id, "invoice_run": invoice_run_id, "receipt": receipt}


# --- a run that fails (the runs view screenshot) -------------------------------------------------


@step
async def charge_declined(amount_cents: int) -> str:
    raise FatalError(f"card declined for {amount_cents}")


@workflow
async def declined_payment(amount_cents: int) -> str:
    return await charge_declined(amount_cents)


# --- small runs (paging, live updates) and a long sleep (the wake button) ----------------------


@workflow
async def quick(n: int) -> int:
    return n


@step
async def after_the_nap(tag: str) -> str:
    return f"{tag} woke up"


@workflow
async def long_nap(tag: str) -> str:
    await sleep("1h")
    return await after_the_nap(tag)
