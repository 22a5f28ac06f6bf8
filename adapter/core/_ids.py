"""Identifiers: time-ordered, URL-safe, with enough randomness to be unguessable."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


def _base32(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, rest = divmod(number, 32)
        chars.append(_ALPHABET[rest])
    return "".join(reversed(chars))


def new_ulid(ms: int | None = None) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, 26 characters, sortable."""
    stamp = int(time.time() * 1000) if ms is None else ms
    return _base32(stamp, 10) + _base32(secrets.randbits(80), 16)


def new_run_id(ms: int | None = None) -> str:
    """A new run id, ``wrun_<ULID>``."""
    return f"wrun_{new_ulid(ms)}"
