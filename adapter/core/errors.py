"""Every exception adapter raises, in one rooted hierarchy.

User-facing errors derive from :class:`AdapterError`. The engine's own control-flow
signal (:class:`_SuspendTurn`) derives from :class:`BaseException` so that a broad
``except Exception`` in workflow code cannot swallow it.
"""

from __future__ import annotations

import difflib
from typing import Any


class AdapterError(Exception):
    """Root of every error adapter raises on purpose."""


# --- errors users raise or catch in steps and workflows -------------------------------


class FatalError(AdapterError):
    """Raised by a step to fail at once, without retries.

    When a workflow awaits a step that raised it, the workflow receives a ``FatalError``
    carrying the step name, the attempt and the original message.
    """

    def __init__(
        self,
        message: str,
        *,
        step_name: str | None = None,
        attempt: int | None = None,
        original_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.step_name = step_name
        self.attempt = attempt
        self.original_type = original_type or "FatalError"


class RetryableError(AdapterError):
    """Raised by a step to be retried after ``retry_after``.

    Args:
        message: What went wrong.
        retry_after: Seconds (``int``/``float``), a ``timedelta``, a duration string such
            as ``"30s"``, or an aware ``datetime`` at which to retry. ``None`` uses the
            step's backoff schedule.
    """

    def __init__(self, message: str, *, retry_after: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class StepFailedError(AdapterError):
    """Raised in a workflow when an awaited step failed for good (retries exhausted)."""

    def __init__(self, step_name: str, attempt: int, original_type: str, message: str) -> None:
        super().__init__(
            f"step {step_name!r} failed after {attempt} attempt(s): {original_type}: {message}"
        )
        self.step_name = step_name
        self.attempt = attempt
        self.original_type = original_type
        self.message = message


class WorkflowRunFailedError(AdapterError):
    """Raised by ``Run.return_value`` when the run failed."""

    def __init__(self, run_id: str, error: dict[str, Any]) -> None:
        self.run_id = run_id
        self.error = error
        self.original_type = str(error.get("type", "Error"))
        self.message = str(error.get("message", ""))
        super().__init__(f"run {run_id} failed: {self.original_type}: {self.message}")


class WorkflowRunCancelledError(AdapterError):
    """Raised by ``Run.return_value`` when the run was cancelled."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id} was cancelled")
        self.run_id = run_id


class RunTimeoutError(AdapterError, TimeoutError):
    """Raised by ``Run.result(timeout=...)`` when the run has not ended in time."""


# --- lookups ---------------------------------------------------------------------------


class NotFoundError(AdapterError, LookupError):
    """Base for lookups that found nothing."""


class WorkflowNotRegisteredError(NotFoundError):
    """Raised when a workflow name is not registered in the registry in use.

    Attributes:
        name: The name asked for.
        suggestions: Registered names it probably meant (``process_order`` for
            ``myapp.orders.process_order``, or a close spelling), best first.
    """

    def __init__(self, name: str, known: list[str] | None = None) -> None:
        names = sorted(known or [])
        self.name = name
        self.suggestions = suggest_names(name, names)
        guess = ""
        if len(self.suggestions) == 1:
            guess = f": did you mean {self.suggestions[0]!r}?"
        elif self.suggestions:
            guess = f": did you mean one of {', '.join(map(repr, self.suggestions))}?"
        more = f" and {len(names) - 10} more" if len(names) > 10 else ""
        listed = f"registered: {', '.join(names[:10])}{more}"
        hint = (f" ({listed})" if guess else f"; {listed}") if names else ""
        super().__init__(f"workflow {name!r} is not registered{guess}{hint}")


def suggest_names(name: str, known: list[str], limit: int = 3) -> list[str]:
    """Registered names ``name`` probably meant: the full names it is the end of (a bare
    function name for ``module.function``), else the closest spellings."""
    if not name:
        return []
    ends = [n for n in known if n.endswith(f".{name}")]
    if ends:
        return ends[:limit]
    last = name.rpartition(".")[2]
    same_function = [n for n in known if n.rpartition(".")[2] == last]
    if same_function:
        return same_function[:limit]
    close = difflib.get_close_matches(name, known, n=limit, cutoff=0.75)
    if close:
        return close
    by_function = {n.rpartition(".")[2]: n for n in known}
    return [by_function[f] for f in difflib.get_close_matches(last, list(by_function), limit, 0.75)]


class StepNotRegisteredError(NotFoundError):
    """Raised when a step message names a step this deployment does not define."""


class RunNotFoundError(NotFoundError):
    """Raised when no run has the given run id."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id!r} not found")
        self.run_id = run_id


class DeploymentNotFoundError(NotFoundError):
    """Raised when a ``deployment_id`` names no published version or alias."""


class HookNotFoundError(NotFoundError):
    """Raised by ``resume_hook`` for an unknown or disposed token."""


class InvalidHookTokenError(AdapterError, ValueError):
    """Raised by ``create_hook(token=...)`` for a token that cannot be stored (empty,
    over :data:`~adapter.core._hooks.MAX_HOOK_TOKEN_BYTES`, not valid Unicode)."""


class WorkflowArgumentsError(AdapterError, TypeError):
    """Raised by ``start`` for arguments that do not fit the workflow's signature
    (checked where the workflow's code is loaded), before anything is written."""


class IdempotencyConflictError(AdapterError):
    """Raised by ``start`` when its idempotency key already names a run of another
    workflow, or (a key the caller chose) one started with other arguments."""


class HookConflictError(AdapterError):
    """Raised in a workflow awaiting a hook whose token another running run holds."""


# --- misuse ------------------------------------------------------------------------------


class WorkflowContextError(AdapterError, RuntimeError):
    """Raised when an API is used where it cannot work deterministically.

    For example ``start()`` called directly in workflow code: spawning is a side effect,
    so it must happen inside a step, where it is recorded once.
    """


class SerializationError(AdapterError, TypeError):
    """Raised when a value cannot be turned into JSON (or back) by adapter's serde."""


class PayloadTooLargeError(AdapterError, ValueError):
    """Raised when a payload is larger than the storage in use can hold."""


# --- replay ------------------------------------------------------------------------------


class NonDeterminismError(AdapterError):
    """Raised when replayed workflow code asks for something else than its log recorded.

    Attributes:
        expected: What the log recorded at that point, e.g. ``"step orders.charge"``.
        actual: What the code asked for instead (``None``: nothing).
        seq: The seq of the recorded event the code no longer matches, when known.
        correlation_id: That event's correlation id (``step_3``), when known.
    """

    def __init__(
        self,
        message: str,
        *,
        expected: str | None = None,
        actual: str | None = None,
        seq: int | None = None,
        correlation_id: str | None = None,
    ):
        super().__init__(message)
        self.expected = expected
        self.actual = actual
        self.seq = seq
        self.correlation_id = correlation_id


# --- storage -----------------------------------------------------------------------------


class WorldError(AdapterError):
    """Raised when storage or queues fail in a way adapter cannot recover from."""


class NotRetryableError(WorldError):
    """Raised by ``retry`` for a run that completed, was cancelled, or failed in its own
    code (replaying it would fail the same way), or that changed while retrying it."""


class ConflictError(WorldError):
    """Raised when a conditional write lost a race: someone else recorded first.

    ``reason`` is ``"seq"`` (another writer appended to the log), ``"step"`` (a step
    item moved on) or ``"exists"`` (the item was already there).
    """

    def __init__(self, message: str, *, reason: str = "seq", detail: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.detail = detail
        self.committed_seq: int | None = None
        """When a batch spans transactions: the last seq its earlier ones committed."""


class UnreadableHistoryError(WorldError):
    """Raised when a run's stored history cannot be read back: a payload object missing
    from S3 (deleted by a lifecycle rule or by hand), or an event that no longer decodes.

    A run whose history is unreadable cannot be replayed: the runtime fails it with this
    reason instead of retrying its messages forever.
    """

    def __init__(self, message: str, *, run_id: str | None = None, seq: int | None = None):
        super().__init__(message)
        self.run_id = run_id
        self.seq = seq


class StepBusyError(WorldError):
    """Raised when another delivery holds a step's lease: try the message again later.

    ``until`` is when the lease ends; the SQS handler makes the message visible again
    then rather than after its queue's whole visibility timeout.
    """

    def __init__(self, message: str, *, until: Any = None) -> None:
        super().__init__(message)
        self.until = until


class ConfigurationError(WorldError):
    """Raised when required configuration (the ``ADAPTER_*`` variables) is missing."""


class _SuspendTurn(BaseException):
    """Internal: unwinds workflow code when a turn must stop. Never caught by users."""
