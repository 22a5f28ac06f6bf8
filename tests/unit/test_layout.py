"""The package's shape: no import cycles, small modules, each layer importing only
what it may (see docs/architecture.md)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2] / "adapter"
MAX_LINES = 500

# What each layer may import from the others (the rest of adapter is off limits).
ALLOWED = {
    "core": set(),
    "world": {"core"},
    "runtime": {"core", "world"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _runtime_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import, at any depth, except those under ``if TYPE_CHECKING:``."""

    def walk(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                yield from (n for s in child.orelse for n in walk_one(s))
                continue
            yield from walk_one(child)

    def walk_one(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        else:
            yield from walk(node)

    yield from walk(tree)


def _ancestors(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def imports_of(name: str) -> set[str]:
    """The modules of ``adapter`` that module ``name`` imports when it runs."""
    tree = ast.parse(MODULES[name].read_text())
    package = name if _is_package(name) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_imports(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            targets = [prefix]
            # `from . import _items` names a submodule, not an attribute.
            targets += [f"{prefix}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            # A module importing through its own package (`from . import x`) runs
            # while that package initializes: not an edge to it.
            if target and target != name and target not in _ancestors(name):
                found.add(target)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def _cycle_through(start: str) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in GRAPH[node]:
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_the_import_walk_sees_the_imports() -> None:
    assert "adapter.runtime._services" in GRAPH["adapter.runtime._runtime"]
    assert "adapter.world._items" in GRAPH["adapter.world.aws"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_cycle(name: str) -> None:
    cycle = _cycle_through(name)
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_small(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name]} has {lines} lines (split it by concept)"


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    own = f"adapter.{layer}"
    bad = {
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if name == own or name.startswith(own + ".")
        for target in targets
        if target.startswith("adapter.") and target.split(".")[1] not in ALLOWED[layer] | {layer}
    }
    assert sorted(bad) == []


def _private_outside(name: str, target: str) -> bool:
    """Does ``name`` import a private module (``adapter.pkg._mod``) of another package?
    ``adapter._moto`` is the one private package shared on purpose (testing and dev)."""
    parts = target.split(".")
    private = next((i for i, part in enumerate(parts) if part.startswith("_")), None)
    if private is None or parts[private] == "_moto" or private < 2:
        return False
    owner = ".".join(parts[:private])
    return not (name == owner or name.startswith(owner + "."))


def test_packages_import_each_other_through_their_public_modules() -> None:
    bad = {
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        for target in targets
        if _private_outside(name, target)
    }
    assert sorted(bad) == []


def test_the_private_import_check_sees_one() -> None:
    assert _private_outside("adapter.runtime._turn", "adapter.core._state")
    assert not _private_outside("adapter.core._replay", "adapter.core._state")
    assert not _private_outside("adapter.dev._stack", "adapter._moto._registry")


def _string_constants(tree: ast.Module) -> Iterator[ast.Constant]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node


@pytest.mark.parametrize("name", sorted(MODULES))
def test_environment_names_live_in_the_config_module(name: str) -> None:
    """Every ``ADAPTER_*`` (and Lambda's ``AWS_LAMBDA_*``) variable is named once, in
    ``adapter/world/_config.py``; everything else imports the constant."""
    if name == "adapter.world._config":
        return
    tree = ast.parse(MODULES[name].read_text())
    literals = [
        f"line {node.lineno}: {node.value!r}"
        for node in _string_constants(tree)
        if re.fullmatch(r"(ADAPTER|AWS_LAMBDA)_[A-Z_]+", node.value)
    ]
    assert not literals, f"{name} spells variable names itself: {literals}"
