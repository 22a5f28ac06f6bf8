"""Fan-out to child runs, then collect their results, failures included.

``process_batch`` spawns one ``process_item`` run per item from a step, then a second
step waits for each child with ``get_run(...).return_value``. A child that failed is
reported in the result instead of failing the batch.

``process_large_batch`` is the pattern for thousands of children: spawn them in chunks
(one step per chunk, so a retried chunk re-spawns nothing: ``start()`` in a step is
idempotent), then poll each chunk from a step that raises ``RetryableError`` while
children are still running. No invocation blocks while the children work.
"""

from __future__ import annotations

import asyncio

from adapter import (
    FatalError,
    RetryableError,
    WorkflowRunFailedError,
    get_run,
    start,
    step,
    workflow,
)


@step
async def transform(item: int) -> int:
    if item % 7 == 3:
        raise FatalError(f"item {item} is malformed")
    return item * item


@workflow
async def process_item(item: int) -> int:
    return await transform(item)


@step
async def spawn_children(items: list[int]) -> list[str]:
    return [start(process_item, args=[item]).run_id for item in items]


@step
async def collect_results(run_ids: list[str]) -> dict[str, object]:
    succeeded: dict[str, int] = {}
    failed: dict[str, str] = {}
    for run_id in run_ids:
        try:
            succeeded[run_id] = get_run(run_id).return_value
        except WorkflowRunFailedError as exc:
            failed[run_id] = exc.message
    return {"succeeded": len(succeeded), "failed": failed, "total": sum(succeeded.values())}


@workflow
async def process_batch(items: list[int]) -> dict[str, object]:
    run_ids = await spawn_children(items)
    return await collect_results(run_ids)


@step
async def spawn_chunk(items: list[int]) -> list[str]:
    return [start(process_item, args=[item]).run_id for item in items]


@step(max_retries=10_000)
async def poll_chunk(run_ids: list[str]) -> dict[str, object]:
    runs = [get_run(run_id) for run_id in run_ids]
    waiting = sum(1 for run in runs if run.status in ("pending", "running"))
    if waiting:
        raise RetryableError(f"{waiting} children still running", retry_after="10s")
    succeeded: list[int] = []
    failed: dict[str, str] = {}
    for run in runs:
        try:
            succeeded.append(run.return_value)
        except WorkflowRunFailedError as exc:
            failed[run.run_id] = exc.message
    return {"succeeded": len(succeeded), "failed": failed, "total": sum(succeeded)}


@workflow
async def process_large_batch(count: int, chunk_size: int = 100) -> dict[str, object]:
    items = list(range(count))
    chunks = [items[i : i + chunk_size] for i in range(0, count, chunk_size)]
    spawned = await asyncio.gather(*(spawn_chunk(chunk) for chunk in chunks))
    reports = await asyncio.gather(*(poll_chunk(run_ids) for run_ids in spawned))
    failed: dict[str, str] = {}
    for report in reports:
        failed.update(report["failed"])  # type: ignore[arg-type]
    return {
        "children": count,
        "succeeded": sum(int(r["succeeded"]) for r in reports),  # type: ignore[call-overload]
        "failed": len(failed),
        "total": sum(int(r["total"]) for r in reports),  # type: ignore[call-overload]
        "first_failures": sorted(failed.values())[:3],
    }
