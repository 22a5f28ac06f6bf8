"""Finding the stack the commands talk to, and reading runs from it.

See :mod:`adapter.cli` for the order in which the configuration is looked up.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import typer

from ..core.errors import ConfigurationError, RunNotFoundError
from ..core.events import Event
from ..dev import DEV_FILE_NAME, find_dev_file
from ..runtime import current_runtime, reset_env_runtime
from ..world import REQUIRED_ENV, RunRecord
from ._errors import CliError

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


@dataclass
class Connection:
    """The global ``--endpoint-url``, ``--profile`` and ``--region`` options."""

    endpoint_url: str | None = None
    profile: str | None = None
    region: str | None = None


def connect(ctx: typer.Context, endpoint_url: str | None, profile: str | None) -> str:
    """Configure this process for the stack a command names; return where it came from.

    The command's own ``--endpoint-url`` and ``--profile`` win over the global ones.
    """
    root = ctx.find_object(Connection) or Connection()
    return configure(endpoint_url or root.endpoint_url, profile or root.profile, root.region)


def configure(
    endpoint_url: str | None = None, profile: str | None = None, region: str | None = None
) -> str:
    """Point this process at a stack; return where its configuration came from.

    The environment runtime is rebuilt when anything changed, so the client API follows.

    Raises:
        ConfigurationError: no stack configured, or an unreadable dev file.
        CliError: an endpoint that refuses connections.
    """
    import boto3

    source = "environment"
    changed = False
    if not all(os.environ.get(key) for key in REQUIRED_ENV):
        found = find_dev_file()
        if found is None:
            missing = ", ".join(k for k in REQUIRED_ENV if not os.environ.get(k))
            raise ConfigurationError(
                f"no adapter stack configured ({missing} not set and no "
                f"{DEV_FILE_NAME} found from {Path.cwd()}): run `adapter dev` in "
                "your project, or set the ADAPTER_* variables to your stack's resources"
            )
        try:
            info = json.loads(found.read_text(encoding="utf-8"))
            env = {str(k): str(v) for k, v in info["env"].items()}
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            raise ConfigurationError(f"cannot read {found}: {exc}") from None
        # The dev file describes a moto stack: its fake credentials must win over a
        # profile from the shell, or boto3 would sign with (and leak) real ones.
        for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            os.environ.pop(key, None)
        os.environ.update(env)
        source = str(found)
        changed = True
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
        changed = True
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region
        changed = True
    if profile:
        os.environ["AWS_PROFILE"] = profile
        changed = True
    if changed:
        # A fresh default session: the old one may have resolved other credentials.
        if profile:
            boto3.setup_default_session(profile_name=profile)
        else:
            boto3.setup_default_session()
        reset_env_runtime()
    check_endpoint(os.environ.get("AWS_ENDPOINT_URL"), source)
    return source


def check_endpoint(url: str | None, source: str) -> None:
    """Fail at once when a local endpoint refuses connections.

    botocore retries a refused connection with backoff for several seconds before
    giving up; one TCP connect tells the same thing at once.

    Raises:
        ConfigurationError: for a URL without a host.
        CliError: ``code="unreachable"`` when nothing listens there.
    """
    if not url:
        return
    parts = urlsplit(url)
    if not parts.hostname:
        raise ConfigurationError(f"invalid endpoint URL {url!r} (from {source})")
    if parts.hostname not in _LOCAL_HOSTS and not source.endswith(DEV_FILE_NAME):
        return  # a remote endpoint may sit behind a proxy only botocore knows about
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=3):
            pass
    except OSError as exc:
        raise CliError(
            f"cannot reach the endpoint {url} (from {source}): {exc.strerror or exc}; "
            "is `adapter dev` (or your local AWS emulator) running?",
            code="unreachable",
        ) from None


def history(run_id: str) -> tuple[RunRecord, list[Event]]:
    """The run item and its whole event log.

    Raises:
        RunNotFoundError: when no run has that id.
    """
    record, events = current_runtime().readable_history(run_id)
    if record is None:
        raise RunNotFoundError(run_id)
    return record, events


def runtime_now() -> datetime:
    """The runtime's clock, not the wall clock: under ``LocalRuntime`` time is virtual,
    and a running run's age must be measured on the clock that stamped its events."""
    try:
        return current_runtime().clock()
    except Exception:
        return datetime.now(UTC)
