"""Workflows the CLI tests run on a LocalRuntime."""

from __future__ import annotations

import contextlib

from adapter import FatalError, create_hook, get_step_metadata, sleep, start, step, workflow


@step
async def flaky_fetch(key: str) -> str:
    """Fails on its first two attempts, then succeeds."""
    attempt = get_step_metadata().attempt
    if attempt < 3:
        raise ConnectionError(f"flaky attempt {attempt}")
    return f"value of {key}"


@workflow
async def fetch_with_retries(key: str) -> str:
    return await flaky_fetch(key)


@step
async def charge(amount: int) -> str:
    raise FatalError(f"card declined for {amount}")


@workflow
async def declined_payment(amount: int) -> str:
    return await charge(amount)


@workflow
async def waits_for_approval(token: str) -> object:
    return await create_hook(token=token)


@step
async def note(text: str) -> str:
    return text


@workflow
async def naps_between_notes() -> list[str]:
    first = await note("before")
    await sleep("5m")
    return [first, await note("after")]


@workflow
async def child(n: int) -> int:
    return n * 2


@step
async def spawn_two() -> list[str]:
    return [start(child, args=[1]).run_id, start(child, args=[2]).run_id]


@workflow
async def parent() -> list[str]:
    return await spawn_two()


@workflow
async def waits_for_two(first: str, second: str) -> list[object]:
    """Waits on two hooks at once."""
    a, b = create_hook(token=first), create_hook(token=second)
    return [await a, await b]


LONG_STEP_NAME = (
    "tests.cli.workflows." + "a_step_whose_name_is_far_too_long_for_a_timeline_column" * 2
)


@step(name=LONG_STEP_NAME)
async def long_named() -> None:
    raise FatalError("a very long reason " * 20)


@workflow
async def long_names(token: str) -> object:
    """A failed step with a long name and a long error, then a hook with a long token."""
    with contextlib.suppress(FatalError):
        await long_named()
    return await create_hook(token=token)
