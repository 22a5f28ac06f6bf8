"""A workflow module for the ``adapter dev --state-dir`` restart test: it sleeps between
two steps, long enough to stop the dev stack in the middle."""

from __future__ import annotations

from adapter import sleep, step, workflow


@step
async def before_nap(name: str) -> str:
    return f"before {name}"


@step
async def after_nap(name: str) -> str:
    return f"after {name}"


@workflow
async def nap(name: str) -> list[str]:
    first = await before_nap(name)
    await sleep("3s")
    return [first, await after_nap(name)]
