"""SQS and moto's random strings: sends that count no messages, a queue's retention
read alone, random strings drawn at once."""

from __future__ import annotations

import functools
import string
import threading
from collections.abc import Iterator
from typing import Any

from ._registry import Swap, UnsupportedMotoError, expect, patch


@patch("strings_drawn_at_once")
def strings_drawn_at_once() -> Iterator[Swap]:
    """moto draws request ids (52 characters) and receipt handles (185) one
    ``random.choice`` at a time. Here they are drawn as one string of random bytes from
    moto's own random source, each byte mapped to a character of the same alphabet (a
    seeded moto draws other strings than it would, still the same ones every time)."""
    import moto.sqs.models as sqs_models
    from moto.moto_api._internal import mock_random
    from moto.moto_api._internal.moto_random import MotoRandom

    expect(MotoRandom.get_random_string, "self", "length", "include_digits", "lower_case")
    expect(MotoRandom.get_random_hex, "self", "length")
    expect(sqs_models.generate_receipt_handle)  # type: ignore[attr-defined]
    if not hasattr(mock_random, "randbytes"):
        raise UnsupportedMotoError("moto's random source draws no bytes")

    def get_random_string(
        self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False
    ) -> str:
        pool = string.ascii_letters + (string.digits if include_digits else "")
        drawn = draw(self, pool, length)
        return drawn.lower() if lower_case else drawn

    def get_random_hex(self: Any, length: int = 8) -> str:
        return draw(self, "0123456789abcdef", length)

    def generate_receipt_handle() -> str:
        return draw(mock_random, string.ascii_lowercase, 185)

    yield Swap(MotoRandom, "get_random_string", get_random_string)
    yield Swap(MotoRandom, "get_random_hex", get_random_hex)
    yield Swap(sqs_models, "generate_receipt_handle", generate_receipt_handle)


@functools.cache
def _byte_map(alphabet: str) -> bytes:
    # Byte b stands for the character at b * len / 256: each character for 256 // len
    # or one more of the 256 bytes (an alphabet of 62 favours some by 5 to 4).
    return bytes(ord(alphabet[b * len(alphabet) >> 8]) for b in range(256))


def draw(source: Any, alphabet: str, length: int) -> str:
    """``length`` characters of ``alphabet`` (ASCII, at most 256), from ``source``'s
    random bytes: drawn at once, where ``choices`` draws a float per character."""
    drawn: str = source.randbytes(length).translate(_byte_map(alphabet)).decode("ascii")
    return drawn


class _CountProperty(property):
    """A queue count that is not counted during a send (see :func:`sends_uncounted`)."""


@patch("sends_uncounted")
def sends_uncounted() -> Iterator[Swap]:
    """moto reads one attribute of the queue on each send (content-based
    deduplication) through the property that builds them all, counting the messages
    queued, delayed and in flight by walking the queue: a fan-out of n sends costs n^2.
    During a send those three counts are not made (nothing there reads them)."""
    from moto.sqs.models import Queue, SQSBackend

    names = (
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    )
    counts = {name: vars(Queue).get(name) for name in names}
    if not all(isinstance(count, property) for count in counts.values()):
        raise UnsupportedMotoError("Queue's message counts are not properties")
    send = SQSBackend.send_message
    expect(send, "self", "queue_name", "message_body")
    sending = threading.local()

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        before = getattr(sending, "on", False)
        sending.on = True
        try:
            return send(self, *args, **kwargs)
        finally:
            sending.on = before

    def skipped(count: property) -> property:
        def fget(self: Any) -> int:
            # During a send only ContentBasedDeduplication is read of the attributes;
            # a queue that feeds moto's own Lambda mapping is received from in the send.
            if getattr(sending, "on", False) and not self.lambda_event_source_mappings:
                return 0
            counted: int = count.fget(self)  # type: ignore[misc]
            return counted

        return _CountProperty(fget)

    yield Swap(SQSBackend, "send_message", send_message)
    for name, count in counts.items():
        assert isinstance(count, property)
        yield Swap(Queue, name, skipped(count))


@patch("retention_read_alone")
def retention_read_alone() -> Iterator[Swap]:
    """moto checks each message it receives against the queue's retention period by
    building every attribute of the queue, message counts included (a walk of the queue
    per message received); the period alone is read here."""
    from moto.sqs import models

    check = models.SQSBackend.is_message_valid_based_on_retention_period
    expect(check, "self", "queue_name", "message")
    if not callable(getattr(models, "unix_time", None)):
        raise UnsupportedMotoError("moto.sqs.models reads no unix_time")

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Any
    ) -> bool:
        queue = self.get_queue(queue_name)
        retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
        # Read from moto's module at each call, where LocalRuntime patches its clock.
        now = models.unix_time()  # type: ignore[attr-defined]
        return bool(retain_until > now)

    yield Swap(
        models.SQSBackend,
        "is_message_valid_based_on_retention_period",
        is_message_valid_based_on_retention_period,
    )
