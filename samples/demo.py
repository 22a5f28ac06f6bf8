"""``make demo``: run every sample end to end on the embedded moto stack.

Each run goes through real DynamoDB and SQS calls (moto, in-process): the runs are
started with ``start()``, the SQS messages are received and handed to the Lambda
handler, and the results are read back with ``get_run``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from adapter import Run, get_run, list_runs, resume_hook, start
from adapter.testing import LocalRuntime
from samples import payments
from samples.approval import request_approval
from samples.fanout import process_batch, process_large_batch
from samples.onboarding import onboard_user
from samples.orders import fulfill_order

LARGE_FAN_OUT = 200  # `python -m benchmarks` runs 1,000


def show(rt: LocalRuntime, title: str, run: Run) -> Any:
    result = run.return_value
    types = [event.type for event in rt.events(run.run_id)]
    print(f"\n== {title}")
    print(f"   run id : {run.run_id}")
    print(f"   status : {run.status}")
    print(f"   result : {json.dumps(result, default=str)}")
    print(f"   events : {' '.join(types)}")
    return result


def main() -> None:
    # Expected failures (the fan-out's malformed items) are shown in the results.
    logging.basicConfig(level=logging.ERROR)
    began = time.perf_counter()
    with LocalRuntime() as rt:
        show(
            rt,
            "onboarding (child workflow awaited inline)",
            start(onboard_user, args=["ada@example.com"]),
        )

        order = show(
            rt,
            "orders (report spawned in the background)",
            start(fulfill_order, args=["order-42", ["book", "pen"], 1999]),
        )
        show(rt, "report (its own run, read with get_run)", get_run(order["report_run_id"]))

        show(
            rt,
            "fan-out (30 child runs, failures reported)",
            start(process_batch, args=[list(range(30))]),
        )

        payments.GATEWAY_CALLS.clear()
        show(
            rt,
            "payment (a flaky gateway, retried safely)",
            start(payments.pay, args=["ada@example.com", 1999]),
        )

        approval = start(request_approval, args=["order-42"])
        rt.drain(skip_time=False)  # until it waits for the approver
        token = next(e.data.token for e in rt.events(approval.run_id) if e.type == "hook_created")
        resume_hook(token, {"approved": True, "by": "grace"})  # what POST /hooks/{token} does
        show(rt, "approval (webhook answered before the deadline)", approval)
        show(
            rt,
            "approval (nobody answered: the 3-day deadline won)",
            start(request_approval, args=["order-43"]),
        )

        fan_out_began = time.perf_counter()
        large = start(process_large_batch, args=[LARGE_FAN_OUT, 100])
        show(rt, f"large fan-out ({LARGE_FAN_OUT} child runs in chunks, polled)", large)
        print(f"   wall   : {time.perf_counter() - fan_out_began:.1f}s")

        runs = list_runs(limit=5000)
        print(f"\n{len(runs)} runs in {time.perf_counter() - began:.2f}s")


if __name__ == "__main__":
    main()
