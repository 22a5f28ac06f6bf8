"""A workflow module for the ``kill -9`` crash test of ``adapter dev``: 30 steps, 5 of
them in an inline child workflow, and a sleep. Every step execution appends one line
(``O_APPEND``, one ``write``) to the file named by ``CRASH_STEP_LOG``."""

from __future__ import annotations

import os
import time

from adapter import get_step_metadata, get_workflow_metadata, sleep, step, workflow

LOG_VARIABLE = "CRASH_STEP_LOG"
STEPS = 30
EXPECTED = sum(i * i for i in range(STEPS))


@step
async def square(run_id: str, i: int) -> int:
    meta = get_step_metadata()
    line = f"{time.time():.6f} {run_id} {meta.step_id} {meta.attempt}\n"
    fd = os.open(os.environ[LOG_VARIABLE], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    time.sleep(0.02)  # a little work, so that kills land inside steps too
    return i * i


@workflow
async def inline_part(run_id: str, first: int) -> int:
    total = 0
    for i in range(first, first + 5):
        total += await square(run_id, i)
    return total


@workflow
async def crash_run(label: str) -> int:
    run_id = get_workflow_metadata().run_id
    total = 0
    for i in range(12):
        total += await square(run_id, i)
    total += await inline_part(run_id, 12)
    await sleep("10s")  # the stack runs with --sleep-scale 0.1: about a second
    for i in range(17, STEPS):
        total += await square(run_id, i)
    return total
