"""The patch registry: each change to moto found, applied and undone on its own.

A patch is a function that looks up what it changes in moto (or botocore) and returns
the swaps to make: an owner (a class or a module), an attribute name and the
replacement. It raises :class:`UnsupportedMotoError` (or fails to import or find an attribute)
when the moto installed is not the one it was written for: the patch is then skipped
with one debug log line, and the others still apply. Patches are installed on the first
:func:`install` and undone on the matching last :func:`uninstall` (counted, so nested or
concurrent ``LocalRuntime``\\s share one installation): each attribute gets back the
very object it held.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import threading
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..world import ENV_TUNE_MOTO

logger = logging.getLogger("adapter.moto")

MOTO_LOCK = threading.RLock()
"""The one lock that makes moto safe to share between threads.

moto's backends assume one caller at a time: a DynamoDB transaction checks its
conditions and then writes with nothing in between, so two threads can both pass
``last_seq = :expected``. Everything in adapter that serializes moto takes this lock:
DynamoDB request handling while a ``LocalRuntime`` or ``adapter dev`` runs, the dev
stack's moto server (``SerializedApp``) and the chaos tests' thread-safe moto. It is
reentrant: a request serialized at the server is serialized again at its handler.
"""

ENV_TUNE = ENV_TUNE_MOTO  # the name this package has exported since the registry came
_OFF = ("0", "false", "no", "off")


class UnsupportedMotoError(Exception):
    """moto's internals differ from what a patch was written against."""


@dataclass(frozen=True)
class Swap:
    """Set ``owner.name`` to ``replacement`` (while installed)."""

    owner: Any
    name: str
    replacement: Any


@dataclass(frozen=True)
class Patch:
    """A named change to moto: ``prepare`` finds its targets and builds the swaps.

    ``speed`` patches change how fast moto answers, never what it answers; the others
    (``speed=False``) are correctness and apply even with tuning turned off.
    """

    name: str
    prepare: Callable[[], Iterable[Swap]]
    speed: bool = True


PATCHES: list[Patch] = []

_MISSING = object()


@dataclass
class _Applied:
    patch: str
    owner: Any
    name: str
    before: Any  # the owner's own attribute (``_MISSING``: it was inherited)
    original: Any  # what the attribute resolved to (restored in copies made meanwhile)
    replacement: Any


_state = threading.Lock()
_depth = 0
_applied: list[_Applied] = []
_skipped: dict[str, str] = {}


def patch(name: str, *, speed: bool = True) -> Callable[[Callable[[], Iterable[Swap]]], Any]:
    """Register ``prepare`` as the patch ``name`` (a decorator)."""

    def register(prepare: Callable[[], Iterable[Swap]]) -> Callable[[], Iterable[Swap]]:
        PATCHES.append(Patch(name, prepare, speed))
        return prepare

    return register


def tuning_enabled() -> bool:
    """Whether speed patches may apply: not when ``ADAPTER_TUNE_MOTO`` is ``0``."""
    return os.environ.get(ENV_TUNE, "1").strip().lower() not in _OFF


def expect(function: Any, *params: str) -> None:
    """Raise :class:`UnsupportedMotoError` unless ``function``'s parameters start with ``params``
    (``self`` or ``cls`` excluded when bound): a replacement takes the same arguments."""
    try:
        names = list(inspect.signature(function).parameters)
    except (TypeError, ValueError) as exc:
        raise UnsupportedMotoError(f"no signature for {function!r}") from exc
    if names[: len(params)] != list(params):
        raise UnsupportedMotoError(f"{getattr(function, '__qualname__', function)}{tuple(names)}")


def prepared(patches: Iterable[Patch] | None = None) -> list[tuple[Patch, list[Swap]]]:
    """Each patch that can apply to the moto installed, with its swaps (none applied).

    A patch that cannot is logged (debug, one line) and left out.
    """
    found = []
    for each in PATCHES if patches is None else patches:
        try:
            swaps = list(each.prepare())
        except (ImportError, AttributeError, TypeError, UnsupportedMotoError) as exc:
            _skipped[each.name] = f"{type(exc).__name__}: {exc}"
            logger.debug("moto patch %s skipped: %s", each.name, _skipped[each.name])
            continue
        found.append((each, swaps))
    return found


def install() -> None:
    """Apply the patches (the first call) or count one more user (the calls after)."""
    global _depth
    with _state:
        _depth += 1
        if _depth > 1:
            return
        tuned = tuning_enabled()
        if not tuned:
            logger.debug("moto tuning off (%s=0): correctness patches only", ENV_TUNE)
        with MOTO_LOCK:  # no request runs half on stock, half on patched moto
            for each, swaps in prepared(p for p in PATCHES if tuned or not p.speed):
                for swap in swaps:
                    owner, name = swap.owner, swap.name
                    before = vars(owner).get(name, _MISSING)
                    original = getattr(owner, name)
                    setattr(owner, name, swap.replacement)
                    _applied.append(
                        _Applied(each.name, owner, name, before, original, swap.replacement)
                    )


def uninstall() -> None:
    """Count one user less; the last one restores every attribute patched."""
    global _depth
    with _state:
        if _depth == 0:
            return
        _depth -= 1
        if _depth:
            return
        with MOTO_LOCK:
            for done in reversed(_applied):
                _restore(done)
            _applied.clear()


def _restore(done: _Applied) -> None:
    owner, name = done.owner, done.name
    if vars(owner).get(name, _MISSING) is not done.replacement:
        # Someone replaced ours meanwhile and will put back what they found: leave theirs.
        logger.debug("moto patch %s: %s.%s was replaced since, left", done.patch, owner, name)
    elif done.before is _MISSING:
        delattr(owner, name)
    else:
        setattr(owner, name, done.before)
    if isinstance(owner, types.ModuleType):
        # A moto module imported while the patch was on copied the replacement by name.
        for module in list(sys.modules.values()):
            if (
                getattr(module, "__name__", "").startswith("moto.")
                and vars(module).get(name, _MISSING) is done.replacement
            ):
                setattr(module, name, done.original)


def active() -> list[str]:
    """The names of the patches applied now, in the order applied."""
    with _state:
        return list(dict.fromkeys(done.patch for done in _applied))


def skipped() -> dict[str, str]:
    """Patches that could not apply to this moto (name: why), as last found."""
    return dict(_skipped)


def original(owner: Any, name: str) -> Any:
    """What ``owner.name`` was before the installed patch replaced it (for comparisons)."""
    with _state:
        for done in _applied:
            if done.owner is owner and done.name == name:
                return done.original
    return getattr(owner, name)
