"""``adapter runs wake``, ``runs retry`` and ``runs redrive``: moving runs on by hand.

``wake`` ends a run's pending sleep now (for development: a run that sleeps a day need not
hold up a test of what comes after); ``retry`` and ``redrive`` bring back the runs that
cannot advance on their own (``adapter runs ls --status stuck`` lists them, with why).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from ..runtime import current_runtime
from ._connection import connect
from ._errors import CliError
from ._options import EndpointOpt, JsonOpt, ProfileOpt, RunIdArg
from ._render import console, print_json


def runs_wake(
    ctx: typer.Context,
    run_id: RunIdArg,
    sleep: Annotated[
        str | None,
        typer.Option(
            "--sleep",
            metavar="CORRELATION_ID",
            help="Only this sleep (wait_1...), when the run has several pending.",
        ),
    ] = None,
    as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """End a run's pending sleeps now, as if their time had come.

    The wake is recorded in the run's log like any other. Exit status 1 when the run
    sleeps on nothing."""
    connect(ctx, endpoint_url, profile)
    runtime = current_runtime()
    record = runtime.get_record(run_id)  # RunNotFoundError first, before anything else
    woken = runtime.wake(run_id, sleep)
    if not woken:
        what = f"no pending sleep {sleep!r}" if sleep else "no pending sleep"
        state = f"it {record.status}" if record.ended else f"it is {record.status} with {what}"
        raise CliError(
            f"run {run_id} has nothing to wake: {state} (see `adapter runs show {run_id}`)",
            code="nothing_to_wake",
        )
    if as_json:
        print_json({"runId": run_id, "woken": woken})
    else:
        console().print(Text(f"woke {', '.join(woken)} of run {run_id}"))


def runs_retry(
    ctx: typer.Context,
    run_id: RunIdArg,
    as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Bring back a stuck run, or one the runtime (not its code) failed.

    A stuck run's open work is sent again. A run the runtime failed (its messages kept
    failing, its history or deployment was gone) is reopened and replays from its log. A
    run that completed, was cancelled or failed in its own code is refused."""
    connect(ctx, endpoint_url, profile)
    done = current_runtime().retry(run_id)
    if as_json:
        print_json({"runId": run_id, "retried": done})
    elif done == "reopened":
        console().print(Text(f"reopened run {run_id}: it replays from its log"))
    else:
        console().print(Text(f"resumed run {run_id}: its open work was sent again"))


def runs_redrive(
    ctx: typer.Context,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            metavar="N",
            min=1,
            help="Move at most this many messages from each dead-letter queue.",
        ),
    ] = None,
    as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Move dead-lettered messages back to their queues.

    Do it once the cause (an outage, a bug) is gone: both dead-letter queues are emptied
    into the workflow and step queues, and their runs' stuck marks are cleared."""
    connect(ctx, endpoint_url, profile)
    moved = current_runtime().redrive(limit=limit)
    if as_json:
        print_json({"moved": moved})
        return
    workflow, step = moved.get("workflow", 0), moved.get("step", 0)
    if not workflow and not step:
        console().print(Text("the dead-letter queues are empty: nothing to redrive"))
        return
    console().print(
        Text(f"moved {workflow} workflow and {step} step message(s) back to their queues")
    )
