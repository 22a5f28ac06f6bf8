"""Configuration: every ``ADAPTER_*`` environment variable and resource name, in one place.

The Lambda function reads :class:`AwsConfig`; the CLI, ``adapter dev``,
``LocalRuntime`` and :func:`~adapter.world.aws.create_resources` use the same names, so
renaming one is a change here only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..core.errors import ConfigurationError

ENV_TABLE = "ADAPTER_TABLE_NAME"
ENV_WORKFLOW_QUEUE = "ADAPTER_WORKFLOW_QUEUE_URL"
ENV_STEP_QUEUE = "ADAPTER_STEP_QUEUE_URL"
ENV_BUCKET = "ADAPTER_BUCKET_NAME"
ENV_FUNCTION = "ADAPTER_FUNCTION_NAME"
ENV_API_URL = "ADAPTER_API_URL"
ENV_MAX_RECEIVE_COUNT = "ADAPTER_MAX_RECEIVE_COUNT"
ENV_DEFAULT_DEPLOYMENT = "ADAPTER_DEFAULT_DEPLOYMENT"
ENV_FUNCTION_TIMEOUT = "ADAPTER_FUNCTION_TIMEOUT"
ENV_TUNE_MOTO = "ADAPTER_TUNE_MOTO"
"""``0`` turns off the moto speed-ups of ``LocalRuntime`` and ``adapter dev``."""
ENV_DEV_FILE = "ADAPTER_DEV_FILE"
"""Where ``adapter dev`` wrote its connection file (default ``./.adapter-dev.json``)."""
ENV_DEBUG = "ADAPTER_DEBUG"
"""Set: the CLI prints a traceback with an unexpected error."""
REQUIRED_ENV = (ENV_TABLE, ENV_WORKFLOW_QUEUE, ENV_STEP_QUEUE)
"""The variables without which there is no stack to talk to."""

# Set by Lambda itself (not ours to rename, but read in several places).
ENV_LAMBDA_FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"
ENV_LAMBDA_FUNCTION_VERSION = "AWS_LAMBDA_FUNCTION_VERSION"

QUEUE_KINDS = ("workflow", "step")


def table_name(prefix: str) -> str:
    """The runs table of the stack named ``prefix``."""
    return f"{prefix}-runs"


def queue_name(prefix: str, kind: str, *, dlq: bool = False) -> str:
    """The ``kind`` (``"workflow"`` or ``"step"``) queue, or its dead-letter queue."""
    return f"{prefix}-{kind}-dlq" if dlq else f"{prefix}-{kind}"


def bucket_name(prefix: str, account: str) -> str:
    """The payload bucket (bucket names are global: the account makes it unique)."""
    return f"{prefix}-payloads-{account}"


FUNCTION_TIMEOUT = 300
"""The function timeout of template.yaml (its ``FunctionTimeout`` parameter's default)."""
MAX_RECEIVE_COUNT = 10
"""The queues' redrive ``maxReceiveCount``: deliveries before a message goes to its DLQ."""


@dataclass(frozen=True)
class AwsConfig:
    """Where the resources are. Built from the ``ADAPTER_*`` environment variables."""

    table_name: str
    workflow_queue_url: str
    step_queue_url: str
    bucket_name: str | None = None
    function_name: str | None = None
    api_url: str | None = None
    function_timeout: int = FUNCTION_TIMEOUT
    """The function timeout in seconds (``ADAPTER_FUNCTION_TIMEOUT``): how long a step
    attempt owns its step when its invocation's deadline is unknown."""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> AwsConfig:
        """Read the configuration from the environment.

        Raises:
            ConfigurationError: naming each required variable that is missing, or a
                function timeout that is not a positive whole number of seconds.
        """
        env = dict(os.environ) if env is None else env
        missing = [k for k in REQUIRED_ENV if not env.get(k)]
        if missing:
            raise ConfigurationError(
                f"missing environment variable(s): {', '.join(missing)}; set them to the "
                "resources of your stack (see template.yaml outputs) or create them with "
                "adapter.world.aws.create_resources()"
            )
        return cls(
            table_name=env[ENV_TABLE],
            workflow_queue_url=env[ENV_WORKFLOW_QUEUE],
            step_queue_url=env[ENV_STEP_QUEUE],
            bucket_name=env.get(ENV_BUCKET) or None,
            function_name=env.get(ENV_FUNCTION) or None,
            api_url=env.get(ENV_API_URL) or None,
            function_timeout=_seconds(env, ENV_FUNCTION_TIMEOUT, FUNCTION_TIMEOUT),
        )


def _seconds(env: dict[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value
