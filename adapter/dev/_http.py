"""The HTTP API (each request answered by the Lambda handler, as behind API Gateway)
and the run inspector's page, on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..core.errors import AdapterError
from ._apigw import api_gateway_event
from ._common import HOST, DevStackError, check_port_free

logger = logging.getLogger("adapter.dev")

UI_DIR = Path(__file__).resolve().parents[1] / "ui"
UI_PREFIX = "/ui"
UI_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
# The page only talks to the API it is told about (same origin, or ?api=): no inline
# code, no third-party anything.
UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' http: https:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def ui_response(method: str, target: str) -> tuple[int, dict[str, str], bytes] | None:
    """The answer to a request for the run inspector page (``/ui/`` and its assets), or
    ``None`` when ``target`` is not under ``/ui``.

    Assets are the files of the package's ``ui`` folder, served flat (no subfolders,
    no dotfiles), with their content type.
    """
    parts = urlsplit(target)
    path = unquote(parts.path)
    if path != UI_PREFIX and not path.startswith(UI_PREFIX + "/"):
        return None
    plain = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
    if method not in ("GET", "HEAD"):
        return 405, {**plain, "Allow": "GET, HEAD"}, b"method not allowed\n"
    if path == UI_PREFIX:  # relative asset URLs need the trailing slash
        location = UI_PREFIX + "/" + (f"?{parts.query}" if parts.query else "")
        return 308, {**plain, "Location": location}, b""
    name = path[len(UI_PREFIX) + 1 :] or "index.html"
    suffix = Path(name).suffix.lower()
    file = UI_DIR / name
    if (
        "/" in name
        or "\\" in name
        or name.startswith(".")
        or suffix not in UI_CONTENT_TYPES
        or not file.is_file()
    ):
        return 404, plain, f"no such file: {path}\n".encode()
    headers = {
        "Content-Type": UI_CONTENT_TYPES[suffix],
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if suffix == ".html":
        headers["Content-Security-Policy"] = UI_CSP
        headers["Referrer-Policy"] = "no-referrer"
    return 200, headers, file.read_bytes()


DOCS_PATH = "/docs"


def docs_response(method: str, target: str) -> tuple[int, dict[str, str], bytes] | None:
    """Swagger UI for the HTTP API's OpenAPI document at ``/docs``, or ``None`` for any
    other path. Its script and styles are powertools' bundled copies, inlined: nothing is
    fetched from elsewhere. Dev only: the stacks serve ``GET /openapi.json`` alone."""
    if unquote(urlsplit(target).path) != DOCS_PATH:
        return None
    plain = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
    if method not in ("GET", "HEAD"):
        return 405, {**plain, "Allow": "GET, HEAD"}, b"method not allowed\n"
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    from ..aws import openapi_document

    assets = Path(swagger_ui.__file__).parent
    spec = json.dumps({**openapi_document(), "servers": [{"url": "/"}]}).replace("</", "<\\/")
    page = swagger_ui.generate_swagger_html(
        spec,
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        "",
        None,
    )
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return 200, headers, page.encode("utf-8")


def default_api_handler(event: dict[str, Any]) -> dict[str, Any]:
    """What the Lambda function does with an API Gateway event."""
    from ..aws import handler

    return handler(event, None)


READ_TIMEOUT_SECONDS = 3.0
"""How long the server waits for a request's next bytes: a body shorter than its
``Content-Length`` is answered 400 after that, instead of holding a thread forever."""
MAX_BODY_BYTES = 10 * 1024 * 1024
"""API Gateway's payload limit."""
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BadRequestError(AdapterError):
    """A request refused before it reaches the handler: ``(status, code, message)``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def error_body(code: str, message: str) -> bytes:
    """The pinned error shape, ``{"error": {"code", "message"}}``."""
    return json.dumps({"error": {"code": code, "message": message}}).encode("utf-8")


def is_json(content_type: str | None) -> bool:
    """Is this ``Content-Type`` JSON (``application/json``, any parameters)?"""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json"


class _ApiRequestHandler(BaseHTTPRequestHandler):
    server_version = "adapter-dev"
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_SECONDS  # socket reads: see READ_TIMEOUT_SECONDS
    api: Callable[[dict[str, Any]], dict[str, Any]] = staticmethod(default_api_handler)
    on_request: Callable[[str, str, int, float], None] | None = None
    after_write: Callable[[], None] | None = None

    def _read_body(self) -> bytes:
        """The request's body, as its ``Content-Length`` says.

        Raises:
            BadRequestError: a length that is not a number, negative, too large, or more than
                the client sent; a write whose body is not declared JSON.
        """
        raw = self.headers.get("Content-Length")
        if self.command in WRITE_METHODS and not is_json(self.headers.get("Content-Type")):
            # Any web page may send a "simple" cross-site POST (text/plain, a form):
            # only JSON is accepted, which a browser never sends cross-site unasked.
            raise BadRequestError(
                415,
                "unsupported_media_type",
                f"{self.command} needs Content-Type: application/json "
                f"(got {self.headers.get('Content-Type') or 'none'})",
            )
        if raw is None or raw.strip() == "":
            return b""
        if not raw.strip().isdigit():
            raise BadRequestError(
                400, "invalid_content_length", f"Content-Length must be a byte count, not {raw!r}"
            )
        length = int(raw)
        if length > MAX_BODY_BYTES:
            raise BadRequestError(
                413, "body_too_large", f"the body is over {MAX_BODY_BYTES} bytes ({length})"
            )
        try:
            body = self.rfile.read(length) if length else b""
        except TimeoutError:
            body = b""
        if len(body) < length:
            raise BadRequestError(
                400,
                "incomplete_body",
                f"the body is shorter than its Content-Length ({len(body)} of {length} bytes)",
            )
        return body

    def _serve(self) -> None:
        began = time.perf_counter()
        # The pages first: a write to one is a 405, whatever its body (left unread).
        page = ui_response(self.command, self.path) or docs_response(self.command, self.path)
        if page is not None:
            if self.command not in ("GET", "HEAD"):
                self.close_connection = True  # its body, if any, was not read
            self._send(*page)
            self._report(page[0], began)
            return
        try:
            body = self._read_body()
        except BadRequestError as exc:
            self.close_connection = True  # where the next request starts is unknown
            headers = {"Content-Type": "application/json", "Connection": "close"}
            self._send(exc.status, headers, error_body(exc.code, str(exc)))
            self._report(exc.status, began)
            return
        event = api_gateway_event(
            self.command,
            self.path,
            self.headers.items(),
            body,
            source_ip=self.client_address[0],
            host=self.headers.get("Host") or HOST,
        )
        try:
            response = type(self).api(event)
        except Exception:  # never a stack trace to the client, as behind API Gateway
            logger.exception("the handler raised on %s %s", self.command, self.path)
            response = {
                "statusCode": 500,
                "headers": {"Content-Type": "application/json"},
                "body": error_body("internal_error", "internal error; see logs").decode(),
            }
        status = int(response.get("statusCode", 200))
        if self.command in WRITE_METHODS and status < 300 and type(self).after_write is not None:
            # What was accepted is on disk before the client hears so (see _state).
            try:
                type(self).after_write()  # type: ignore[misc]
            except Exception:
                logger.exception("saving the state after %s %s failed", self.command, self.path)
                status, response = (
                    503,
                    {
                        "headers": {"Content-Type": "application/json"},
                        "body": error_body(
                            "state_not_saved",
                            "the request was done but could not be saved; see logs",
                        ).decode(),
                    },
                )
        payload = response.get("body") or ""
        data = (
            base64.b64decode(payload)
            if response.get("isBase64Encoded")
            else str(payload).encode("utf-8")
        )
        headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers.setdefault(name, ",".join(values))
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, str(value))
        for cookie in response.get("cookies") or []:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._report(status, began)

    def _report(self, status: int, began: float) -> None:
        if type(self).on_request is not None:
            type(self).on_request(self.command, self.path, status, time.perf_counter() - began)  # type: ignore[misc]

    def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        # Requests are reported through on_request, one compact line each.
        pass


class ApiServer:
    """The HTTP API on 127.0.0.1 (``ThreadingHTTPServer``), bound at construction so the
    port (and so the API URL, for webhooks) is known before the runtime is built.

    Args:
        port: Where to listen on 127.0.0.1 (0: any free port).
        api: Answers an API Gateway event (the Lambda handler).
        on_request: Told ``(method, path, status, seconds)`` of every request.
        after_write: Called after a write (``POST``...) succeeded, before it is
            answered: the state store makes what was accepted durable there.
    """

    def __init__(
        self,
        port: int,
        *,
        api: Callable[[dict[str, Any]], dict[str, Any]] = default_api_handler,
        on_request: Callable[[str, str, int, float], None] | None = None,
        after_write: Callable[[], None] | None = None,
    ) -> None:
        check_port_free(port, "--port")
        handler = type(
            "ApiRequestHandler",
            (_ApiRequestHandler,),
            {
                "api": staticmethod(api),
                "on_request": staticmethod(on_request) if on_request else None,
                "after_write": staticmethod(after_write) if after_write else None,
            },
        )
        try:
            self._server = ThreadingHTTPServer((HOST, port), handler)
        except OSError as exc:
            raise DevStackError(f"cannot listen on {HOST}:{port}: {exc.strerror}") from None
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        """Serve on a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="http-api"
        )
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()
