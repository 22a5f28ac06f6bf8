"""The powertools Logger of the Lambda entry points.

Its service name (``POWERTOOLS_SERVICE_NAME``, default ``adapter-workflows``) is also
its Python logger name, so it must differ from the ``adapter`` package logger: library
modules keep plain ``logging`` and only take the JSON format inside Lambda.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from ..world import ENV_LAMBDA_FUNCTION_NAME

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "adapter-workflows")
_ready = False


def setup_lambda_logging() -> None:
    """Inside Lambda, give the ``adapter.*`` loggers the powertools JSON format (once)."""
    global _ready
    if not _ready and os.environ.get(ENV_LAMBDA_FUNCTION_NAME):
        copy_config_to_registered_loggers(source_logger=logger, include={"adapter"})
    _ready = True
