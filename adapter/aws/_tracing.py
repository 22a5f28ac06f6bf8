"""X-Ray tracing of workflow turns and step attempts, through the powertools Tracer.

The runtime opens a segment around each turn and each step attempt through
``Services.trace`` (a no-op by default); inside Lambda with tracing on, this module
makes each one an X-Ray subsegment annotated with the run id (and the step name and
attempt), so traces can be searched by run: ``annotation.run_id = "..."``.

Powertools turns the Tracer off outside Lambda, under ``sam local`` and with
``POWERTOOLS_TRACE_DISABLED``; the runtime then keeps its no-op. The Tracer (and the
X-Ray SDK it needs: ``aws-lambda-powertools[tracer]``) is only loaded inside Lambda.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any, Protocol

from ..runtime import Annotations, Runtime, Trace
from ..world import ENV_LAMBDA_FUNCTION_NAME
from ._logging import logger


class _Tracer(Protocol):
    """What is used of ``aws_lambda_powertools.Tracer``."""

    disabled: bool
    provider: Any


_tracer: _Tracer | None = None


class _Off:
    """Stands in for a Tracer that cannot be made."""

    disabled = True
    provider: Any = None


def powertools_tracer() -> _Tracer:
    """The Tracer of this container (made once; it patches botocore for X-Ray).

    A package built without the X-Ray SDK (``aws-lambda-powertools`` without its
    ``[tracer]`` extra) is not traced, with one warning, rather than failing.
    """
    global _tracer
    if _tracer is None:
        try:
            from aws_lambda_powertools import Tracer

            service = os.environ.get("POWERTOOLS_SERVICE_NAME") or "adapter-workflows"
            _tracer = Tracer(service=service)
        except ImportError as exc:
            logger.warning(
                "tracing is off: %s; package aws-lambda-powertools[tracer] with the function",
                exc,
            )
            _tracer = _Off()
    return _tracer


def subsegments(tracer: _Tracer) -> Trace:
    """A ``Services.trace`` that opens an annotated subsegment of ``tracer``'s provider."""

    @contextlib.contextmanager
    def trace(name: str, annotations: Annotations) -> Iterator[object]:
        with tracer.provider.in_subsegment(name=name) as subsegment:
            for key, value in annotations.items():
                subsegment.put_annotation(key=key, value=value)
            yield subsegment

    return trace


def attach_tracing(runtime: Runtime, tracer: _Tracer | None = None) -> None:
    """Trace ``runtime``'s turns and step attempts, unless tracing is off.

    Args:
        tracer: The Tracer to use; by default this container's (inside Lambda only).
    """
    if tracer is None:
        if not os.environ.get(ENV_LAMBDA_FUNCTION_NAME):
            return
        tracer = powertools_tracer()
    if not tracer.disabled:
        runtime.trace = subsegments(tracer)
