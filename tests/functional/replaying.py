"""One order workflow and the ways its code may change, for ``adapter.testing.replay``.

Each version is its own registry (one deployment's code) with the same workflow name,
so a log recorded with ``v1`` can be replayed through each of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from adapter import Registry, create_hook


@dataclass
class Receipt:
    amount: int
    at: datetime


v1 = Registry()


@v1.step(name="orders.reserve")
async def reserve(item: str) -> str:
    return f"reserved {item}"


@v1.step(name="orders.charge")
async def charge(amount: int) -> Receipt:
    return Receipt(amount, datetime(2024, 5, 1, tzinfo=UTC))


@v1.step(name="orders.ship")
async def ship(item: str) -> str:
    return f"shipped {item}"


@v1.workflow(name="orders.flow")
async def flow(item: str, amount: int) -> dict[str, object]:
    reserved = await reserve(item)
    receipt = await charge(amount)
    await create_hook(token=f"approve:{item}")
    shipped = await ship(item)
    return {"steps": [reserved, shipped], "paid": receipt.amount}


# --- changed code: each of these would not replay a v1 run -------------------------------

renamed = Registry()
bill = renamed.step(name="orders.bill")(charge.__wrapped__)  # type: ignore[attr-defined]


@renamed.workflow(name="orders.flow")
async def flow_renamed(item: str, amount: int) -> dict[str, object]:
    reserved = await reserve(item)
    receipt = await bill(amount)  # was orders.charge
    await create_hook(token=f"approve:{item}")
    shipped = await ship(item)
    return {"steps": [reserved, shipped], "paid": receipt.amount}


swapped = Registry()


@swapped.workflow(name="orders.flow")
async def flow_swapped(item: str, amount: int) -> dict[str, object]:
    receipt = await charge(amount)  # now before reserve
    reserved = await reserve(item)
    await create_hook(token=f"approve:{item}")
    shipped = await ship(item)
    return {"steps": [reserved, shipped], "paid": receipt.amount}


audited = Registry()
audit = audited.step(name="orders.audit")(reserve.__wrapped__)  # type: ignore[attr-defined]


@audited.workflow(name="orders.flow")
async def flow_audited(item: str, amount: int) -> dict[str, object]:
    await audit(item)  # a new step before one the log awaited
    reserved = await reserve(item)
    receipt = await charge(amount)
    await create_hook(token=f"approve:{item}")
    shipped = await ship(item)
    return {"steps": [reserved, shipped], "paid": receipt.amount}


shortened = Registry()


@shortened.workflow(name="orders.flow")
async def flow_shortened(item: str, amount: int) -> dict[str, object]:
    reserved = await reserve(item)
    receipt = await charge(amount)
    await create_hook(token=f"approve:{item}")
    return {"steps": [reserved], "paid": receipt.amount}  # no longer ships


# --- compatible for runs in flight, not for runs that ended -------------------------------

extended = Registry()
notify = extended.step(name="orders.notify")(ship.__wrapped__)  # type: ignore[attr-defined]


@extended.workflow(name="orders.flow")
async def flow_extended(item: str, amount: int) -> dict[str, object]:
    reserved = await reserve(item)
    receipt = await charge(amount)
    await create_hook(token=f"approve:{item}")
    shipped = await ship(item)
    await notify(item)  # a new step after everything a live run has done
    return {"steps": [reserved, shipped], "paid": receipt.amount}


# --- the same code, another deployment: replays every v1 run ------------------------------

same = Registry()


@same.workflow(name="orders.flow")
async def flow_same(item: str, amount: int) -> dict[str, object]:
    return await flow.__wrapped__(item, amount)  # type: ignore[attr-defined, no-any-return]
