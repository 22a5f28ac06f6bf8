"""moto's server on 127.0.0.1, serialized, and the stack's resources on it."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from typing import Any

from .._moto import MOTO_LOCK, install, uninstall
from ..world import (
    ENV_BUCKET,
    ENV_FUNCTION,
    ENV_LAMBDA_FUNCTION_NAME,
    ENV_LAMBDA_FUNCTION_VERSION,
    ENV_STEP_QUEUE,
    ENV_TABLE,
    ENV_WORKFLOW_QUEUE,
    bucket_name,
    queue_name,
    table_name,
)
from ._common import (
    DEV_VISIBILITY_TIMEOUT,
    FAKE_CREDENTIALS,
    HOST,
    REGION,
    DevStackError,
    check_port_free,
)

_READS = frozenset(
    {
        "DynamoDB_20120810.GetItem",
        "DynamoDB_20120810.BatchGetItem",
        "DynamoDB_20120810.Query",
        "DynamoDB_20120810.Scan",
        "DynamoDB_20120810.DescribeTable",
        "DynamoDB_20120810.TransactGetItems",
        "AmazonSQS.GetQueueUrl",
        "AmazonSQS.GetQueueAttributes",
    }
)


class SerializedApp:
    """WSGI middleware running one moto request at a time, except SQS long polls.

    moto's server handles requests on threads, but its backends are not thread-safe:
    ``TransactWriteItems`` deep-copies a table while another thread writes to it (a 500,
    or worse, two transactions interleaving past each other's conditions). The runtime
    relies on those conditional writes, so requests are serialized. SQS ``ReceiveMessage``
    is left out: a long poll waits on the queue's own lock and would block everyone else.
    """

    writes = 0
    """Requests that may have changed the state so far (the state store saves when it
    grew). Class-wide: there is one moto per process."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target == "AmazonSQS.ReceiveMessage":
            return self._app(environ, start_response)
        with MOTO_LOCK:
            if target not in _READS and environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
                type(self).writes += 1
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
            ENV_FUNCTION,
            ENV_LAMBDA_FUNCTION_NAME,
            ENV_LAMBDA_FUNCTION_VERSION,
        ):
            del os.environ[key]
    os.environ.update(env)
    boto3.setup_default_session()  # forget credentials a previous session resolved


def ensure_resources(
    prefix: str, visibility_timeout: int = DEV_VISIBILITY_TIMEOUT
) -> tuple[dict[str, str], bool]:
    """The ``ADAPTER_*`` variables of the stack's resources, creating them unless the
    table already exists (a moto server that kept its state, say); new queues get
    ``visibility_timeout`` (see :data:`DEV_VISIBILITY_TIMEOUT`).

    Returns the variables and whether the resources were created now.
    """
    import boto3

    from ..world.aws import create_resources

    ddb = boto3.client("dynamodb")
    table = table_name(prefix)
    try:
        ddb.describe_table(TableName=table)
    except ddb.exceptions.ResourceNotFoundException:
        return create_resources(prefix, function_timeout=visibility_timeout), True
    sqs = boto3.client("sqs")
    account = boto3.client("sts").get_caller_identity()["Account"]
    return {
        ENV_TABLE: table,
        ENV_WORKFLOW_QUEUE: sqs.get_queue_url(QueueName=queue_name(prefix, "workflow"))["QueueUrl"],
        ENV_STEP_QUEUE: sqs.get_queue_url(QueueName=queue_name(prefix, "step"))["QueueUrl"],
        ENV_BUCKET: bucket_name(prefix, account),
    }, False


def queue_arn(url: str) -> str:
    """The ARN of a queue from its URL (``…/<account>/<name>``)."""
    account, name = url.rstrip("/").rsplit("/", 2)[-2:]
    return f"arn:aws:sqs:{REGION}:{account}:{name}"
