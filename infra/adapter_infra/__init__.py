"""CDK constructs for adapter: ``DurableWorkflows`` and the ``AdapterStack`` of the samples."""

from .construct import DurableWorkflows
from .stack import AdapterStack

__all__ = ["AdapterStack", "DurableWorkflows"]
