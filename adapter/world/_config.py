"""Configuration: the pinned ``ADAPTER_*`` environment variables, read in one place."""

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
        missing = [k for k in (ENV_TABLE, ENV_WORKFLOW_QUEUE, ENV_STEP_QUEUE) if not env.get(k)]
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
