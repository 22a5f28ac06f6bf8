"""Workflow- and step-side functions: sleep, hooks, now, random, metadata."""

from __future__ import annotations

import asyncio
import random as _random
from datetime import UTC, datetime
from typing import Any

from ._context import (
    StepMetadata,
    WorkflowMetadata,
    WorkflowRuntime,
    current_step,
    current_workflow,
)
from ._hooks import Hook, Webhook
from .durations import DurationLike, resolve_deadline
from .errors import WorkflowContextError


def _workflow_only(api: str) -> WorkflowRuntime:
    runtime = current_workflow()
    if runtime is None:
        raise WorkflowContextError(
            f"{api}() only works in workflow code (a @workflow function and what it awaits)"
        )
    return runtime


def sleep(duration: DurationLike | datetime) -> asyncio.Future[None]:
    """Suspend the workflow durably: for a duration, or until an aware ``datetime``.

    ``duration`` is ``"250ms" | "30s" | "5m" | "2h" | "1d" | "1w"``, a number of seconds
    or a ``timedelta``. The run costs nothing while it sleeps: no invocation waits. On
    AWS the wake-up is a delayed SQS message (passed on every 15 minutes for longer
    sleeps); in ``LocalRuntime`` the virtual clock jumps.

    Example::

        await sleep("1d")
        done, _ = await asyncio.wait([sleep("1h"), approval.next()],
                                     return_when=asyncio.FIRST_COMPLETED)

    Raises:
        WorkflowContextError: outside workflow code.
    """
    runtime = _workflow_only("sleep")
    return runtime.start_timer(resolve_deadline(duration, runtime.now()))


def create_hook(token: str | None = None, metadata: Any = None) -> Hook[Any]:
    """Create a hook the workflow can await for payloads sent from outside.

    Args:
        token: The hook's token; generated (192 random bits) when omitted. A chosen
            token lets outside systems address the hook by a known name, e.g.
            ``f"approval:{order_id}"``; it must not be held by another running run.
        metadata: JSON-serializable data recorded with the hook.

    Example::

        hook = create_hook()
        await notify_approver(hook.token)
        decision = await hook

    Raises:
        WorkflowContextError: outside workflow code.
    """
    return _workflow_only("create_hook").create_hook(token, metadata, webhook=False)


def create_webhook(token: str | None = None, metadata: Any = None) -> Webhook[Any]:
    """Like :func:`create_hook`, with ``.url``: ``POST`` JSON there to resume it.

    With a generated token (the default) ``.url`` is ``{api}/webhooks/{token}``, the
    public route: the token (192 random bits) is the secret. A chosen ``token`` is
    never resumable from the public route; ``.url`` is then the IAM-authenticated
    ``{api}/hooks/{token}``.
    """
    hook = _workflow_only("create_webhook").create_hook(token, metadata, webhook=True)
    assert isinstance(hook, Webhook)
    return hook


def now() -> datetime:
    """The current time, replay-stable inside workflow code.

    In a workflow it is the time recorded with the latest event the code has seen, so
    every replay sees the same value. Elsewhere it is the wall clock (UTC).
    """
    runtime = current_workflow()
    return runtime.now() if runtime is not None else datetime.now(UTC)


def random() -> float:
    """A float in ``[0, 1)``, replay-stable inside workflow code (seeded by the run id)."""
    runtime = current_workflow()
    return runtime.random() if runtime is not None else _random.random()


def get_workflow_metadata() -> WorkflowMetadata:
    """Name, run id, start time and deployment of the workflow run executing this code.

    Raises:
        WorkflowContextError: outside workflow code.
    """
    runtime = current_workflow()
    if runtime is None:
        raise WorkflowContextError("get_workflow_metadata() is only available in workflow code")
    return runtime.metadata


def get_step_metadata() -> StepMetadata:
    """Name, id, attempt (from 1) and start time of the step attempt executing this code.

    Raises:
        WorkflowContextError: outside a step.
    """
    context = current_step()
    if context is None:
        raise WorkflowContextError("get_step_metadata() is only available inside a step")
    return context.metadata
