"""``adapter start``: start a run, and with ``--wait`` follow it to its end."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from ..core import default_registry, serde
from ..core.errors import WorkflowNotRegisteredError
from ..runtime import run_json
from ..runtime import start as start_run
from ..world import RunRecord
from ._connection import connect, runtime_now
from ._errors import EXIT_FAILURE, CliError
from ._follow import wait_for_end
from ._options import (
    EndpointOpt,
    JsonOpt,
    ProfileOpt,
    TimeoutOpt,
    WaitOpt,
    parse_json,
)
from ._render import console, format_duration, print_json, run_duration, status_text


def start(
    ctx: typer.Context,
    workflow: Annotated[
        str,
        typer.Argument(
            metavar="WORKFLOW", help="Registered name, e.g. samples.orders.fulfill_order."
        ),
    ],
    args: Annotated[
        str, typer.Option("--args", metavar="JSON", help="Positional arguments, a JSON array.")
    ] = "[]",
    kwargs: Annotated[
        str | None,
        typer.Option("--kwargs", metavar="JSON", help="Keyword arguments, a JSON object."),
    ] = None,
    deployment_id: Annotated[
        str | None,
        typer.Option("--deployment-id", metavar="ID", help="A version, an alias or 'latest'."),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            metavar="KEY",
            help="Starting twice with one key gives the first run.",
        ),
    ] = None,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = None,
    as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Start a run of WORKFLOW. With --wait, exit status 1 when the run fails or is cancelled."""
    positional = parse_json(args, "--args")
    if not isinstance(positional, list):
        raise typer.BadParameter("must be a JSON array", param_hint="--args")
    named = parse_json(kwargs, "--kwargs") if kwargs is not None else None
    if named is not None and not isinstance(named, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--kwargs")
    connect(ctx, endpoint_url, profile)
    _ensure_registered(workflow)
    try:
        run = start_run(
            workflow,
            args=positional,
            kwargs=named,
            deployment_id=deployment_id,
            idempotency_key=idempotency_key,
        )
    except WorkflowNotRegisteredError as exc:
        raise CliError(
            f"{exc} (the CLI checks the name against the modules it can import: run it "
            "from your project's root)",
            code="workflow_not_found",
        ) from None
    if not wait:
        if as_json:
            print_json({"runId": run.run_id, "status": run.status})
        else:
            console().print(
                Text(f"started run {run.run_id} of {run.workflow_name} ({run.status})\n")
                + Text(f"follow it: adapter runs show {run.run_id}", style="dim")
            )
        return
    record = wait_for_end(run, timeout, quiet=as_json)
    if as_json:
        print_json(run_json(record))
    else:
        _print_outcome(record)
    if record.status != "completed":
        raise typer.Exit(EXIT_FAILURE)


def _ensure_registered(name: str) -> None:
    """Import the workflow's module so ``start`` can check the name (and so a typo fails
    here, not later in the worker). The module is the name minus its last parts."""
    if name in default_registry.workflow_names():
        return
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)  # a console script does not have the project on its path
    parts = name.split(".")
    for end in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:end])
        try:
            importlib.import_module(module)
            return
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue  # not a module: try a shorter prefix
            raise CliError(
                f"importing {module!r} for workflow {name!r} failed: {exc}", code="import_failed"
            ) from exc
        except Exception as exc:
            raise CliError(
                f"importing {module!r} for workflow {name!r} failed: {type(exc).__name__}: {exc}",
                code="import_failed",
            ) from exc


def _print_outcome(record: RunRecord) -> None:
    out = console()
    took = format_duration(run_duration(record, runtime_now()))
    out.print(Text(f"run {record.run_id} ") + status_text(record.status) + Text(f" in {took}"))
    if record.status == "completed":
        typer.echo(json.dumps(serde.to_plain(record.output), indent=2, default=str))
    elif record.error is not None:
        out.print(Text(f"{record.error.type}: {record.error.message}", style="red"))
