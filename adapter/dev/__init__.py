"""``adapter dev``: the whole stack on one machine, no Docker and no AWS account.

One process runs:

* a moto server on 127.0.0.1 (:mod:`._motoserver`) holding the table, the queues and
  the bucket, created with :func:`adapter.world.aws.create_resources`;
* a worker (:mod:`._poller`): one long-polling thread per queue that hands each
  message, as a Lambda-shaped SQS event, to :func:`adapter.aws.process_sqs_event` on
  its own thread (as if each message were its own invocation) and deletes the messages
  the batch response does not report as failed; ``LocalRuntime`` delivers its messages
  through the same code;
* the HTTP API on ``http://127.0.0.1:PORT`` (:mod:`._http`): each request is translated
  into an API Gateway HTTP API (v2) event (:mod:`._apigw`) and answered by
  :func:`adapter.aws.handler`, so ``curl`` sees what it would see in front of API
  Gateway;
* with ``--state-dir``, the state store (:mod:`._state`), which keeps the data
  consistent on disk across restarts and crashes.

Nothing here is a second implementation of the runtime: the code paths are the ones
Lambda runs, only the transport (polling instead of an event-source mapping, a local
HTTP server instead of API Gateway) is local. The workflow modules are found and
imported by :mod:`._modules`; :mod:`._stack` puts the pieces together.
"""

from ._apigw import api_gateway_event
from ._common import (
    DEFAULT_MODULES,
    DEFAULT_MOTO_PORT,
    DEFAULT_PORT,
    DEFAULT_PREFIX,
    DEV_FILE_NAME,
    DEV_FUNCTION_TIMEOUT,
    DEV_VISIBILITY_TIMEOUT,
    HOST,
    STATE_FILE_NAME,
    DevStackError,
)
from ._http import ApiServer, default_api_handler, ui_response
from ._modules import ModuleLoadError, import_modules, module_name_for, resolve_modules
from ._poller import InvocationContext, Worker, deliver, lambda_processor
from ._runtime import DEV_STALE_AFTER, FAST_SLEEP_SCALE, FastSleeps, Sweeper, dev_runtime
from ._stack import DevStack, DevStackInfo, find_dev_file, remove_dev_file, write_dev_file
from ._state import RestoreSummary, StateSaver, StateStore

__all__ = [
    "HOST",
    "default_api_handler",
    "DEFAULT_MODULES",
    "DEV_FUNCTION_TIMEOUT",
    "DEV_STALE_AFTER",
    "DEV_VISIBILITY_TIMEOUT",
    "FAST_SLEEP_SCALE",
    "FastSleeps",
    "ModuleLoadError",
    "StateSaver",
    "Sweeper",
    "dev_runtime",
    "module_name_for",
    "DEFAULT_MOTO_PORT",
    "DEFAULT_PORT",
    "DEFAULT_PREFIX",
    "DEV_FILE_NAME",
    "STATE_FILE_NAME",
    "ApiServer",
    "DevStack",
    "DevStackError",
    "DevStackInfo",
    "RestoreSummary",
    "StateStore",
    "InvocationContext",
    "Worker",
    "api_gateway_event",
    "deliver",
    "find_dev_file",
    "import_modules",
    "lambda_processor",
    "remove_dev_file",
    "resolve_modules",
    "ui_response",
    "write_dev_file",
]
