"""``adapter ui``: the run inspector for any stack, served from this machine.

The page is the one ``adapter dev`` serves; its API calls are answered here, in this
process, by the same handler the Lambda function runs (``adapter.aws.handler``), which
reads and writes the stack with this process's AWS credentials (found as every other
command finds them: ``--profile``, the environment, the dev file). Nothing is deployed,
no request is signed in the browser and no CORS is needed: page and API share an origin.

The server listens on 127.0.0.1 only, and answers only requests addressed to it by that
name (a web page elsewhere cannot reach it through DNS rebinding) and, for anything but
reads, sent from its own page (a page elsewhere cannot post to it with your credentials).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.text import Text

from ..dev import HOST, ApiServer, DevStackError, default_api_handler
from ._connection import connect
from ._errors import CliError
from ._options import EndpointOpt, ProfileOpt
from ._render import console

Api = Callable[[dict[str, Any]], dict[str, Any]]
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Guard:
    """``api`` answering only requests for this server, made by its own page.

    Refused with 403 (the API's error shape): a ``Host`` other than this server's, and a
    write whose ``Origin`` (or, without one, ``Sec-Fetch-Site``) is another site's.
    """

    def __init__(self, api: Api, port: int = 0) -> None:
        self.api = api
        self.port = port  # set once the server's socket is bound

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        hosts = {f"{HOST}:{self.port}", f"localhost:{self.port}"}
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        method = event.get("requestContext", {}).get("http", {}).get("method", "GET")
        if headers.get("host") not in hosts:
            return _refused(f"this server answers requests for {HOST}:{self.port} only")
        if method not in _SAFE_METHODS:
            origin = headers.get("origin")
            fetch_site = headers.get("sec-fetch-site")
            if (origin is not None and origin not in {f"http://{h}" for h in hosts}) or (
                origin is None and fetch_site not in (None, "same-origin", "none")
            ):
                return _refused("writes are accepted from the inspector's own page only")
        return self.api(event)


def _refused(message: str) -> dict[str, Any]:
    return {
        "statusCode": 403,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"error": {"code": "forbidden", "message": message}}),
    }


def serve(port: int, api: Api = default_api_handler) -> ApiServer:
    """Start serving the inspector and the API on ``127.0.0.1:port`` (0: a free port).

    Raises:
        CliError: the port cannot be listened on.
    """
    guard = Guard(api)
    try:
        server = ApiServer(port, api=guard)
    except DevStackError as exc:
        raise CliError(str(exc), code="port_unavailable") from None
    guard.port = server.port
    server.start()
    return server


def wait_for_interrupt() -> None:
    """Block until Ctrl-C (typer turns it into exit status 130)."""
    threading.Event().wait()


def ui(
    ctx: typer.Context,
    port: Annotated[
        int,
        typer.Option("--port", metavar="PORT", help="Port on 127.0.0.1 (0: any free port)."),
    ] = 8600,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Serve the run inspector for your stack, on this machine.

    The page's API calls are answered here by adapter's own HTTP handler, reading the
    stack with your AWS credentials (the ADAPTER_* variables name its resources, as for
    every command): no signing proxy, no CORS, nothing deployed. Ctrl-C stops it.
    """
    source = connect(ctx, endpoint_url, profile)
    server = serve(port)
    try:
        out = console(stderr=True)
        out.print(Text(f"run inspector: {server.url}/ui/", style="bold"), soft_wrap=True)
        out.print(Text(f"stack: {source}; Ctrl-C to stop", style="dim"), soft_wrap=True)
        wait_for_interrupt()
    finally:
        server.stop()
