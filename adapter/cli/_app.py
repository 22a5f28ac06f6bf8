"""The ``adapter`` command: its groups, its global options, and where errors are reported."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import typer

from ..world import ENV_DEBUG
from . import dev, hooks, runs, start, ui
from ._connection import Connection
from ._errors import EXIT_CODES_HELP, EXIT_OK, describe, report
from ._options import Command, EndpointOpt, Group, ProfileOpt, RegionOpt


class AdapterGroup(Group):
    """The root group: every failure of every command ends here, printed as one line
    (or, when the command line has ``--json``, one JSON object) on stderr, with the exit
    status of :mod:`adapter.cli._errors`. ``ADAPTER_DEBUG=1`` shows the traceback of an
    unexpected one instead, for whoever debugs the CLI itself."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        options = argv[: argv.index("--")] if "--" in argv else argv
        try:
            result = super().main(
                args=argv,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except Exception as exc:
            if not standalone_mode:
                raise
            if os.environ.get(ENV_DEBUG) and not isinstance(exc, typer.TyperException):
                raise
            problem = describe(exc)
            report(problem, as_json="--json" in options)
            sys.exit(problem.exit_code)
        if not standalone_mode:
            return result
        # Without standalone mode, typer hands back a typer.Exit's code instead of exiting.
        sys.exit(result if isinstance(result, int) else EXIT_OK)


def _package_version() -> str:
    try:
        return version("adapter")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"adapter {_package_version()}")
        raise typer.Exit()


app = typer.Typer(
    name="adapter",
    cls=AdapterGroup,
    help="Durable workflows for AWS Lambda: a local dev stack, and your runs at a glance.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def _root(
    ctx: typer.Context,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print adapter's version and exit.",
            callback=_show_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Durable workflows for AWS Lambda: a local dev stack, and your runs at a glance."""
    ctx.obj = Connection(endpoint_url, profile, region)


app.command("start", cls=Command, epilog=EXIT_CODES_HELP)(start.start)
app.add_typer(runs.app, name="runs", epilog=EXIT_CODES_HELP)
app.add_typer(hooks.app, name="hooks")
app.command("dev", cls=Command)(dev.dev)
app.command("ui", cls=Command)(ui.ui)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="adapter")
