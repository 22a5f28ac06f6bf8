"""A fault injector on botocore's API call layer.

While a :class:`FaultInjector` is entered, every AWS call made through any botocore
client goes through :meth:`FaultInjector._call` (``BaseClient._make_api_call`` is
patched). With a seeded RNG, at a configurable rate, a call fails with a throttling or
5xx ``ClientError`` (or the process "dies": :class:`ProcessDied`, which nothing catches):

* ``before``: the request never reaches the service (nothing happened);
* ``after``: the request took effect, then the caller sees an error (the ambiguous
  case: a transaction that was applied, a message that was sent).

The injection sits above botocore's own retry handler, so the runtime sees every
injected error (on AWS, botocore would absorb most throttles: this is harsher).

Besides errors it can perturb delivery: send a copy of a message (duplicate delivery),
add a random ``DelaySeconds`` (reordering), shuffle the batches the poller receives,
and make two workers meet at their first append to a log (a forced race).

LocalRuntime's poller emulates Lambda's event-source mapping, not code under test:
calls made directly from ``adapter/testing/`` (its ``ReceiveMessage`` /
``DeleteMessage``) and from a thread inside :meth:`FaultInjector.exempt` are never
failed.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import botocore
import botocore.client
from botocore.exceptions import ClientError

import adapter.testing

_ORIGINAL: Callable[..., Any] = botocore.client.BaseClient._make_api_call
_BOTOCORE_DIR = os.path.dirname(botocore.__file__)
_POLLER_DIR = os.path.dirname(os.path.abspath(adapter.testing.__file__)) + os.sep
_THIS_FILE = os.path.abspath(__file__)

THROTTLE_CODES = {
    "dynamodb": ("ProvisionedThroughputExceededException", "ThrottlingException"),
    "default": ("ThrottlingException",),
}
SERVER_CODES = (("InternalServerError", 500), ("ServiceUnavailable", 503))
READ_OPERATIONS = frozenset({"Query", "GetItem", "BatchGetItem", "GetObject"})
SEND_OPERATIONS = frozenset({"SendMessage", "SendMessageBatch"})
# The writes an append is made of: one event alone is a PutItem, more a transaction.
_APPENDS = frozenset({"TransactWriteItems", "PutItem"})


class ProcessDied(BaseException):
    """The invocation died right there (Lambda timeout, OOM kill): nothing catches it."""


@dataclass(frozen=True)
class FaultConfig:
    """What to inject.

    Attributes:
        seed: Seeds the injector's RNG.
        rate: Probability that an eligible call fails.
        phases: ``"before"`` and/or ``"after"`` the call takes effect.
        kinds: ``"throttle"``, ``"5xx"`` (a ``ClientError``) and/or ``"crash"`` (the
            process dies: :class:`ProcessDied`, a ``BaseException``).
        operations: Only these operations fail (``None``: every operation).
        max_faults: Stop injecting after this many faults.
        skip: Never fail the first ``skip`` eligible calls (aim at the n-th call).
        duplicate_rate: Probability that a sent message is sent once more.
        delay_rate: Probability that a sent message gets up to ``max_extra_delay``
            more seconds of ``DelaySeconds``.
        max_extra_delay: See ``delay_rate``.
        shuffle_receives: Shuffle the messages each poller ``ReceiveMessage`` returns.
    """

    seed: int = 0
    rate: float = 0.0
    phases: tuple[str, ...] = ("before", "after")
    kinds: tuple[str, ...] = ("throttle", "5xx")
    operations: frozenset[str] | None = None
    max_faults: int | None = None
    skip: int = 0
    duplicate_rate: float = 0.0
    delay_rate: float = 0.0
    max_extra_delay: int = 30
    shuffle_receives: bool = False

    def describe(self) -> str:
        ops = "all" if self.operations is None else "+".join(sorted(self.operations))
        parts = [
            f"seed={self.seed}",
            f"rate={self.rate}",
            "/".join(self.kinds),
            "/".join(self.phases),
            f"ops={ops}",
        ]
        if self.max_faults is not None:
            parts.append(f"max={self.max_faults}")
        if self.skip:
            parts.append(f"skip={self.skip}")
        if self.duplicate_rate:
            parts.append(f"dup={self.duplicate_rate}")
        if self.delay_rate:
            parts.append(f"delay={self.delay_rate}")
        if self.shuffle_receives:
            parts.append("shuffle")
        return " ".join(parts)


@dataclass
class FaultStats:
    """What the injector did."""

    calls: Counter[str] = field(default_factory=Counter)
    faults: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # code, op, phase
    duplicates: Counter[str] = field(default_factory=Counter)
    delays: Counter[str] = field(default_factory=Counter)
    shuffles: int = 0
    rendezvous: int = 0
    cold_starts: int = 0

    @property
    def total_faults(self) -> int:
        return sum(self.faults.values())

    def summary(self) -> dict[str, Any]:
        by_code: Counter[str] = Counter()
        by_op: Counter[str] = Counter()
        by_phase: Counter[str] = Counter()
        for (code, op, phase), n in self.faults.items():
            by_code[code] += n
            by_op[op] += n
            by_phase[phase] += n
        return {
            "calls": dict(sorted(self.calls.items())),
            "faults": self.total_faults,
            "faults_by_kind": dict(sorted(by_code.items())),
            "faults_by_operation": dict(sorted(by_op.items())),
            "faults_by_phase": dict(sorted(by_phase.items())),
            "duplicates": sum(self.duplicates.values()),
            "delayed": sum(self.delays.values()),
            "shuffled_batches": self.shuffles,
            "forced_races": self.rendezvous,
            "cold_starts": self.cold_starts,
        }


class FaultInjector:
    """Patch botocore so AWS calls fail, duplicate, delay or race as configured.

    Example::

        with FaultInjector(FaultConfig(seed=1, rate=0.1)) as faults:
            ...  # every AWS call may now fail
            with faults.paused():
                ...  # checks without faults
        print(faults.stats.summary())
    """

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self.stats = FaultStats()
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._patches: list[Any] = []
        self._eligible = 0
        self.enabled = True
        self.observer: Callable[[str, str], None] | None = None
        """Called with ``("before" | "after", operation)`` around each call under test
        (on the calling thread): lets a test choreograph two workers."""

    # --- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> FaultInjector:
        injector = self

        def _make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            return injector._call(client, operation_name, api_params)

        receive = adapter.testing.LocalRuntime._receive

        def _receive(rt: Any, queue: Any) -> list[dict[str, Any]]:
            # The poller reads moto's queues in-process, as the event-source mapping
            # reads SQS on AWS: its batches are shuffled here, not at a client call.
            return injector._shuffled(receive(rt, queue))

        self._patches = [
            mock.patch.object(botocore.client.BaseClient, "_make_api_call", _make_api_call),
            mock.patch.object(adapter.testing.LocalRuntime, "_receive", _receive),
        ]
        for patch in self._patches:
            patch.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for patch in reversed(self._patches):
            patch.stop()
        self._patches = []

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No injection at all (for setup and assertions)."""
        previous, self.enabled = self.enabled, False
        try:
            yield
        finally:
            self.enabled = previous

    @contextlib.contextmanager
    def exempt(self) -> Iterator[None]:
        """No injection for calls made by this thread (a poller of our own)."""
        previous = getattr(self._local, "exempt", False)
        self._local.exempt = True
        try:
            yield
        finally:
            self._local.exempt = previous

    def rendezvous_at_first_write(self, barrier: threading.Barrier) -> None:
        """This thread waits at ``barrier`` before its next append (a write to the log)."""
        self._local.barrier = barrier

    # --- the patched call ---------------------------------------------------------------

    def _call(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        if not self.enabled:
            return _ORIGINAL(client, operation, params)
        if getattr(self._local, "exempt", False) or _called_by_poller():
            return self._poller_call(client, operation, params)
        service = client.meta.service_model.service_name
        with self._lock:
            self.stats.calls[operation] += 1
        self._meet(operation)
        if self.observer is not None:
            self.observer("before", operation)
        fault = self._decide(service, operation)
        if operation in SEND_OPERATIONS:
            params = self._maybe_delay(operation, params)
        if fault is not None and fault[2] == "before":
            raise fault[0]
        try:
            result = _ORIGINAL(client, operation, params)
        finally:
            if self.observer is not None:
                self.observer("after", operation)
        if operation in SEND_OPERATIONS:
            self._maybe_duplicate(client, operation, params)
        if fault is not None:
            raise fault[0]
        return result

    def _poller_call(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        result = _ORIGINAL(client, operation, params)
        if operation == "ReceiveMessage":
            result["Messages"] = self._shuffled(result.get("Messages") or [])
        return result

    def _shuffled(self, messages: list[Any]) -> list[Any]:
        if self.config.shuffle_receives and len(messages) > 1:
            with self._lock:
                self._rng.shuffle(messages)
                self.stats.shuffles += 1
        return messages

    def _meet(self, operation: str) -> None:
        barrier: threading.Barrier | None = getattr(self._local, "barrier", None)
        if barrier is None or operation not in _APPENDS:
            return
        self._local.barrier = None
        try:
            barrier.wait(timeout=1.0)
            with self._lock:
                self.stats.rendezvous += 1
        except threading.BrokenBarrierError:
            pass  # the other worker had nothing to write: no race this time

    def _decide(self, service: str, operation: str) -> tuple[BaseException, str, str] | None:
        config = self.config
        if config.rate <= 0:
            return None
        if config.operations is not None and operation not in config.operations:
            return None
        with self._lock:
            self._eligible += 1
            if self._eligible <= config.skip:
                return None
            if config.max_faults is not None and self.stats.total_faults >= config.max_faults:
                return None
            if self._rng.random() >= config.rate:
                return None
            phase = self._rng.choice(config.phases)
            kind = self._rng.choice(config.kinds)
            if kind == "throttle":
                codes = THROTTLE_CODES.get(service, THROTTLE_CODES["default"])
                code, status = self._rng.choice(codes), 400
            elif kind == "crash":
                code, status = "ProcessDied", 0
            else:
                code, status = self._rng.choice(SERVER_CODES)
            self.stats.faults[(code, operation, phase)] += 1
        if kind == "crash":
            return ProcessDied(f"chaos: the process died {phase} {operation}"), code, phase
        error = ClientError(
            {
                "Error": {"Code": code, "Message": f"chaos: injected {code} {phase} the call"},
                "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "chaos"},
            },
            operation,
        )
        return error, code, phase

    def _maybe_delay(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        config = self.config
        if config.delay_rate <= 0:
            return params

        def extra() -> int:
            if self._rng.random() >= config.delay_rate:
                return 0
            self.stats.delays[operation] += 1
            return self._rng.randint(1, config.max_extra_delay)

        with self._lock:
            if operation == "SendMessage":
                delay = params.get("DelaySeconds", 0) + extra()
                return {**params, "DelaySeconds": min(delay, 900)}
            entries = [
                {**e, "DelaySeconds": min(e.get("DelaySeconds", 0) + extra(), 900)}
                for e in params["Entries"]
            ]
            return {**params, "Entries": entries}

    def _maybe_duplicate(self, client: Any, operation: str, params: dict[str, Any]) -> None:
        config = self.config
        if config.duplicate_rate <= 0:
            return
        with self._lock:
            if operation == "SendMessage":
                copies = [params] if self._rng.random() < config.duplicate_rate else []
            else:
                chosen = [
                    e for e in params["Entries"] if self._rng.random() < config.duplicate_rate
                ]
                copies = [{**params, "Entries": chosen}] if chosen else []
            for copy in copies:
                n = 1 if operation == "SendMessage" else len(copy["Entries"])
                self.stats.duplicates[operation] += n
        for copy in copies:
            _ORIGINAL(client, operation, copy)


def _called_by_poller() -> bool:
    """Is the code calling this AWS API LocalRuntime's poller itself?"""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_BOTOCORE_DIR) or filename == _THIS_FILE:
            frame = frame.f_back  # type: ignore[assignment]
            continue
        return os.path.abspath(filename).startswith(_POLLER_DIR)
    return False
