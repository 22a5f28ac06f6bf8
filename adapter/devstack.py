"""``adapter dev``: the whole stack on one machine, no Docker and no AWS account.

One process runs:

* a moto server on 127.0.0.1 (``moto.server.ThreadedMotoServer``) holding the table,
  the queues and the bucket, created with :func:`adapter.world.aws.create_resources`;
* a worker: one long-polling thread per queue that hands each message, as a
  Lambda-shaped SQS event, to :func:`adapter.aws.process_sqs_event` on its own thread
  (as if each message were its own invocation) and deletes the messages the batch
  response does not report as failed;
* the HTTP API on ``http://127.0.0.1:PORT``: each request is translated into an API
  Gateway HTTP API (v2) event and answered by :func:`adapter.aws.handler`, so ``curl``
  sees what it would see in front of API Gateway.

Nothing here is a second implementation of the runtime: the code paths are the ones
Lambda runs, only the transport (polling instead of an event-source mapping, a local
HTTP server instead of API Gateway) is local.

**State across restarts** (``--state-dir``). moto 5 has no snapshot or persistence API:
its ``/moto-api/`` endpoints offer ``reset``, seeding and a *request recorder* whose
replay would re-run every receive and delete with stale receipt handles and wall-clock
delays. So :class:`StateStore` snapshots the data itself into ``moto-state.json``: the
table's items, every message of the four queues with the moment it becomes receivable,
and the bucket's objects. The queues are read before the table, so a snapshot taken
while work is running is never *behind* the log: it looks exactly like a crash of the
process at that instant, which the runtime recovers from (duplicate messages are
harmless, every handler is idempotent). Messages that were being processed are restored
as visible at once, because their "invocation" died with the process.
"""

from __future__ import annotations

import base64
import errno
import importlib
import json
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ._moto import MOTO_LOCK, install, message_body, uninstall

logger = logging.getLogger("adapter.dev")

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
SNAPSHOT_EVERY_SECONDS = 10.0
SHUTDOWN_GRACE_SECONDS = 10.0


class DevStackError(Exception):
    """A problem starting the dev stack, worded for the person who ran it."""


# --- configuration ---------------------------------------------------------------------


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
    from .core import default_registry

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


# --- moto ------------------------------------------------------------------------------


class SerializedApp:
    """WSGI middleware running one moto request at a time, except SQS long polls.

    moto's server handles requests on threads, but its backends are not thread-safe:
    ``TransactWriteItems`` deep-copies a table while another thread writes to it (a 500,
    or worse, two transactions interleaving past each other's conditions). The runtime
    relies on those conditional writes, so requests are serialized. SQS ``ReceiveMessage``
    is left out: a long poll waits on the queue's own lock and would block everyone else.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self._app = app
        self._lock = MOTO_LOCK  # the one lock every moto user in adapter serializes on

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET") == "AmazonSQS.ReceiveMessage":
            return self._app(environ, start_response)
        with self._lock:
            # Materialize the body under the lock: moto builds it eagerly anyway.
            return list(self._app(environ, start_response))


def _moto_server_class() -> type:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class SerializedMotoServer(ThreadedMotoServer):
        """``ThreadedMotoServer`` with :class:`SerializedApp` in front of moto, and a bind
        error reported to :meth:`start` instead of hanging it."""

        bind_error: OSError | None = None

        def _server_entry(self) -> None:
            app = SerializedApp(DomainDispatcherApplication(create_backend_app))
            try:
                self._server = make_server(
                    self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
                )
            except (OSError, SystemExit) as exc:
                # werkzeug turns a bind error into sys.exit(1) after printing it.
                self.bind_error = (
                    exc if isinstance(exc, OSError) else OSError(errno.EADDRINUSE, "in use")
                )
                self._server_ready_event.set()
                return
            self._server_ready_event.set()
            self._server.serve_forever()

    return SerializedMotoServer


class MotoServer:
    """moto's threaded server on 127.0.0.1: quiet, serialized, with a bounded start."""

    def __init__(self, port: int) -> None:
        self.requested_port = port
        self.port = port
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        """Start serving.

        Raises:
            DevStackError: when the port is taken.
        """
        check_port_free(self.requested_port, "--moto-port")
        # werkzeug logs every request at INFO: thousands of lines for nothing.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = _moto_server_class()(ip_address=HOST, port=self.requested_port, verbose=False)
        server.start()
        if server.bind_error is not None:
            raise DevStackError(
                f"the moto server cannot listen on {HOST}:{self.requested_port}: "
                f"{server.bind_error.strerror}; pass another --moto-port (0 picks a free one)"
            )
        install()  # thread-safe (and unless ADAPTER_TUNE_MOTO=0, faster) until stop()
        self._server = server
        self.port = int(server.get_host_and_port()[1])

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._server is not None:
            server, self._server = self._server, None
            server.stop()
            uninstall()


def stack_environment(endpoint_url: str) -> dict[str, str]:
    """The AWS variables that point boto3 at the moto server: endpoint, fake credentials,
    region."""
    return {"AWS_ENDPOINT_URL": endpoint_url, **FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": REGION}


def apply_environment(env: dict[str, str]) -> None:
    """Make ``env`` this process's AWS configuration, dropping whatever could redirect it.

    A profile, per-service endpoints or a Lambda function name inherited from the shell
    would send some calls to real AWS or make the runtime a pure client of a function
    that does not exist here.
    """
    import boto3

    for key in list(os.environ):
        if key.startswith("AWS_ENDPOINT_URL_") or key in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_REGION",
            "ADAPTER_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_VERSION",
        ):
            del os.environ[key]
    os.environ.update(env)
    boto3.setup_default_session()  # forget credentials a previous session resolved


def ensure_resources(prefix: str) -> tuple[dict[str, str], bool]:
    """The ``ADAPTER_*`` variables of the stack's resources, creating them unless the
    table already exists (a moto server that kept its state, say).

    Returns the variables and whether the resources were created now.
    """
    import boto3

    from .world.aws import create_resources

    ddb = boto3.client("dynamodb")
    table = f"{prefix}-runs"
    try:
        ddb.describe_table(TableName=table)
    except ddb.exceptions.ResourceNotFoundException:
        return create_resources(prefix), True
    sqs = boto3.client("sqs")
    account = boto3.client("sts").get_caller_identity()["Account"]
    return {
        "ADAPTER_TABLE_NAME": table,
        "ADAPTER_WORKFLOW_QUEUE_URL": sqs.get_queue_url(QueueName=f"{prefix}-workflow")["QueueUrl"],
        "ADAPTER_STEP_QUEUE_URL": sqs.get_queue_url(QueueName=f"{prefix}-step")["QueueUrl"],
        "ADAPTER_BUCKET_NAME": f"{prefix}-payloads-{account}",
    }, False


def queue_arn(url: str) -> str:
    """The ARN of a queue from its URL (``…/<account>/<name>``)."""
    account, name = url.rstrip("/").rsplit("/", 2)[-2:]
    return f"arn:aws:sqs:{REGION}:{account}:{name}"


# --- the worker: SQS event-source mapping, locally --------------------------------------


SqsProcessor = Callable[[dict[str, Any]], dict[str, Any]]


def sqs_record(raw: dict[str, Any], arn: str) -> dict[str, Any]:
    """One received SQS message as a record of a Lambda SQS event."""
    from .aws import sqs_record as record

    return record(raw, arn, REGION)


def default_processor(event: dict[str, Any]) -> dict[str, Any]:
    """What the Lambda function does with an SQS event."""
    from .aws import process_sqs_event
    from .runtime import env_runtime

    return process_sqs_event(event, None, env_runtime())


class Worker:
    """Polls the queues and runs each message as its own "invocation", on its own thread.

    Like the Lambda event-source mapping with a batch size of one: a message is deleted
    when the handler does not report it in ``batchItemFailures``; a reported one, or one
    whose invocation crashed, comes back after its visibility timeout.
    """

    def __init__(
        self,
        queue_urls: Sequence[str],
        *,
        process: SqsProcessor = default_processor,
        max_concurrency: int = MAX_CONCURRENT_INVOCATIONS,
        wait_seconds: int = POLL_WAIT_SECONDS,
    ) -> None:
        import boto3

        self._queues = [(url, queue_arn(url)) for url in queue_urls]
        self._process = process
        self._max = max_concurrency
        self._wait = wait_seconds
        self._sqs = boto3.client("sqs")
        self._stop = threading.Event()
        self._slots = threading.Condition()
        self._in_flight: dict[str, threading.Thread] = {}
        self._redelivering: set[str] = set()
        self._pollers: list[threading.Thread] = []
        self.processed = 0
        """Invocations finished so far (a cheap "something changed" signal)."""

    def start(self) -> None:
        """Start one polling thread per queue (so a long poll on one never delays the other)."""
        for url, arn in self._queues:
            name = url.rsplit("/", 1)[-1]
            thread = threading.Thread(
                target=self._poll, args=(url, arn), name=f"poll-{name}", daemon=True
            )
            thread.start()
            self._pollers.append(thread)

    def in_flight(self) -> set[str]:
        """Ids of the messages being processed right now."""
        with self._slots:
            return set(self._in_flight)

    def redelivering(self) -> set[str]:
        """Ids of the messages whose last invocation failed (reported or crashed): SQS
        delivers them again after their visibility timeout."""
        with self._slots:
            return set(self._redelivering)

    def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> list[str]:
        """Stop polling, wait up to ``grace`` seconds for running invocations; return the ids
        of those abandoned (as after a crash, their messages are delivered again)."""
        self._stop.set()
        with self._slots:
            self._slots.notify_all()
        for thread in self._pollers:
            thread.join(self._wait + 5)
        deadline = time.monotonic() + grace
        with self._slots:
            while self._in_flight and time.monotonic() < deadline:
                self._slots.wait(max(0.0, min(0.2, deadline - time.monotonic())))
            return sorted(self._in_flight)

    def _poll(self, url: str, arn: str) -> None:
        while not self._stop.is_set():
            with self._slots:
                while len(self._in_flight) >= self._max and not self._stop.is_set():
                    self._slots.wait(0.5)
                free = self._max - len(self._in_flight)
            if self._stop.is_set():
                return
            try:
                answer = self._sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=max(1, min(10, free)),
                    WaitTimeSeconds=self._wait,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
            except Exception as exc:  # moto stopping, or a hiccup: keep polling until told
                if self._stop.is_set():
                    return
                logger.warning("receiving from %s failed: %s", url.rsplit("/", 1)[-1], exc)
                self._stop.wait(1.0)
                continue
            for raw in answer.get("Messages", []):
                self._dispatch(url, arn, dict(raw))

    def _dispatch(self, url: str, arn: str, raw: dict[str, Any]) -> None:
        thread = threading.Thread(
            target=self._invoke,
            args=(url, arn, raw),
            name=f"invoke-{raw['MessageId'][:8]}",
            daemon=True,  # an abandoned invocation must not keep the process alive
        )
        with self._slots:
            self._in_flight[raw["MessageId"]] = thread
        thread.start()

    def _invoke(self, url: str, arn: str, raw: dict[str, Any]) -> None:
        message_id = raw["MessageId"]
        failed = True
        began = time.perf_counter()
        try:
            try:
                response = self._process({"Records": [sqs_record(raw, arn)]})
                if logger.isEnabledFor(logging.INFO):
                    logger.info(
                        "%s in %.0fms", _describe(raw["Body"]), (time.perf_counter() - began) * 1000
                    )
            except BaseException as exc:  # the invocation crashed: SQS redelivers
                logger.warning(
                    "invocation for message %s crashed: %s: %s; it will be redelivered",
                    message_id,
                    type(exc).__name__,
                    exc,
                )
                return
            reported = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            if message_id in reported:
                logger.info("message %s reported as failed; SQS will redeliver it", message_id)
                return
            failed = False
            try:
                self._sqs.delete_message(QueueUrl=url, ReceiptHandle=raw["ReceiptHandle"])
            except Exception as exc:  # the message simply comes back: handlers are idempotent
                logger.warning("deleting message %s failed: %s", message_id, exc)
        finally:
            with self._slots:
                self._in_flight.pop(message_id, None)
                if failed:
                    self._redelivering.add(message_id)
                else:
                    self._redelivering.discard(message_id)
                self.processed += 1
                self._slots.notify_all()


def _describe(body: str) -> str:
    """``workflow turn of wrun_…`` or ``step step_2 of wrun_…``, for the verbose log."""
    try:
        message = json.loads(body)
        if message.get("kind") == "step":
            return f"step {message.get('correlation_id')} of {message.get('run_id')}"
        return f"{message.get('kind', 'message')} turn of {message.get('run_id')}"
    except (ValueError, AttributeError):
        return "a message that is not adapter's"


# --- the HTTP API: API Gateway HTTP API (v2), locally ----------------------------------


def api_gateway_event(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    *,
    source_ip: str = HOST,
    host: str = HOST,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event for one HTTP request.

    Args:
        method: The HTTP method.
        target: The request target (path and query string, as sent).
        headers: Header name/value pairs (repeated names are joined with commas, like
            API Gateway does).
        body: The raw body; sent as text when it is UTF-8, else base64-encoded.
        source_ip: The client address.
        host: The ``Host`` header value, used as the domain name.
    """
    parts = urlsplit(target)
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    query = {k: ",".join(v) for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
        "headers": merged,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": method.upper(),
                "path": unquote(parts.path or "/"),
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


UI_DIR = Path(__file__).resolve().parent / "ui"
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


def default_api_handler(event: dict[str, Any]) -> dict[str, Any]:
    """What the Lambda function does with an API Gateway event."""
    from .aws import handler

    return handler(event, None)


class _ApiRequestHandler(BaseHTTPRequestHandler):
    server_version = "adapter-dev"
    protocol_version = "HTTP/1.1"
    api: Callable[[dict[str, Any]], dict[str, Any]] = staticmethod(default_api_handler)
    on_request: Callable[[str, str, int, float], None] | None = None

    def _serve(self) -> None:
        began = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        page = ui_response(self.command, self.path)
        if page is not None:
            self._send(*page)
            if type(self).on_request is not None:
                type(self).on_request(self.command, self.path, page[0], time.perf_counter() - began)  # type: ignore[misc]
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
                "body": json.dumps(
                    {"error": {"code": "internal_error", "message": "internal error; see logs"}}
                ),
            }
        status = int(response.get("statusCode", 200))
        payload = response.get("body") or ""
        data = (
            base64.b64decode(payload)
            if response.get("isBase64Encoded")
            else str(payload).encode("utf-8")
        )
        self.send_response(status)
        headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers.setdefault(name, ",".join(values))
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, str(value))
        for cookie in response.get("cookies") or []:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
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
    port (and so the API URL, for webhooks) is known before the runtime is built."""

    def __init__(
        self,
        port: int,
        *,
        api: Callable[[dict[str, Any]], dict[str, Any]] = default_api_handler,
        on_request: Callable[[str, str, int, float], None] | None = None,
    ) -> None:
        check_port_free(port, "--port")
        handler = type(
            "ApiRequestHandler",
            (_ApiRequestHandler,),
            {
                "api": staticmethod(api),
                "on_request": staticmethod(on_request) if on_request else None,
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


# --- state across restarts ---------------------------------------------------------------


def _encode_attr(value: Any) -> Any:
    # DynamoDB binary values arrive as bytes; JSON needs a marker to bring them back.
    if isinstance(value, bytes):
        return {"__b64__": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {k: _encode_attr(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode_attr(v) for v in value]
    return value


def _decode_attr(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__b64__"}:
            return base64.b64decode(value["__b64__"])
        return {k: _decode_attr(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_attr(v) for v in value]
    return value


@dataclass
class RestoreSummary:
    """What a restore brought back."""

    items: int = 0
    runs: int = 0
    messages: int = 0
    objects: int = 0
    saved_at: str | None = None


@dataclass
class StateStore:
    """Snapshots the stack's data to ``<state_dir>/moto-state.json`` and restores it.

    Args:
        state_dir: Where the snapshot lives (created if missing).
        prefix: The resource name prefix (table ``<prefix>-runs``, queues
            ``<prefix>-workflow``, ``<prefix>-step`` and their DLQs).
    """

    state_dir: Path
    prefix: str = DEFAULT_PREFIX
    _queue_names: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self._queue_names = [
            f"{self.prefix}-{kind}{dlq}" for kind in ("workflow", "step") for dlq in ("", "-dlq")
        ]

    @property
    def path(self) -> Path:
        return self.state_dir / STATE_FILE_NAME

    def save(self, env: dict[str, str], redelivering: Iterable[str] = ()) -> dict[str, int]:
        """Write a snapshot; return how many items, messages and objects it holds.

        Args:
            env: The stack's ``ADAPTER_*`` variables.
            redelivering: Ids of messages whose invocation failed: they keep waiting out
                their visibility timeout. Any other received message was in flight, and
                its invocation dies with this process: it is restored visible at once.
        """
        import boto3

        # Queues first, then the table: see the module docstring for why this order
        # makes any snapshot equivalent to a crash at that instant.
        messages = self._read_queues(set(redelivering))
        ddb = boto3.client("dynamodb")
        items = [
            _encode_attr(item)
            for page in ddb.get_paginator("scan").paginate(
                TableName=env["ADAPTER_TABLE_NAME"], ConsistentRead=True
            )
            for item in page.get("Items", [])
        ]
        objects = self._read_bucket(env.get("ADAPTER_BUCKET_NAME"))
        snapshot = {
            "format": 1,
            "saved_at": datetime.now(UTC).isoformat(),
            "prefix": self.prefix,
            "table": items,
            "queues": messages,
            "bucket": objects,
        }
        self.state_dir.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".json.tmp")
        partial.write_text(json.dumps(snapshot), encoding="utf-8")
        os.replace(partial, self.path)  # never leave half a snapshot behind
        return {
            "items": len(items),
            "messages": sum(len(m) for m in messages.values()),
            "objects": len(objects),
        }

    def restore(self, env: dict[str, str]) -> RestoreSummary | None:
        """Load the snapshot into the (empty) resources; ``None`` when there is none.

        Raises:
            DevStackError: when the snapshot file cannot be read.
        """
        import boto3

        if not self.path.is_file():
            return None
        try:
            snapshot = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DevStackError(f"cannot read the saved state {self.path}: {exc}") from exc
        summary = RestoreSummary(saved_at=snapshot.get("saved_at"))
        ddb = boto3.client("dynamodb")
        items = [_decode_attr(item) for item in snapshot.get("table", [])]
        for start in range(0, len(items), 25):
            requests: dict[str, Any] = {
                env["ADAPTER_TABLE_NAME"]: [
                    {"PutRequest": {"Item": item}} for item in items[start : start + 25]
                ]
            }
            while requests:
                answer = ddb.batch_write_item(RequestItems=requests)
                requests = answer.get("UnprocessedItems") or {}
        summary.items = len(items)
        summary.runs = sum(1 for item in items if item.get("SK", {}).get("S") == "RUN")
        bucket = env.get("ADAPTER_BUCKET_NAME")
        if bucket:
            s3 = boto3.client("s3")
            for obj in snapshot.get("bucket", []):
                s3.put_object(
                    Bucket=bucket,
                    Key=obj["key"],
                    Body=base64.b64decode(obj["body"]),
                    ContentType=obj.get("content_type") or "application/octet-stream",
                )
                summary.objects += 1
        sqs = boto3.client("sqs")
        now_ms = time.time() * 1000
        for name, messages in snapshot.get("queues", {}).items():
            try:
                url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            except sqs.exceptions.QueueDoesNotExist:
                logger.warning("saved messages of unknown queue %s dropped", name)
                continue
            for message in messages:
                # SQS delays stop at 15 minutes; a later timer arrives early and the
                # runtime re-enqueues it until due, as it does on AWS.
                delay = math.ceil(max(0.0, message["due_ms"] - now_ms) / 1000)
                sqs.send_message(
                    QueueUrl=url,
                    MessageBody=message["body"],
                    DelaySeconds=min(SQS_MAX_DELAY, delay),
                )
                summary.messages += 1
        return summary

    def _read_queues(self, redelivering: set[str]) -> dict[str, list[dict[str, Any]]]:
        # No SQS API lists delayed or in-flight messages without changing them, so read
        # moto's own queue objects (the server runs in this process). Read-only.
        from moto.sqs.models import sqs_backends

        out: dict[str, list[dict[str, Any]]] = {}
        for account in list(sqs_backends):
            backend = sqs_backends[account][REGION]
            for name in self._queue_names:
                queue = backend.queues.get(name)
                if queue is None:
                    continue
                saved = out.setdefault(name, [])
                for message in list(queue._messages):
                    due = float(message.delayed_until or 0.0)
                    if message.id in redelivering:
                        due = max(due, float(message.visible_at or 0.0))
                    saved.append({"body": message_body(message), "due_ms": due})
        return out

    def _read_bucket(self, bucket: str | None) -> list[dict[str, Any]]:
        import boto3

        if not bucket:
            return []
        s3 = boto3.client("s3")
        objects = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                got = s3.get_object(Bucket=bucket, Key=entry["Key"])
                objects.append(
                    {
                        "key": entry["Key"],
                        "body": base64.b64encode(got["Body"].read()).decode("ascii"),
                        "content_type": got.get("ContentType"),
                    }
                )
        return objects


# --- the stack -----------------------------------------------------------------------------


@dataclass
class DevStackInfo:
    """What ``.adapter-dev.json`` holds: how a CLI (or a script) reaches the stack."""

    api_url: str
    endpoint_url: str
    env: dict[str, str]
    modules: list[str]
    workflows: list[str]
    state_dir: str | None
    pid: int = field(default_factory=os.getpid)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_json(self) -> dict[str, Any]:
        return {
            "api_url": self.api_url,
            "endpoint_url": self.endpoint_url,
            "env": self.env,
            "modules": self.modules,
            "workflows": self.workflows,
            "state_dir": self.state_dir,
            "pid": self.pid,
            "started_at": self.started_at,
        }


class DevStack:
    """The embedded local stack: moto, the worker and the HTTP API in this process.

    Args:
        modules: Workflow modules to import (see :func:`resolve_modules`).
        port: HTTP API port (0: any free port).
        moto_port: moto server port (0: any free port).
        state_dir: Keep the data across restarts there (see :class:`StateStore`).
        dev_file: Where to write the connection file (default ``./.adapter-dev.json``).
        prefix: Resource name prefix.
        out: Where the banner and request lines go (a ``rich`` console or ``print``).
    """

    def __init__(
        self,
        modules: Sequence[str] | None = None,
        *,
        port: int = DEFAULT_PORT,
        moto_port: int = DEFAULT_MOTO_PORT,
        state_dir: Path | None = None,
        dev_file: Path | None = None,
        prefix: str = DEFAULT_PREFIX,
        out: Callable[[str], None] = print,
    ) -> None:
        self.modules = resolve_modules(modules)
        self.port = port
        self.moto_port = moto_port
        self.state = StateStore(state_dir, prefix) if state_dir is not None else None
        self.dev_file = dev_file or Path.cwd() / DEV_FILE_NAME
        self.prefix = prefix
        self.out = out
        self.env: dict[str, str] = {}
        self.info: DevStackInfo | None = None
        self.restored: RestoreSummary | None = None
        self.workflows: list[str] = []
        self._moto: MotoServer | None = None
        self._api: ApiServer | None = None
        self._worker: Worker | None = None
        self._stop = threading.Event()
        self._stopped = False
        self._last_saved = -1

    def start(self) -> DevStackInfo:
        """Bring everything up; return the connection info (also written to the dev file).

        Raises:
            DevStackError: a module that does not import, a port in use, a bad state file.
        """
        from .runtime import reset_env_runtime

        # User code first: an import error should stop us before anything is listening.
        self.workflows = import_modules(self.modules)
        self._api = ApiServer(self.port, on_request=self._log_request)
        try:
            self._moto = MotoServer(self.moto_port)
            self._moto.start()
            apply_environment(stack_environment(self._moto.url))
            resources, created = ensure_resources(self.prefix)
            if self.state is not None and created:
                self.restored = self.state.restore(resources)
            self.env = {
                **stack_environment(self._moto.url),
                **resources,
                "ADAPTER_API_URL": self._api.url,  # so create_webhook().url points here
            }
            os.environ.update(self.env)
            reset_env_runtime()
            self._worker = Worker(
                [resources["ADAPTER_WORKFLOW_QUEUE_URL"], resources["ADAPTER_STEP_QUEUE_URL"]]
            )
            self._worker.start()
            self._api.start()
        except BaseException:
            self.stop()
            raise
        self.info = DevStackInfo(
            api_url=self._api.url,
            endpoint_url=self._moto.url,
            env=self.env,
            modules=self.modules,
            workflows=self.workflows,
            state_dir=str(self.state.state_dir.resolve()) if self.state else None,
        )
        write_dev_file(self.dev_file, self.info)
        return self.info

    def request_stop(self) -> None:
        """Ask :meth:`run` to stop (safe from a signal handler or another thread)."""
        self._stop.set()

    def run(self) -> int:
        """Start, print the banner, serve until SIGINT/SIGTERM, stop cleanly; exit status."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self.start()
            self.out(self.banner())
            while not self._stop.wait(SNAPSHOT_EVERY_SECONDS):
                self._snapshot(final=False)
            self.out("stopping…")
            return 0
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        """Stop the HTTP API, the worker, save the state, stop moto (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        if self._api is not None:
            self._api.stop()
        abandoned: list[str] = []
        if self._worker is not None:
            abandoned = self._worker.stop()
            if abandoned:
                self.out(
                    f"{len(abandoned)} invocation(s) still running after "
                    f"{SHUTDOWN_GRACE_SECONDS:.0f}s were abandoned"
                    + ("; they run again at the next start" if self.state else "")
                )
        if self.env:
            self._snapshot(final=True)
        if self._moto is not None:
            self._moto.stop()
        remove_dev_file(self.dev_file)

    # --- internals ---------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stop.is_set():
            # A second Ctrl-C means "now": skip the graceful path.
            os._exit(130)
        self._stop.set()

    def _snapshot(self, *, final: bool) -> None:
        if self.state is None or self._worker is None:
            return
        changes = self._worker.processed
        if not final and changes == self._last_saved:
            return
        try:
            counts = self.state.save(self.env, self._worker.redelivering())
        except Exception as exc:
            self.out(f"saving the state to {self.state.path} failed: {exc}")
            return
        self._last_saved = changes
        if final:
            self.out(
                f"state saved to {self.state.path} ({counts['items']} items, "
                f"{counts['messages']} messages, {counts['objects']} objects)"
            )

    def _log_request(self, method: str, path: str, status: int, seconds: float) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        self.out(f"{stamp} {method} {path} {status} {seconds * 1000:.0f}ms")

    def banner(self) -> str:
        """The text printed once everything is up."""
        assert self.info is not None
        example = next(
            (w for w in self.workflows if w.endswith("onboard_user")),
            self.workflows[0] if self.workflows else "my.module.my_workflow",
        )
        if self.state is None:
            state = "in memory (pass --state-dir DIR to keep runs across restarts)"
        elif self.restored is None:
            state = f"{self.state.path} (new)"
        else:
            state = (
                f"{self.state.path} (restored {self.restored.runs} runs, "
                f"{self.restored.messages} queued messages)"
            )
        lines = [
            "adapter dev stack is up",
            f"  HTTP API   {self.info.api_url}",
            f"  inspector  {self.info.api_url}{UI_PREFIX}/",
            f"  moto       {self.info.endpoint_url}",
            f"  state      {state}",
            f"  modules    {', '.join(self.modules)}",
            "  workflows  " + (", ".join(self.workflows) or "(none registered)"),
            "",
            "Try it:",
            f"  curl -X POST {self.info.api_url}/runs -d "
            f"'{json.dumps({'workflow': example, 'args': ['ada@example.com']})}'",
            f"  adapter runs ls        (finds this stack through {self.dev_file})",
            "",
            "Or point any shell, script or the CLI at it:",
            *(f"  export {key}={value}" for key, value in self.env.items()),
            "",
            "Ctrl-C stops everything.",
        ]
        return "\n".join(lines)


def write_dev_file(path: Path, info: DevStackInfo) -> None:
    """Write the connection file the CLI looks for."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(info.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def remove_dev_file(path: Path) -> None:
    """Remove the connection file if this process wrote it (another stack may own it)."""
    try:
        owner = json.loads(path.read_text(encoding="utf-8")).get("pid")
    except (OSError, ValueError):
        return
    if owner == os.getpid():
        path.unlink(missing_ok=True)


def find_dev_file(start: Path | None = None) -> Path | None:
    """The nearest ``.adapter-dev.json`` in ``start`` (default: cwd) or its parents, or the
    file named by ``ADAPTER_DEV_FILE``."""
    named = os.environ.get("ADAPTER_DEV_FILE")
    if named:
        return Path(named) if Path(named).is_file() else None
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / DEV_FILE_NAME
        if candidate.is_file():
            return candidate
    return None
