"""Fan-out to child runs, then collect their results, failures included.

``process_batch`` spawns one ``process_item`` run per item from a step, then a second
step polls each child with ``get_run(...).return_value``. A child that failed is
reported in the result instead of failing the batch.
"""

from __future__ import annotations

from adapter import FatalError, WorkflowRunFailedError, get_run, start, step, workflow


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
