"""moto as ``LocalRuntime`` and ``adapter dev`` run it: thread-safe, and (optionally)
as fast on a big table as on an empty one.

moto ships as it is; nothing here is needed for LocalRuntime to work. While a
``LocalRuntime`` or ``adapter dev`` runs (:func:`tuned`, counted: nested and concurrent
ones share one installation), two kinds of patches are applied, each on its own and
each undone on exit (every attribute gets back the very object it held):

* **Correctness** (always): DynamoDB requests are handled one at a time under
  :data:`MOTO_LOCK`. moto checks a transaction's conditions and then writes with no
  lock between, so two threads could both pass ``last_seq = :expected``, which
  DynamoDB never allows.
* **Speed** (unless ``ADAPTER_TUNE_MOTO=0``): changes of how moto finds its answers,
  never of what it answers (``tests/unit/test_moto_tuning.py`` compares them with
  stock moto): undo-log transactions instead of a whole-table deep copy, queries that
  look at their partition only, items sized once, expressions parsed once
  (:mod:`._dynamodb`); random strings drawn at once, sends that count no messages, a
  queue's retention read alone (:mod:`._sqs`); plain items taken as they are, answer
  keys found once, requests routed once and built from a template, names converted
  once (:mod:`._wire`); and LocalRuntime's own clients answered in process, past
  botocore's HTTP layer (:func:`answer_in_process`).

Each patch checks that the moto installed has what it replaces, with the signature it
expects; if not, it is skipped with one debug line (logger ``adapter.moto``) and moto
keeps its own way there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from . import _dynamodb, _sqs, _wire  # noqa: F401 (each registers its patches)
from ._in_process import answer_in_process
from ._registry import (
    ENV_TUNE,
    MOTO_LOCK,
    PATCHES,
    Patch,
    Swap,
    UnsupportedMotoError,
    active,
    install,
    original,
    prepared,
    skipped,
    tuning_enabled,
    uninstall,
)
from ._sqs import draw
from ._wire import is_plain_attribute, plain_parsed, request_builder

__all__ = [
    "ENV_TUNE",
    "MOTO_LOCK",
    "PATCHES",
    "Patch",
    "Swap",
    "UnsupportedMotoError",
    "active",
    "answer_in_process",
    "draw",
    "install",
    "is_plain_attribute",
    "message_body",
    "original",
    "plain_parsed",
    "prepared",
    "request_builder",
    "skipped",
    "tuned",
    "tuning_enabled",
    "uninstall",
]


@contextlib.contextmanager
def tuned() -> Iterator[None]:
    """moto patched as described above for the duration (nested and concurrent uses
    share one installation; the last one out restores moto)."""
    install()
    try:
        yield
    finally:
        uninstall()


def message_body(message: object) -> str:
    """A moto SQS message's body as it was sent: moto 5.0 and 5.1 keep it XML-escaped in
    ``body`` and as sent in ``original_body``, later versions as sent in ``body``."""
    sent = getattr(message, "original_body", None)
    body: str = getattr(message, "body") if sent is None else sent  # noqa: B009
    return body
