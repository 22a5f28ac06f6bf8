"""The client API: ``start``, ``get_run``, ``list_runs`` and the ``Run`` handle.

These are synchronous and usable from steps, API handlers, scripts and tests. They work
against the runtime in charge: the one running the current step, else an active
``LocalRuntime``, else one built from the ``ADAPTER_*`` environment variables.
"""

from __future__ import annotations

import base64
import inspect
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ..core import current_step, encode_input, new_run_id, serde, workflow_name_of
from ..core.errors import (
    IdempotencyConflictError,
    UnreadableHistoryError,
    WorkflowArgumentsError,
    WorkflowRunCancelledError,
    WorkflowRunFailedError,
)
from ..core.events import RunCreated, RunCreatedData
from ..world import UNREADABLE, RunRecord
from ._env import active_runtime, env_runtime
from ._runtime import Runtime, refuse_in_workflow

logger = logging.getLogger(__name__)


def current_runtime() -> Runtime:
    """The runtime the client API talks to right now."""
    context = current_step()
    if context is not None and context.client is not None:
        return context.client  # type: ignore[no-any-return]
    return active_runtime() or env_runtime()


class Run:
    """A handle on one workflow run. Reading ``status`` asks storage each time.

    Attributes:
        run_id: The run's id.
    """

    def __init__(
        self, run_id: str, runtime: Runtime | None = None, record: RunRecord | None = None
    ):
        self.run_id = run_id
        self._runtime = runtime
        self._record = record

    @property
    def _rt(self) -> Runtime:
        if self._runtime is None:
            self._runtime = current_runtime()
        return self._runtime

    def _fixed(self) -> RunRecord:
        # Name, deployment and creation time never change: read them once.
        if self._record is None:
            self._record = self._rt.get_record(self.run_id)
        return self._record

    def _fresh(self) -> RunRecord:
        self._record = self._rt.get_record(self.run_id)
        return self._record

    def record(self) -> RunRecord:
        """The stored run item (idempotency key, input, output...) as last read."""
        return self._fixed()

    @property
    def workflow_name(self) -> str:
        return self._fixed().workflow_name

    @property
    def deployment_id(self) -> str:
        """The resolved deployment (a version) the run is pinned to."""
        return self._fixed().deployment_id

    @property
    def created_at(self) -> datetime:
        return self._fixed().created_at

    @property
    def status(self) -> str:
        """``pending``, ``running``, ``completed``, ``failed`` or ``cancelled`` (fresh)."""
        return self._fresh().status

    @property
    def started_at(self) -> datetime | None:
        return self._fresh().started_at

    @property
    def completed_at(self) -> datetime | None:
        return self._fresh().completed_at

    @property
    def return_value(self) -> Any:
        """Wait for the run to end; return its output.

        Raises:
            WorkflowRunFailedError: the run failed (the error's message is carried).
            WorkflowRunCancelledError: the run was cancelled.
        """
        return self.result()

    def result(self, timeout: float | None = None) -> Any:
        """Like :attr:`return_value`, giving up after ``timeout`` seconds.

        Raises:
            RunTimeoutError: the run did not end in time.
        """
        record = self._rt.wait(self.run_id, timeout)
        self._record = record
        if record.status == "completed":
            if isinstance(record.output, dict) and UNREADABLE in record.output:
                raise UnreadableHistoryError(
                    f"the output of run {self.run_id} cannot be read: {record.output[UNREADABLE]}",
                    run_id=self.run_id,
                )
            return serde.from_json(record.output)
        if record.status == "cancelled":
            raise WorkflowRunCancelledError(self.run_id)
        error = record.error.model_dump() if record.error else {"type": "Error", "message": ""}
        raise WorkflowRunFailedError(self.run_id, error)

    def cancel(self) -> None:
        """Cancel the run unless it already ended."""
        self._rt.cancel(self.run_id)

    def __repr__(self) -> str:
        return f"Run(run_id={self.run_id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.run_id == self.run_id

    def __hash__(self) -> int:
        return hash(self.run_id)


def start(
    wf: Callable[..., Any] | str,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    deployment_id: str | None = None,
    idempotency_key: str | None = None,
) -> Run:
    """Start a new run of a workflow: write the run and ``run_created``, send one message.

    Inside a step, the new run is independent (own run id, log and retries), runs on the
    parent's deployment by default, and its idempotency key defaults to one derived from
    the parent run, the step and the call's index in the step, so a retried step never
    spawns a second child.

    Args:
        wf: A ``@workflow`` function or its registered name.
        args: Positional arguments (JSON-serializable, see ``adapter.core.serde``).
        kwargs: Keyword arguments.
        deployment_id: ``None`` (the caller's deployment), ``"latest"``, an alias or a
            version.
        idempotency_key: Starting twice with the same key returns the first run.

    Raises:
        WorkflowContextError: when called directly in workflow code (use a step).
        WorkflowNotRegisteredError: for an unknown workflow.
        SerializationError: for arguments that are not serializable.
        WorkflowArgumentsError: (a ``TypeError``) for arguments that do not fit the
            workflow's signature, when its code is loaded here.
        IdempotencyConflictError: the key already names a run of another workflow, or
            (a key you chose) one started with other arguments.

    Example::

        run = start(process_order, args=["order-1"])
        print(run.return_value)
    """
    refuse_in_workflow("start")
    if isinstance(args, (str, bytes)) or not isinstance(args, Sequence):
        raise TypeError("args must be a list or tuple of positional arguments")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError("kwargs must be a dict")
    rt = current_runtime()
    name = workflow_name_of(wf)
    context = current_step()
    if deployment_id is None and context is not None:
        version = context.deployment_id
    else:
        version = rt.deployments.resolve(deployment_id)
    registry = rt.deployments.registry_for(version)
    if registry is not None:
        # Fail fast where the code is here: an unknown name, arguments that do not fit.
        _check_arguments(registry.get_workflow(name).fn, name, args, kwargs or {})
    chosen_key = idempotency_key is not None
    if idempotency_key is None and context is not None:
        idempotency_key = context.next_spawn_key()
    run_input = encode_input(args, kwargs, what=f"the arguments of workflow {name!r}")
    now = rt.clock()
    run_id = new_run_id(int(now.timestamp() * 1000))
    record = RunRecord(
        run_id=run_id,
        workflow_name=name,
        deployment_id=version,
        status="pending",
        created_at=now,
        last_seq=1,
        input=run_input,
        idempotency_key=idempotency_key,
        # The link to the spawning step is its own attribute (indexed): never read
        # back from the idempotency key, which a caller may choose.
        parent_run_id=context.run_id if context is not None else None,
        parent_step=context.correlation_id if context is not None else None,
    )
    event = RunCreated(
        run_id=run_id,
        seq=1,
        created_at=now,
        data=RunCreatedData(workflow_name=name, input=run_input, deployment_id=version),
    )
    record, created = rt.world.create_run(record, event, idempotency_key)
    if created:
        rt.remember_created(record, event)
        rt.notify([event])
    else:
        _check_same_run(record, name, run_input, idempotency_key, compare_input=chosen_key)
    if created or record.status == "pending":
        # A pending run found by its key may have lost its first message to a crash.
        rt.send_or_leave_to_sweep(rt.workflow_message(record))
    logger.info(
        "%s run %s of %s on deployment %s",
        "started" if created else "found existing",
        record.run_id,
        name,
        record.deployment_id,
        extra={"run_id": record.run_id, "workflow": name},
    )
    return Run(record.run_id, rt, record)


def _check_arguments(
    fn: Callable[..., Any], name: str, args: Sequence[Any], kwargs: dict[str, Any]
) -> None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # no signature to check against (a builtin, say)
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        # Parameters without annotations: those may be strings (PEP 563), noise here.
        shown = signature.replace(
            parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
            return_annotation=signature.empty,
        )
        raise WorkflowArgumentsError(
            f"the arguments do not fit workflow {name!r}{shown}: {exc}"
        ) from None


def _check_same_run(
    found: RunRecord, name: str, run_input: Any, key: str | None, *, compare_input: bool
) -> None:
    """The run an idempotency key found must be the one asked for again.

    A key derived inside a step is compared by workflow only: a retried step may build
    its arguments anew (a timestamp, say) and must still find its child.
    """
    if found.workflow_name != name:
        raise IdempotencyConflictError(
            f"idempotency key {key!r} already names run {found.run_id} of workflow "
            f"{found.workflow_name!r}, not {name!r}: use another key"
        )
    if compare_input and found.input != run_input:
        raise IdempotencyConflictError(
            f"idempotency key {key!r} already names run {found.run_id} of {name!r} with "
            "other arguments: use another key (or the same arguments to get that run)"
        )


def get_run(run_id: str) -> Run:
    """A handle on an existing run.

    Raises:
        RunNotFoundError: when no run has that id.
    """
    refuse_in_workflow("get_run")
    rt = current_runtime()
    return Run(run_id, rt, rt.get_record(run_id))


def list_runs(
    *, workflow_name: str | None = None, status: str | None = None, limit: int = 100
) -> list[Run]:
    """Runs, newest first, optionally filtered by workflow name and status."""
    refuse_in_workflow("list_runs")
    if limit < 1:
        raise ValueError("limit must be >= 1")
    rt = current_runtime()
    records = rt.world.list_runs(workflow_name=workflow_name, status=status, limit=limit)
    return [Run(r.run_id, rt, r) for r in records]


def page_runs(
    *,
    workflow_name: str | None = None,
    status: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[RunRecord], str | None]:
    """One page of runs, newest first, and the cursor of the next page.

    Args:
        workflow_name: Only runs of this workflow.
        status: Only runs with this status.
        limit: At most this many runs.
        cursor: ``None`` for the first page, else a cursor an earlier call returned
            (with the same filters): the page starts after the run it points at.
        since: Only runs created at or after this aware moment.
        until: Only runs created before this aware moment.

    Returns:
        The runs, and the cursor of the next page (``None`` on the last page).

    Raises:
        ValueError: for a limit below 1, a cursor no call returned, or naive moments.

    The cursor is opaque: the creation key (creation time and run id) of the page's last
    run, so a page never repeats or skips a run however many runs start meanwhile. Each
    page is one range query per index partition, starting at that key: paging through
    ``n`` runs reads ``O(n)`` items.
    """
    refuse_in_workflow("page_runs")
    if limit < 1:
        raise ValueError("limit must be >= 1")
    for moment in (since, until):
        if moment is not None and moment.tzinfo is None:
            raise ValueError(f"since and until must be aware datetimes, not {moment!r}")
    before = _decode_cursor(cursor) if cursor is not None else None
    rt = current_runtime()
    records = rt.world.list_runs(
        workflow_name=workflow_name,
        status=status,
        limit=limit + 1,  # one more than the page: is there a next one?
        before=before,
        since=since,
        until=until,
    )
    if len(records) <= limit:
        return records, None
    page = records[:limit]
    return page, _encode_cursor(page[-1])


def _encode_cursor(record: RunRecord) -> str:
    return base64.urlsafe_b64encode(record.created_key.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    """The creation key a cursor holds (checked: it goes into a key condition)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        moment, run_id = key.split("#")
        created_at = datetime.fromisoformat(moment)
    except ValueError:  # bad base64, ASCII or UTF-8, no separator, bad time: ValueErrors
        raise ValueError(f"not a cursor from a run listing: {cursor!r}") from None
    if created_at.tzinfo is None or not run_id:
        raise ValueError(f"not a cursor from a run listing: {cursor!r}")
    return key


def resume_hook(token: str, payload: Any = None) -> str:
    """Send ``payload`` to the hook with ``token``; return the run id it resumed.

    Usable anywhere but workflow code: steps, API handlers, scripts, tests.

    Raises:
        HookNotFoundError: for an unknown or disposed token.
        SerializationError: for a payload that is not serializable.
    """
    refuse_in_workflow("resume_hook")
    return current_runtime().resume_hook(token, payload)
