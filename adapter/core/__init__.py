"""The core: workflows, steps, events, serde and the replay engine. No AWS here."""

from ._api import (
    create_hook,
    create_webhook,
    get_step_metadata,
    get_workflow_metadata,
    now,
    random,
    sleep,
)
from ._commands import Command, CreateHook, ScheduleStep, StartTimer, TurnOutcome
from ._context import (
    StepContext,
    StepMetadata,
    WorkflowMetadata,
    current_step,
    current_workflow,
    step_scope,
)
from ._hooks import MAX_HOOK_TOKEN_BYTES, Hook, Webhook, check_token
from ._ids import new_run_id
from ._registry import (
    Registry,
    StepDefinition,
    WorkflowDefinition,
    default_registry,
    step,
    workflow,
    workflow_name_of,
)
from ._replay import (
    WorkflowTurn,
    decode_input,
    encode_input,
    error_info,
)
from ._state import Attempt, ChildRun, HookState, RunState, StepState, WaitState, step_state

__all__ = [
    "MAX_HOOK_TOKEN_BYTES",
    "check_token",
    "new_run_id",
    "Attempt",
    "ChildRun",
    "Command",
    "HookState",
    "RunState",
    "StepState",
    "WaitState",
    "step_state",
    "CreateHook",
    "Hook",
    "StartTimer",
    "Webhook",
    "create_hook",
    "create_webhook",
    "sleep",
    "Registry",
    "ScheduleStep",
    "StepContext",
    "StepDefinition",
    "StepMetadata",
    "TurnOutcome",
    "WorkflowDefinition",
    "WorkflowMetadata",
    "WorkflowTurn",
    "current_step",
    "current_workflow",
    "decode_input",
    "default_registry",
    "encode_input",
    "error_info",
    "get_step_metadata",
    "get_workflow_metadata",
    "now",
    "random",
    "step",
    "step_scope",
    "workflow",
    "workflow_name_of",
]
