"""Names, defaults and the error of the dev stack."""

from __future__ import annotations

import socket

from ..core.errors import AdapterError

DEFAULT_MODULES = (
    "samples.onboarding",
    "samples.orders",
    "samples.fanout",
    "samples.approval",
    "samples.payments",
)
DEFAULT_PORT = 8000
DEFAULT_MOTO_PORT = 5001
DEFAULT_PREFIX = "adapter-dev"
DEV_FILE_NAME = ".adapter-dev.json"
STATE_FILE_NAME = "moto-state.json"
HOST = "127.0.0.1"
REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
SQS_MAX_DELAY = 900
# Lambda's default concurrency quota is 1000; a laptop needs far less, but enough that
# steps polling child runs (the fan-out pattern) never starve the children.
MAX_CONCURRENT_INVOCATIONS = 64
POLL_WAIT_SECONDS = 1
DEV_FUNCTION_TIMEOUT = 60
"""The dev stack's "function timeout": a step attempt's lease ends this long after it
started (plus a margin), so a step whose process died (``kill -9``) is run again
about a minute later (``--function-timeout`` changes it)."""
DEV_VISIBILITY_TIMEOUT = 5
"""The dev queues' visibility timeout: a failed delivery comes back in seconds, so a
broken run reaches its redrive limit (and is failed or marked stuck) in about a
minute instead of an hour. A redelivery of a step still running is postponed to the
end of its lease, so a slow step is never run twice at once."""
SHUTDOWN_GRACE_SECONDS = 10.0


class DevStackError(AdapterError):
    """A problem starting the dev stack, worded for the person who ran it."""


def check_port_free(port: int, what: str) -> None:
    """Fail early, with the option to change, when ``port`` is taken on 127.0.0.1.

    Raises:
        DevStackError: when something already listens there.
    """
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise DevStackError(
                f"port {port} on {HOST} is already in use ({exc.strerror}); pass another "
                f"{what} (0 picks a free one)"
            ) from None
