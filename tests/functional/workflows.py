"""Workflows used by the functional tests (registered in the default registry)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

from pydantic import BaseModel

from adapter import get_step_metadata, start, step, workflow

calls: Counter[str] = Counter()
fail_plan: dict[str, int] = {}


def reset() -> None:
    calls.clear()
    fail_plan.clear()


@step
async def double(x: int) -> int:
    calls[f"double:{x}"] += 1
    return 2 * x


@step
def increment(x: int) -> int:  # a plain `def` step
    calls[f"increment:{x}"] += 1
    return x + 1


@workflow
async def chain(x: int) -> int:
    a = await double(x)
    b = await increment(a)
    return await double(b)


@workflow
async def gather_twelve() -> list[int]:
    return list(await asyncio.gather(*(double(i) for i in range(12))))


class Invoice(BaseModel):
    number: str
    amount_cents: int
    lines: list[str]


@dataclass
class Receipt:
    invoice: Invoice
    paid: bool


@step
async def make_invoice(number: str) -> Invoice:
    return Invoice(number=number, amount_cents=1234, lines=["a", "b"])


@step
async def pay(invoice: Invoice) -> Receipt:
    assert isinstance(invoice, Invoice)
    return Receipt(invoice=invoice, paid=True)


@workflow
async def invoicing(number: str) -> dict[str, object]:
    invoice = await make_invoice(number)
    receipt = await pay(invoice)
    assert isinstance(receipt, Receipt) and isinstance(receipt.invoice, Invoice)
    return {"number": receipt.invoice.number, "paid": receipt.paid}


@step
async def unserializable() -> set[int]:
    return {1, 2, 3}


@workflow
async def returns_a_set() -> object:
    return await unserializable()


@workflow
async def child(x: int) -> int:
    return await double(x)


@workflow
async def starts_in_workflow_code() -> str:
    return start(child, args=[1]).run_id


@step
async def spawn_then_fail_once(x: int) -> str:
    run = start(child, args=[x])
    calls["spawn_attempts"] += 1
    if get_step_metadata().attempt == 1:
        raise RuntimeError("transient failure after spawning")
    return run.run_id


@workflow
async def spawner(x: int) -> str:
    return await spawn_then_fail_once(x)


@step
async def flaky(name: str) -> int:
    calls[f"flaky:{name}"] += 1
    attempt = get_step_metadata().attempt
    if attempt <= fail_plan.get(name, 0):
        raise RuntimeError(f"attempt {attempt} of {name} failed")
    return attempt


@workflow
async def flaky_workflow(name: str) -> int:
    return await flaky(name)


@step
async def spawn_with_the_attempt(x: int) -> str:
    """Starts a child with arguments that differ on each attempt (the attempt number),
    then fails once: the retry must find the child its first attempt started."""
    attempt = get_step_metadata().attempt
    run = start(child, args=[x + attempt])
    calls["spawn_attempts"] += 1
    if attempt == 1:
        raise RuntimeError("transient failure after spawning")
    return run.run_id


@workflow
async def spawner_with_changing_arguments(x: int) -> str:
    return await spawn_with_the_attempt(x)
