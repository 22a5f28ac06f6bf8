"""Registries of workflows and steps, and the ``@workflow`` / ``@step`` decorators."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, overload

from ._context import current_workflow
from ._mistakes import check_workflow_source
from .errors import StepNotRegisteredError, WorkflowNotRegisteredError

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_MAX_RETRIES = 3


@dataclass(frozen=True)
class WorkflowDefinition:
    """A registered workflow: its name and the user's ``async def``."""

    name: str
    fn: Callable[..., Any]


@dataclass(frozen=True)
class StepDefinition:
    """A registered step: its name, the user's function and its retry budget."""

    name: str
    fn: Callable[..., Any]
    max_retries: int = DEFAULT_MAX_RETRIES

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.fn)


def _default_name(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


class Registry:
    """A set of workflows and steps: one deployment's code.

    The module-level ``adapter.workflow`` and ``adapter.step`` decorators register into
    :data:`default_registry`. Make another ``Registry`` to model a second deployment::

        v2 = Registry()

        @v2.workflow(name="orders.fulfill")
        async def fulfill(order_id: str) -> str: ...
    """

    def __init__(self) -> None:
        self._workflows: dict[str, WorkflowDefinition] = {}
        self._steps: dict[str, StepDefinition] = {}

    # --- decorators --------------------------------------------------------------------

    @overload
    def workflow(self, fn: Callable[P, R], /) -> Callable[P, R]: ...

    @overload
    def workflow(
        self, /, *, name: str | None = None
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...

    def workflow(self, fn: Any = None, /, *, name: str | None = None) -> Any:
        """Register an ``async def`` as a workflow.

        Awaiting it inside another workflow runs it inline; outside any workflow, calling
        it just runs the function. Start a durable run with ``adapter.start(fn, ...)``.

        Args:
            name: Registered name; defaults to ``"<module>.<qualname>"``.
        """

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            if not inspect.iscoroutinefunction(func):
                raise TypeError(f"@workflow needs an `async def` function, got {func!r}")
            definition = WorkflowDefinition(name=name or _default_name(func), fn=func)
            self._add(self._workflows, definition.name, definition)
            check_workflow_source(definition.name, func)  # warns: now(), random(), I/O...

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                runtime = current_workflow()
                if runtime is not None:
                    return runtime.call_workflow(definition, args, kwargs)
                return func(*args, **kwargs)

            wrapper.__adapter_workflow__ = definition  # type: ignore[attr-defined]
            return wrapper

        return decorate(fn) if fn is not None else decorate

    @overload
    def step(self, fn: Callable[P, R], /) -> Callable[P, R]: ...

    @overload
    def step(
        self, /, *, name: str | None = None, max_retries: int = DEFAULT_MAX_RETRIES
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...

    def step(
        self, fn: Any = None, /, *, name: str | None = None, max_retries: int = DEFAULT_MAX_RETRIES
    ) -> Any:
        """Register a function as a step: durable, retried, its result recorded once.

        Awaiting it in a workflow schedules it as its own invocation and returns the
        recorded result; outside a workflow it is a plain call.

        Args:
            name: Registered name; defaults to ``"<module>.<qualname>"``.
            max_retries: Retries after the first attempt (default 3, so 4 attempts).
        """
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            definition = StepDefinition(
                name=name or _default_name(func), fn=func, max_retries=max_retries
            )
            self._add(self._steps, definition.name, definition)

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                runtime = current_workflow()
                if runtime is not None:
                    return runtime.call_step(definition, args, kwargs)
                return func(*args, **kwargs)

            wrapper.__adapter_step__ = definition  # type: ignore[attr-defined]
            return wrapper

        return decorate(fn) if fn is not None else decorate

    # --- lookups -------------------------------------------------------------------------

    def get_workflow(self, name: str) -> WorkflowDefinition:
        """Return the workflow registered as ``name``.

        Raises:
            WorkflowNotRegisteredError: when there is none.
        """
        try:
            return self._workflows[name]
        except KeyError:
            raise WorkflowNotRegisteredError(name, list(self._workflows)) from None

    def get_step(self, name: str) -> StepDefinition:
        """Return the step registered as ``name``.

        Raises:
            StepNotRegisteredError: when there is none.
        """
        try:
            return self._steps[name]
        except KeyError:
            raise StepNotRegisteredError(f"step {name!r} is not registered") from None

    def workflow_names(self) -> list[str]:
        """Names of all registered workflows, sorted."""
        return sorted(self._workflows)

    @staticmethod
    def _add(table: dict[str, Any], key: str, definition: Any) -> None:
        existing = table.get(key)
        if existing is not None and _default_name(existing.fn) != _default_name(definition.fn):
            raise ValueError(f"name {key!r} is already registered for {_default_name(existing.fn)}")
        # The same function registered again (a module imported twice) replaces itself.
        table[key] = definition


default_registry = Registry()
"""The registry the module-level ``workflow`` and ``step`` decorators use."""

workflow = default_registry.workflow
step = default_registry.step


def workflow_name_of(wf: Callable[..., Any] | str) -> str:
    """The registered name of a workflow function, or ``wf`` itself when it is a name."""
    if isinstance(wf, str):
        return wf
    definition = getattr(wf, "__adapter_workflow__", None)
    if definition is None:
        raise TypeError(f"{wf!r} is not a @workflow function (decorate it or pass its name)")
    return str(definition.name)
