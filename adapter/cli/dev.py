"""``adapter dev``: a thin pass-through to the dev stack (:mod:`adapter.dev`).

Options map one to one onto :class:`~adapter.dev.DevStack`; everything else
(loading modules, the moto server, the worker, the HTTP API) lives there.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from .. import dev as devstack
from ._errors import EXIT_USAGE, CliError, describe
from ._render import console


def dev(
    modules: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="MODULE",
            help="Workflow modules to load; default: \\[tool.adapter] modules in "
            "pyproject.toml, else the samples.",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", help="HTTP API port (0: any free port).")
    ] = devstack.DEFAULT_PORT,
    moto_port: Annotated[
        int,
        typer.Option("--moto-port", metavar="PORT", help="moto server port (0: any free port)."),
    ] = devstack.DEFAULT_MOTO_PORT,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            metavar="DIR",
            help="Keep runs, queued messages and payloads there across restarts.",
            file_okay=False,
        ),
    ] = None,
    dev_file: Annotated[
        Path | None,
        typer.Option(
            "--dev-file",
            metavar="FILE",
            help=f"Where to write the connection file; default ./{devstack.DEV_FILE_NAME}.",
            dir_okay=False,
        ),
    ] = None,
    function_timeout: Annotated[
        float,
        typer.Option(
            "--function-timeout",
            metavar="SECONDS",
            help="How long a step attempt owns its step, as Lambda's timeout would: a step "
            "whose process died runs again after that.",
            min=0.1,
        ),
    ] = devstack.DEV_FUNCTION_TIMEOUT,
    fast_sleeps: Annotated[
        bool,
        typer.Option(
            "--fast-sleeps",
            help=f"Wake sleeps {1 / devstack.FAST_SLEEP_SCALE:.0f} times sooner "
            "(recorded as a wake; --sleep-scale sets the factor).",
        ),
    ] = False,
    sleep_scale: Annotated[
        float | None,
        typer.Option(
            "--sleep-scale",
            metavar="FACTOR",
            help="Wake each sleep after FACTOR times its length (0 < FACTOR <= 1).",
            min=0.0001,
            max=1.0,
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Log each invocation and the runtime's activity; print the traceback "
            "of every failed step attempt.",
        ),
    ] = False,
) -> None:
    """Run the whole stack here: moto, a worker for both queues and the HTTP API.

    No Docker, no AWS account. Ctrl-C (or SIGTERM) stops everything.
    """
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("adapter").setLevel(logging.INFO if verbose else logging.WARNING)
    out = console()

    def say(line: str) -> None:
        out.print(Text(line), soft_wrap=True)

    scale = sleep_scale if sleep_scale is not None else 1.0
    if fast_sleeps and sleep_scale is None:
        scale = devstack.FAST_SLEEP_SCALE
    try:
        stack = devstack.DevStack(
            modules,
            port=port,
            moto_port=moto_port,
            state_dir=state_dir,
            dev_file=dev_file,
            out=say,
            function_timeout=function_timeout,
            sleep_scale=scale,
            verbose=verbose,
        )
        code = stack.run()
    except devstack.ModuleLoadError as exc:
        if exc.details:
            sys.stderr.write(exc.details)
        raise CliError(str(exc), code="module_error", exit_code=EXIT_USAGE) from exc
    except devstack.DevStackError as exc:
        raise CliError(str(exc), code="dev_stack_error") from exc
    except Exception as exc:
        raise CliError(
            f"the dev stack failed: {describe(exc).message}", code="dev_stack_error"
        ) from exc
    raise typer.Exit(code)
