"""CloudWatch metrics (embedded metric format) from the events the runtime records."""

from __future__ import annotations

import os

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ..core.events import Event
from ..runtime import Runtime

# Event type -> metric name. One count per recorded event: nothing is counted twice
# when a message is delivered twice, since duplicates record nothing.
METRIC_FOR_EVENT = {
    "run_started": "RunsStarted",
    "run_completed": "RunsCompleted",
    "run_failed": "RunsFailed",
    "run_cancelled": "RunsCancelled",
    "step_started": "StepAttempts",
    "step_completed": "StepsCompleted",
    "step_failed": "StepsFailed",
    "step_retrying": "StepRetries",
    "hook_received": "HookPayloads",
}

metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Adapter",
    service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "adapter-workflows",
)


def count_event(event: Event) -> None:
    """Listener: add one to the metric of this event's type."""
    name = METRIC_FOR_EVENT.get(event.type)
    if name is not None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def attach_metrics(runtime: Runtime) -> None:
    """Count ``runtime``'s recorded events (once per runtime)."""
    if count_event not in runtime.listeners:
        runtime.listeners.append(count_event)
