"""Storage and queues: the :class:`World` interface and its AWS implementation."""

from ._base import (
    RUN_STATUSES,
    STUCK,
    TERMINAL_STATUSES,
    UNREADABLE,
    AppendBatch,
    HookRecord,
    HookWrite,
    IdleMark,
    Outgoing,
    RunRecord,
    RunStatus,
    RunUpdate,
    StuckMark,
    Unit,
    World,
)

__all__ = [
    "RUN_STATUSES",
    "STUCK",
    "TERMINAL_STATUSES",
    "UNREADABLE",
    "AppendBatch",
    "HookRecord",
    "HookWrite",
    "IdleMark",
    "Outgoing",
    "RunRecord",
    "RunStatus",
    "RunUpdate",
    "StuckMark",
    "Unit",
    "World",
]
