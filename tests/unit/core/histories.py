"""Hand-built event histories and a tiny in-memory driver for the replay engine.

No storage, no queues: a :class:`History` is a list of events. A turn replays it with
``WorkflowTurn``; the driver records the commands as ``step_created`` events, "executes"
the steps by calling the registered functions and records their outcomes, exactly as
the runtime would, with ``seq`` increasing by one per event.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from adapter.core import (
    Command,
    CreateHook,
    Registry,
    ScheduleStep,
    StartTimer,
    TurnOutcome,
    WorkflowTurn,
    decode_input,
    encode_input,
    serde,
)
from adapter.core.errors import FatalError
from adapter.core.events import (
    ErrorInfo,
    Event,
    HookCreated,
    HookCreatedData,
    HookReceived,
    HookReceivedData,
    RunCreated,
    RunCreatedData,
    RunStarted,
    StepCompleted,
    StepCompletedData,
    StepCreated,
    StepCreatedData,
    StepFailed,
    StepFailedData,
    WaitCompleted,
    WaitCreated,
    WaitCreatedData,
)

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
"""Events are stamped ``T0 + seq seconds``."""


def stamp(seq: int) -> datetime:
    """The ``created_at`` the driver gives the event with this ``seq``."""
    return T0 + timedelta(seconds=seq)


class History:
    """One run's event log, built by hand or by driving the workflow to its end."""

    def __init__(
        self,
        registry: Registry,
        workflow_name: str,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        run_id: str = "r1",
        deployment_id: str = "1",
    ) -> None:
        self.registry = registry
        self.workflow = registry.get_workflow(workflow_name)
        self.run_id = run_id
        self.events: list[Event] = []
        self.created: dict[str, ScheduleStep] = {}
        self.finished: set[str] = set()
        self.turns: list[TurnOutcome] = []
        self.append(
            RunCreated,
            data=RunCreatedData(
                workflow_name=workflow_name,
                input=encode_input(args, kwargs, what="workflow input"),
                deployment_id=deployment_id,
            ),
        )

    # --- building the log ------------------------------------------------------------------

    def append(self, cls: type[Any], correlation_id: str | None = None, **fields: Any) -> Event:
        seq = len(self.events) + 1
        event: Event = cls(
            run_id=self.run_id,
            seq=seq,
            correlation_id=correlation_id,
            created_at=stamp(seq),
            **fields,
        )
        self.events.append(event)
        return event

    def run_started(self) -> None:
        self.append(RunStarted)

    def record(self, commands: Iterable[Command]) -> None:
        """Record each command's ``*_created`` event, as the runtime does after a turn."""
        for command in commands:
            cid = command.correlation_id
            assert cid not in self.created, f"engine re-issued {cid}: {command}"
            self.created[cid] = command
            if isinstance(command, ScheduleStep):
                data: Any = StepCreatedData(step_name=command.step_name, input=command.input)
                self.append(StepCreated, cid, data=data)
            elif isinstance(command, StartTimer):
                self.append(WaitCreated, cid, data=WaitCreatedData(resume_at=command.resume_at))
            elif isinstance(command, CreateHook):
                data = HookCreatedData(
                    token=command.token, metadata=command.metadata, webhook=command.webhook
                )
                self.append(HookCreated, cid, data=data)
            else:  # pragma: no cover - a new command kind the driver does not know
                raise AssertionError(f"unknown command {command!r}")

    def created_step(self, correlation_id: str, step_name: str, *args: Any) -> None:
        """Record a ``step_created`` by hand (as if an earlier turn had asked for it)."""
        self.record([ScheduleStep(correlation_id, step_name, encode_input(args, {}, what="x"))])

    def complete(self, correlation_id: str, value: Any) -> None:
        self.finished.add(correlation_id)
        self.append(
            StepCompleted,
            correlation_id,
            data=StepCompletedData(result=serde.to_json(value)),
        )

    def fail(
        self,
        correlation_id: str,
        *,
        step_name: str,
        type: str = "ValueError",
        message: str = "boom",
        attempt: int = 1,
        fatal: bool = False,
    ) -> None:
        self.finished.add(correlation_id)
        self.append(
            StepFailed,
            correlation_id,
            data=StepFailedData(
                error=ErrorInfo(
                    type=type,
                    message=message,
                    step_name=step_name,
                    attempt=attempt,
                    fatal=fatal,
                )
            ),
        )

    # --- replaying and executing -----------------------------------------------------------

    def replay(self) -> TurnOutcome:
        """One turn over the log as it is now (a pure function of ``events``)."""
        # Like the runtime: a run not started yet starts with this turn's run_started,
        # appended next (so stamped with the next seq's time).
        started = any(e.type == "run_started" for e in self.events)
        starts_at = None if started else stamp(len(self.events) + 1)
        return WorkflowTurn(self.workflow, list(self.events), started_at=starts_at).run()

    def turn(self) -> TurnOutcome:
        outcome = self.replay()
        self.turns.append(outcome)
        return outcome

    def pending(self) -> list[Command]:
        """Recorded steps and timers that have not ended (hooks wait for the outside)."""
        return [
            c
            for cid, c in self.created.items()
            if cid not in self.finished and not isinstance(c, CreateHook)
        ]

    def wake(self, correlation_id: str) -> None:
        """Record that a timer fired."""
        self.finished.add(correlation_id)
        self.append(WaitCompleted, correlation_id)

    def receive(self, correlation_id: str, payload: Any) -> None:
        """Record a payload sent to a hook."""
        self.append(
            HookReceived, correlation_id, data=HookReceivedData(payload=serde.to_json(payload))
        )

    def execute(self, command: Command) -> None:
        """Run the step's function once and record how it ended; fire a timer."""
        if isinstance(command, StartTimer):
            self.wake(command.correlation_id)
            return
        assert isinstance(command, ScheduleStep), command
        fn = self.registry.get_step(command.step_name).fn
        args, kwargs = decode_input(command.input)
        try:
            value = fn(*args, **kwargs)
            if inspect.isawaitable(value):
                value = asyncio.run(_await(value))
        except Exception as exc:
            self.fail(
                command.correlation_id,
                step_name=command.step_name,
                type=type(exc).__name__,
                message=str(exc),
                fatal=isinstance(exc, FatalError),
            )
        else:
            self.complete(command.correlation_id, value)

    def run(self, *, reverse: bool = False, max_turns: int = 50) -> TurnOutcome:
        """Turn, record, execute everything pending; until the workflow ends.

        Args:
            reverse: Record the completions of each batch in reverse request order.
        """
        for _ in range(max_turns):
            outcome = self.turn()
            if outcome.status != "suspended":
                return outcome
            self.record(outcome.commands)
            pending = self.pending()
            assert pending, f"workflow is stuck: {outcome}"
            if reverse:
                pending.reverse()
            for command in pending:
                self.execute(command)
        raise AssertionError(f"workflow did not finish in {max_turns} turns")

    # --- reading the log ---------------------------------------------------------------------

    def step_log(self) -> list[tuple[str, str]]:
        """``(correlation_id, step_name)`` of every ``step_created``, in log order."""
        return [
            (e.correlation_id or "", e.data.step_name)
            for e in self.events
            if isinstance(e, StepCreated)
        ]

    def created_log(self) -> list[str]:
        """Correlation ids of every ``*_created`` event, in log order."""
        return [
            e.correlation_id or ""
            for e in self.events
            if e.type in ("step_created", "wait_created", "hook_created")
        ]


async def _await(awaitable: Any) -> Any:
    return await awaitable


def output_of(outcome: TurnOutcome) -> Any:
    """The workflow's return value, decoded; fails the test unless it completed."""
    assert outcome.status == "completed", outcome.error
    return serde.from_json(outcome.output)
