"""The workflows the benchmarks run (registered in the default registry on import)."""

from __future__ import annotations

import asyncio

from adapter import step, workflow


@step
async def bump(x: int) -> int:
    """The cheapest possible step: all the cost measured is the runtime's."""
    return x + 1


@workflow
async def chain(n: int) -> int:
    """``n`` sequential steps, each waiting for the one before."""
    x = 0
    for _ in range(n):
        x = await bump(x)
    return x


@workflow
async def parallel(n: int) -> int:
    """``n`` steps at once with ``asyncio.gather``."""
    results = await asyncio.gather(*(bump(i) for i in range(n)))
    return sum(results)
