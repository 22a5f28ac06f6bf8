"""Storage and queues: the :class:`World` interface and its AWS implementation."""

from ._base import (
    RUN_STATUSES,
    TERMINAL_STATUSES,
    AppendBatch,
    HookRecord,
    HookWrite,
    Outgoing,
    RunRecord,
    RunStatus,
    RunUpdate,
    Unit,
    World,
)

__all__ = [
    "RUN_STATUSES",
    "TERMINAL_STATUSES",
    "AppendBatch",
    "HookRecord",
    "HookWrite",
    "Outgoing",
    "RunRecord",
    "RunStatus",
    "RunUpdate",
    "Unit",
    "World",
]
