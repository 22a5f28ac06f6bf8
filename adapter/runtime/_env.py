"""Which runtime the client API talks to: an active one (``LocalRuntime``), else one
for the resources the ``ADAPTER_*`` environment variables name."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from typing import Any

from ..core.messages import Message
from ..world import ENV_LAMBDA_FUNCTION_VERSION
from ._deployments import Deployments
from ._runtime import Runtime

_active: list[Runtime] = []
_env_runtime: Runtime | None = None
_env_lock = threading.Lock()


def activate(runtime: Runtime) -> None:
    """Make ``runtime`` the one the client API uses (``LocalRuntime`` does this)."""
    _active.append(runtime)


def deactivate(runtime: Runtime) -> None:
    """Undo :func:`activate`."""
    if runtime in _active:
        _active.remove(runtime)


def active_runtime() -> Runtime | None:
    """The runtime most recently activated, if any."""
    return _active[-1] if _active else None


def env_runtime() -> Runtime:
    """The runtime for the resources named by the ``ADAPTER_*`` environment variables.

    Inside Lambda it runs as ``AWS_LAMBDA_FUNCTION_VERSION`` with this process's code
    (the default registry) and forwards messages of other versions to them. Outside
    Lambda with ``ADAPTER_FUNCTION_NAME`` set it is a pure client whose default
    deployment is the ``ADAPTER_DEFAULT_DEPLOYMENT`` alias (``live``). With no function
    at all, this process serves ``$LATEST`` itself (handy for tests and scripts).
    """
    global _env_runtime
    with _env_lock:
        if _env_runtime is None:
            _env_runtime = _build_env_runtime()
        return _env_runtime


def reset_env_runtime() -> None:
    """Forget the cached environment runtime (after the environment changed)."""
    global _env_runtime
    with _env_lock:
        _env_runtime = None


def _build_env_runtime() -> Runtime:
    from ..core import default_registry
    from ..world import ENV_DEFAULT_DEPLOYMENT
    from ..world.aws import connect

    stack = connect()
    world, function = stack.world, stack.function
    api_url = world.config.api_url or ""
    # Outside an invocation (no deadline known) a step attempt owns its step for one
    # function timeout; inside one, until its deadline (see Services.lease_until).
    lease = timedelta(seconds=world.config.function_timeout)
    version = os.environ.get(ENV_LAMBDA_FUNCTION_VERSION)
    if function is None:
        current = version or "$LATEST"
        deployments = Deployments(current, {current: default_registry})
        return Runtime(world, deployments=deployments, api_url=api_url, step_lease=lease)
    lambda_function = function
    if version:
        deployments = Deployments(version, {version: default_registry}, function=function)
    else:
        alias = os.environ.get(ENV_DEFAULT_DEPLOYMENT) or "live"
        deployments = Deployments(lambda: lambda_function.resolve(alias), {}, function=function)

    def forward(message: Message, receive_count: int) -> None:
        lambda_function.invoke_async(message.deployment_id, forward_payload(message, receive_count))

    return Runtime(
        world, deployments=deployments, forwarder=forward, api_url=api_url, step_lease=lease
    )


def forward_payload(message: Message, receive_count: int) -> dict[str, Any]:
    """The event a forwarded message travels in (see ``adapter.aws.handler``)."""
    return {
        "adapterForward": {
            "message": message.model_dump(mode="json", exclude_none=True),
            "receiveCount": receive_count,
        }
    }
