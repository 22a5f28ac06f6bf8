"""``adapter hooks``: deliver payloads to the hooks runs wait on."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from ..core.errors import HookNotFoundError
from ..runtime import resume_hook
from ._connection import connect, history
from ._options import Command, EndpointOpt, Group, JsonOpt, ProfileOpt, parse_json
from ._render import console, print_json
from ._timeline import build_timeline

app = typer.Typer(cls=Group, help="Resume hooks that runs wait on.", no_args_is_help=True)


@app.command("resume", cls=Command)
def hooks_resume(
    ctx: typer.Context,
    token: Annotated[
        str | None,
        typer.Argument(
            metavar="TOKEN",
            help="The hook's token (or name the hook with --run).",
            show_default=False,
        ),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run",
            metavar="RUN_ID",
            help="Resume the hook this run waits on (instead of giving its token).",
        ),
    ] = None,
    hook: Annotated[
        str | None,
        typer.Option(
            "--hook",
            metavar="CORRELATION_ID",
            help="With --run: which of its hooks (hook_1...), when it waits on several.",
        ),
    ] = None,
    payload: Annotated[
        str, typer.Option("--payload", metavar="JSON", help="The payload to deliver, as JSON.")
    ] = "null",
    as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Deliver a payload to a hook, resuming its run.

    The hook is the one holding TOKEN, or the one run RUN_ID waits on (--run, and --hook
    to choose among several)."""
    if (token is None) == (run_id is None):
        raise typer.BadParameter("give either a TOKEN or --run RUN_ID", param_hint="TOKEN")
    if hook is not None and run_id is None:
        raise typer.BadParameter("names a hook of the run given with --run", param_hint="--hook")
    value = parse_json(payload, "--payload")
    connect(ctx, endpoint_url, profile)
    if token is None:
        assert run_id is not None
        token = _token_of(run_id, hook)
    resumed = resume_hook(token, value)
    if as_json:
        print_json({"runId": resumed})
    else:
        console().print(Text(f"resumed run {resumed}"))


def _token_of(run_id: str, correlation_id: str | None) -> str:
    """The token of the hook ``correlation_id`` of the run, or of its only open hook.

    Raises:
        RunNotFoundError: no such run.
        HookNotFoundError: the run has no such hook, or waits on none.
        typer.BadParameter: the run waits on several hooks and none was chosen.
    """
    _, events = history(run_id)
    hooks = [span for span in build_timeline(events) if span.kind == "hook" and span.token]
    if correlation_id is not None:
        for span in hooks:
            if span.correlation_id == correlation_id and span.token:
                return span.token
        known = ", ".join(span.correlation_id for span in hooks) or "none"
        raise HookNotFoundError(f"run {run_id} has no hook {correlation_id!r} (its hooks: {known})")
    waiting = [span for span in hooks if span.open]
    if not waiting:
        raise HookNotFoundError(f"run {run_id} waits on no hook (see `adapter runs show {run_id}`)")
    if len(waiting) > 1:
        choices = ", ".join(f"{span.correlation_id} ({span.token})" for span in waiting)
        raise typer.BadParameter(
            f"run {run_id} waits on {len(waiting)} hooks, choose one: {choices}",
            param_hint="--hook",
        )
    token = waiting[0].token
    assert token is not None
    return token
