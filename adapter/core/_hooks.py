"""Hooks: points where a workflow waits for payloads sent from outside.

``create_hook()`` in workflow code returns a :class:`Hook`; ``await hook`` gives the
next payload and ``async for payload in hook`` each one, in the order the log received
them. ``resume_hook(token, payload)`` (anywhere else) records a payload.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from .errors import InvalidHookTokenError

T = TypeVar("T")

MAX_HOOK_TOKEN_BYTES = 1024
"""The longest token (UTF-8 bytes) a hook may have: a token is part of a storage key
(DynamoDB allows 2,048 bytes for a partition key, with its prefix)."""


def check_token(token: object) -> str:
    """``token`` if it can name a hook.

    Raises:
        InvalidHookTokenError: not a non-empty string of valid Unicode of at most
            :data:`MAX_HOOK_TOKEN_BYTES` bytes.
    """
    if not isinstance(token, str) or not token:
        raise InvalidHookTokenError(f"a hook token must be a non-empty string, got {token!r}")
    try:
        size = len(token.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidHookTokenError(
            "a hook token must be valid Unicode (it holds a lone surrogate)"
        ) from None
    if size > MAX_HOOK_TOKEN_BYTES:
        raise InvalidHookTokenError(
            f"a hook token is at most {MAX_HOOK_TOKEN_BYTES} bytes, this one is {size}"
        )
    return token


class Hook(Generic[T]):
    """A hook created by workflow code.

    Attributes:
        token: The secret that ``resume_hook`` (or ``POST /hooks/{token}``) names.
        correlation_id: Its id in the run's event log.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, correlation_id: str, token: str) -> None:
        self.token = token
        self.correlation_id = correlation_id
        self._loop = loop
        self._payloads: deque[Any] = deque()
        self._pending: asyncio.Future[T] | None = None
        self._error: BaseException | None = None

    def next(self) -> asyncio.Future[T]:
        """A future for the next payload (use it in ``asyncio.wait`` races).

        Until that payload arrives, every call returns the same future: a race the
        hook lost (``asyncio.wait([sleep("1h"), hook.next()])``) does not swallow the
        payload that arrives later; the next ``await hook`` gets it.
        """
        if self._pending is not None and not self._pending.done():
            return self._pending
        future: asyncio.Future[T] = self._loop.create_future()
        if self._error is not None:
            future.set_exception(self._error)
        elif self._payloads:
            future.set_result(self._payloads.popleft())
        else:
            self._pending = future
        return future

    def __await__(self) -> Any:
        return self.next().__await__()

    def __aiter__(self) -> Hook[T]:
        return self

    async def __anext__(self) -> T:
        return await self.next()

    # --- what the engine calls -----------------------------------------------------------

    def _deliver(self, payload: Any) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            pending.set_result(payload)
        else:
            self._payloads.append(payload)

    def _fail(self, error: BaseException) -> None:
        self._error = error
        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            pending.set_exception(error)

    def __repr__(self) -> str:
        return f"Hook(correlation_id={self.correlation_id!r})"


class Webhook(Hook[T]):
    """A hook resumed by an HTTP ``POST`` to ``url``.

    With a generated token, ``url`` is ``{api}/webhooks/{token}``: the public route,
    where the unguessable token is the secret. A chosen token is never resumable from
    there (it may be guessable): ``url`` is then ``{api}/hooks/{token}``, the
    IAM-authenticated route.

    Attributes:
        url: Where to ``POST`` JSON to resume the hook (the token percent-encoded).
        public: Whether ``url`` is the public ``/webhooks/`` route.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        correlation_id: str,
        token: str,
        base_url: str,
        *,
        public: bool = True,
    ) -> None:
        super().__init__(loop, correlation_id, token)
        self.public = public
        route = "webhooks" if public else "hooks"
        self.url = f"{base_url.rstrip('/')}/{route}/{quote(token, safe='')}"
