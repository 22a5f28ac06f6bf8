"""The workflow modules ``adapter dev`` loads: which ones, and importing them."""

from __future__ import annotations

import contextlib
import importlib
import sys
import tomllib
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ._common import DEFAULT_MODULES, DevStackError


def resolve_modules(modules: Sequence[str] | None, cwd: Path | None = None) -> list[str]:
    """The workflow modules to load: the given ones, else ``[tool.adapter] modules`` from
    ``pyproject.toml`` in ``cwd``, else the samples.

    Raises:
        DevStackError: when ``[tool.adapter] modules`` is not a list of strings.
    """
    if modules:
        return list(modules)
    pyproject = (cwd or Path.cwd()) / "pyproject.toml"
    if pyproject.is_file():
        try:
            config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise DevStackError(f"{pyproject} is not valid TOML: {exc}") from exc
        configured = config.get("tool", {}).get("adapter", {}).get("modules")
        if configured is not None:
            if not isinstance(configured, list) or not all(isinstance(m, str) for m in configured):
                raise DevStackError(
                    f"[tool.adapter] modules in {pyproject} must be a list of module names"
                )
            return list(configured)
    return list(DEFAULT_MODULES)


class ModuleLoadError(DevStackError):
    """A workflow module that cannot be loaded: a usage error (``adapter dev`` exits 2).

    Attributes:
        details: The traceback of the module's own failure, when it raised on import.
    """

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.details = details


def module_name_for(path: str, cwd: Path | None = None) -> str:
    """The dotted module name for a file path (``myapp/orders.py`` -> ``myapp.orders``)."""
    target = Path(path)
    if target.is_absolute():
        with contextlib.suppress(ValueError):
            target = target.resolve().relative_to((cwd or Path.cwd()).resolve())
    parts = [p for p in target.with_suffix("").parts if p not in (".", "/", "\\")]
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _own_traceback(exc: BaseException) -> str:
    """The traceback of a failed import without importlib's own frames."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith("<frozen importlib")
        and frame.filename != __file__
        and "importlib" not in Path(frame.filename).parts
    ]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def import_modules(
    modules: Iterable[str],
    cwd: Path | None = None,
    *,
    warn: Callable[[str], None] | None = None,
) -> list[str]:
    """Import the workflow modules (registering their workflows); return the workflow names
    registered in the default registry.

    The current directory is put on ``sys.path`` first: a console script does not have it
    there, yet ``adapter dev myapp.workflows`` run from a project root should just work.

    Args:
        modules: Dotted module names.
        cwd: The project root (default: the current directory).
        warn: Told about a module that registers no workflow.

    Raises:
        ModuleLoadError: naming the module that could not be imported and why (a file
            path instead of a module name, a module not found, one that raised).
    """
    from ..core import default_registry

    root = str((cwd or Path.cwd()).resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    for name in modules:
        if name.endswith(".py") or "/" in name or "\\" in name:
            raise ModuleLoadError(
                f"{name!r} is a file path; adapter dev takes module names: did you mean "
                f"`adapter dev {module_name_for(name, cwd)}`?"
            )
        before = set(default_registry.workflow_names())
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                raise ModuleLoadError(
                    f"cannot import workflow module {name!r}: no module named {exc.name!r} "
                    f"(looked in {root} and the installed packages)"
                ) from exc
            raise ModuleLoadError(
                f"importing workflow module {name!r} failed: {exc} (traceback above)",
                _own_traceback(exc),
            ) from exc
        except (Exception, SystemExit) as exc:
            raise ModuleLoadError(
                f"importing workflow module {name!r} failed: {type(exc).__name__}: {exc} "
                "(traceback above)",
                _own_traceback(exc),
            ) from exc
        names = default_registry.workflow_names()
        own = set(names) - before or {n for n in names if n.startswith(f"{name}.")}
        if not own and warn is not None:
            warn(
                f"warning: module {name!r} registers no workflow (no @workflow function "
                "in it or in what it imports)"
            )
    return default_registry.workflow_names()
