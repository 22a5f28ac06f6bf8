"""The Lambda app module of the samples: ``Handler: samples.app.handler``.

Importing the sample modules registers their workflows and steps in the default
registry; the one entry point then serves both queues and the HTTP API. An app module
of your own looks the same: import your workflows, re-export the handler.
"""

from __future__ import annotations

from adapter.aws import handler
from samples import approval, fanout, onboarding, orders, payments  # noqa: F401  (registered)

__all__ = ["handler"]
