"""How the CLI reports a failure: one line (or one JSON object) on stderr, and an exit code.

Every command lets its exceptions propagate; :class:`adapter.cli._app.AdapterGroup` turns
each into a :class:`Problem` with :func:`describe` and prints it with :func:`report`, so
the wording and the exit codes live here only.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import typer
from rich.console import Console
from rich.text import Text

from ..core.errors import (
    AdapterError,
    ConfigurationError,
    RunNotFoundError,
    RunTimeoutError,
    WorkflowRunCancelledError,
    WorkflowRunFailedError,
)
from ..runtime import API_ERRORS

EXIT_OK = 0
"""The command did what was asked."""
EXIT_FAILURE = 1
"""The command could not do it (no such run, unreachable stack, AWS error...), or the run it
reports on failed or was cancelled (``start --wait``, ``runs result``)."""
EXIT_USAGE = 2
"""The command line is wrong: an unknown option, a missing argument, a bad value."""
EXIT_INTERRUPTED = 130
"""Interrupted with Ctrl-C (typer turns the ``KeyboardInterrupt`` into this status)."""

EXIT_CODES_HELP = (
    "Exit status: 0 success; 1 failure (no such run, the stack unreachable, the run "
    "failed or was cancelled for start --wait and runs result); 2 usage error; "
    "130 interrupted."
)


class CliError(AdapterError):
    """Raised by a command that cannot do what was asked, worded for the terminal.

    Attributes:
        code: The ``error.code`` shown with ``--json`` (snake_case, as the HTTP API's).
        exit_code: The exit status (:data:`EXIT_USAGE` for a bad argument).
    """

    def __init__(self, message: str, *, code: str = "error", exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code
        self.exit_code = exit_code


@dataclass(frozen=True)
class Problem:
    """A failure as the CLI shows it."""

    code: str
    message: str
    exit_code: int = EXIT_FAILURE

    def to_json(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


# The HTTP API's codes for the same errors (README, "HTTP API"), then the CLI's own;
# a CliError carries its code.
_CODES: tuple[tuple[type[BaseException], str], ...] = (
    *((kind, code) for kind, _, code in API_ERRORS),
    (WorkflowRunFailedError, "run_failed"),
    (WorkflowRunCancelledError, "run_cancelled"),
    (RunTimeoutError, "timeout"),
    (ConfigurationError, "not_configured"),
)


def describe(exc: BaseException) -> Problem:
    """What went wrong, in one line, and, where it helps, what to do."""
    if isinstance(exc, typer.TyperException):
        return _usage(exc)
    aws = _describe_aws(exc)
    if aws is not None:
        return aws
    if isinstance(exc, AdapterError):
        if isinstance(exc, CliError):
            code = exc.code
        else:
            code = next((c for kind, c in _CODES if isinstance(exc, kind)), "error")
        message = str(exc)
        if isinstance(exc, RunNotFoundError):
            message = f"no run with id {exc.run_id!r} (see `adapter runs ls`)"
        exit_code = exc.exit_code if isinstance(exc, CliError) else EXIT_FAILURE
        return Problem(code, _one_line(message), exit_code)
    return Problem(
        "internal_error",
        _one_line(f"{type(exc).__name__}: {exc} (set ADAPTER_DEBUG=1 for the traceback)"),
    )


def _usage(exc: typer.TyperException) -> Problem:
    # typer's own usage errors (unknown option, missing argument, bad value) and ours
    # (typer.BadParameter): exit 2, with the command whose help explains the usage.
    message = exc.format_message().rstrip(".")
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        message += f" (see `{ctx.command_path} --help`)"
    exit_code = getattr(exc, "exit_code", EXIT_USAGE)
    return Problem("usage" if exit_code == EXIT_USAGE else "error", _one_line(message), exit_code)


def _describe_aws(exc: BaseException) -> Problem | None:
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        endpoint = exc.kwargs.get("endpoint_url", "the AWS endpoint")
        return Problem("unreachable", _one_line(f"cannot reach {endpoint}: {exc}"))
    if isinstance(exc, NoCredentialsError):
        return Problem(
            "no_credentials", "no AWS credentials found: configure them, or pass --profile"
        )
    if isinstance(exc, NoRegionError):
        return Problem(
            "no_region", "no AWS region configured: set AWS_DEFAULT_REGION or pass --region"
        )
    if isinstance(exc, ProfileNotFound):
        return Problem("profile_not_found", _one_line(str(exc)))
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", str(exc))
        if code in ("ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue"):
            return Problem(
                "aws_error",
                _one_line(
                    f"{message} ({code}): do the ADAPTER_* variables name this stack's resources?"
                ),
            )
        return Problem("aws_error", _one_line(f"AWS said {code}: {message}"))
    if isinstance(exc, BotoCoreError):
        return Problem("aws_error", _one_line(f"AWS error: {exc}"))
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())  # whatever the exception's text looks like


def report(problem: Problem, *, as_json: bool) -> None:
    """Print ``problem`` on stderr: ``error: ...`` or, with ``--json``, one JSON object."""
    if as_json:
        sys.stderr.write(json.dumps(problem.to_json(), ensure_ascii=False) + "\n")
        sys.stderr.flush()
        return
    console = Console(file=sys.stderr, soft_wrap=True, highlight=False)
    console.print(Text("error: ", style="bold red") + Text(problem.message))
