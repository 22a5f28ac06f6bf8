"""Workflows for the durable-primitive tests (retries, sleep, hooks, races, cancel)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime

from adapter import (
    FatalError,
    Registry,
    RetryableError,
    create_hook,
    create_webhook,
    get_run,
    get_step_metadata,
    get_workflow_metadata,
    now,
    random,
    sleep,
    step,
    workflow,
)

calls: Counter[str] = Counter()
attempt_times: dict[str, list[datetime]] = {}


def reset() -> None:
    calls.clear()
    attempt_times.clear()


@step
async def fails_twice() -> int:
    calls["fails_twice"] += 1
    meta = get_step_metadata()
    if meta.attempt < 3:
        raise ConnectionError(f"flaky attempt {meta.attempt}")
    return meta.attempt


@step(max_retries=3)
async def always_fails() -> None:
    calls["always_fails"] += 1
    raise ValueError("this never works")


@step
async def fatal() -> None:
    calls["fatal"] += 1
    raise FatalError("card declined")


@step
async def retry_in_an_hour() -> str:
    meta = get_step_metadata()
    attempt_times.setdefault("retry_in_an_hour", []).append(meta.started_at)
    if meta.attempt == 1:
        raise RetryableError("rate limited", retry_after="1h")
    return "ok"


@workflow
async def retries_then_succeeds() -> int:
    return await fails_twice()


@workflow
async def retries_exhausted() -> None:
    await always_fails()


@workflow
async def catches_fatal() -> str:
    try:
        await fatal()
    except FatalError as exc:
        return f"caught {exc.message} from {exc.step_name} attempt {exc.attempt}"
    return "not reached"


@workflow
async def custom_retry_after() -> str:
    return await retry_in_an_hour()


@step
async def record(label: str) -> str:
    calls[label] += 1
    return label


@workflow
async def sleeps_a_day() -> list[str]:
    first = await record("before")
    await sleep("1d")
    second = await record("after")
    return [first, second]


@workflow
async def collects_three(token: str) -> list[object]:
    hook = create_hook(token=token)
    received = []
    async for payload in hook:
        received.append(payload)
        if len(received) == 3:
            break
    return received


@workflow
async def waits_for_webhook() -> object:
    hook = create_webhook()
    await record(hook.url)
    return await hook


@workflow
async def waits_for_named_webhook(token: str) -> object:
    hook = create_webhook(token=token)  # a chosen token: never public
    await record(hook.url)
    return await hook


@workflow
async def waits_on_hook_then_steps(token: str) -> str:
    await create_hook(token=token)
    return await record("after the hook")


@step
async def slow_step(label: str) -> str:
    return label


@workflow
async def race_sleep_vs_step(sleep_first: bool) -> str:
    a = sleep("10m") if sleep_first else slow_step("step")
    b = slow_step("step") if sleep_first else sleep("10m")
    done, _ = await asyncio.wait([a, b], return_when=asyncio.FIRST_COMPLETED)
    winner = done.pop()
    return "step" if winner.result() == "step" else "sleep"


@workflow
async def approval_with_timeout(token: str) -> str:
    hook = create_hook(token=token)
    try:
        decision = await asyncio.wait_for(hook.next(), timeout=3600)
    except TimeoutError:
        return "timed out"
    return f"decided: {decision}"


@step
async def echo(value: object) -> object:
    return value


@workflow
async def stable_values() -> dict[str, object]:
    first_random, first_now = random(), now()
    recorded = await echo({"random": first_random, "now": first_now})
    await sleep("5m")
    return {
        "same": recorded == {"random": first_random, "now": first_now},
        "later": now() > first_now,
    }


@step
async def big_result(size: int) -> str:
    return "x" * size


@workflow
async def big_payloads(size: int) -> int:
    value = await big_result(size)
    return len(await echo(value))


@step
async def cancel_own_run() -> str:
    run_id = get_step_metadata().step_id.split(":")[0]
    get_run(run_id).cancel()
    calls["cancel_own_run"] += 1
    return "finished anyway"


@workflow
async def cancels_itself_mid_step() -> str:
    await cancel_own_run()
    return await record("must not run")


@workflow
async def metadata_workflow() -> dict[str, str]:
    meta = get_workflow_metadata()
    return {"run_id": meta.run_id, "name": meta.workflow_name, "deployment": meta.deployment_id}


# Two versions of the same workflow, for the non-determinism test.
v1 = Registry()
v2 = Registry()


@v1.step(name="steps.charge")
async def charge_v1() -> str:
    return "charged"


@v2.step(name="steps.refund")
async def refund_v2() -> str:
    return "refunded"


@v1.workflow(name="payments.flow")
async def payments_v1(token: str) -> str:
    result = await charge_v1()
    await create_hook(token=token)
    return result


@v2.workflow(name="payments.flow")
async def payments_v2(token: str) -> str:
    result = await refund_v2()
    await create_hook(token=token)
    return result


@workflow
async def echo_workflow(value: str) -> int:
    return len(await echo(value))
