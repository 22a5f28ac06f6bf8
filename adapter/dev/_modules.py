"""The workflow modules ``adapter dev`` loads: which ones, and importing them."""

from __future__ import annotations

import importlib
import sys
import tomllib
from collections.abc import Iterable, Sequence
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


def import_modules(modules: Iterable[str], cwd: Path | None = None) -> list[str]:
    """Import the workflow modules (registering their workflows); return the workflow names
    registered in the default registry.

    The current directory is put on ``sys.path`` first: a console script does not have it
    there, yet ``adapter dev myapp.workflows`` run from a project root should just work.

    Raises:
        DevStackError: naming the module that could not be imported and why.
    """
    from ..core import default_registry

    root = str((cwd or Path.cwd()).resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    for name in modules:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                raise DevStackError(
                    f"cannot import workflow module {name!r}: no module named {exc.name!r} "
                    f"(looked in {root} and the installed packages)"
                ) from exc
            raise DevStackError(f"importing workflow module {name!r} failed: {exc}") from exc
        except Exception as exc:
            raise DevStackError(
                f"importing workflow module {name!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
    return default_registry.workflow_names()
