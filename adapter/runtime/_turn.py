"""One workflow turn: load the log, replay, record what is new, dispatch it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..core import TurnOutcome, WorkflowTurn, error_info
from ..core.errors import ConflictError, NotFoundError
from ..core.events import (
    RunCompleted,
    RunCompletedData,
    RunFailed,
    RunFailedData,
    RunStarted,
    StepCreated,
    StepCreatedData,
)
from ..core.messages import WorkflowMessage
from ..world import AppendBatch, Outgoing, RunRecord, RunUpdate, StepRecord, StepWrite
from ._runtime import MAX_CONFLICT_RETRIES, DeploymentNotFoundError

if TYPE_CHECKING:
    from ..core.events import Event
    from ._runtime import Runtime

logger = logging.getLogger(__name__)


def run_workflow_turn(rt: Runtime, message: WorkflowMessage, *, redelivered: bool = False) -> None:
    """Advance one run as far as its log allows.

    Safe to run twice or concurrently for the same run: appends are conditional on the
    log's last seq, and a lost race reloads the log and decides again.

    Args:
        redelivered: The message was delivered before and not acknowledged, so an
            earlier turn may have recorded steps and died before sending them: their
            messages are sent again (duplicates are harmless).
    """
    run_id = message.run_id
    for _ in range(MAX_CONFLICT_RETRIES):
        run, events = rt.history(run_id)
        if run is None:
            logger.warning("workflow message for unknown run %s dropped", run_id)
            return
        if run.ended:
            logger.debug("run %s already %s; nothing to do", run_id, run.status)
            return
        outcome = _replay(rt, run, events)
        batch, outgoing = _decide(rt, run, outcome)
        if not batch.units:
            if redelivered and outcome.in_flight:
                logger.info(
                    "run %s: re-sending %d in-flight step(s)", run_id, len(outcome.in_flight)
                )
                rt.send(*(rt.step_message(run, cid) for cid in outcome.in_flight))
            return
        try:
            rt.world.append(run_id, run.last_seq, batch)
        except ConflictError:
            logger.debug("run %s: lost a race at seq %d; replaying again", run_id, run.last_seq)
            continue
        _log_outcome(run, outcome)
        rt.send(*outgoing)
        return
    raise ConflictError(f"run {run_id}: gave up after {MAX_CONFLICT_RETRIES} lost races")


def _replay(rt: Runtime, run: RunRecord, events: list[Event]) -> TurnOutcome:
    try:
        definition = rt.deployments.registry_for(run.deployment_id).get_workflow(run.workflow_name)
    except (NotFoundError, DeploymentNotFoundError) as exc:
        return TurnOutcome("failed", error=error_info(exc))
    return WorkflowTurn(definition, events).run()


def _decide(
    rt: Runtime, run: RunRecord, outcome: TurnOutcome
) -> tuple[AppendBatch, list[Outgoing]]:
    """Turn the engine's outcome into events, item changes and messages."""
    now = rt.clock()
    seq = run.last_seq
    batch = AppendBatch()
    outgoing: list[Outgoing] = []
    started_at = None
    if run.status == "pending":
        seq += 1
        started_at = now
        batch.add([RunStarted(run_id=run.run_id, seq=seq, created_at=now)])
    if outcome.status == "suspended":
        for command in outcome.commands:
            seq += 1
            event = StepCreated(
                run_id=run.run_id,
                seq=seq,
                correlation_id=command.correlation_id,
                created_at=now,
                data=StepCreatedData(step_name=command.step_name, input=command.input),
            )
            step = StepRecord(
                run_id=run.run_id,
                correlation_id=command.correlation_id,
                step_name=command.step_name,
                input=command.input,
            )
            batch.add([event], [StepWrite(step)])
            outgoing.append(rt.step_message(run, command.correlation_id))
        batch.run_update = (
            RunUpdate(status="running", started_at=started_at) if started_at else None
        )
    elif outcome.status == "completed":
        seq += 1
        batch.add(
            [
                RunCompleted(
                    run_id=run.run_id,
                    seq=seq,
                    created_at=now,
                    data=RunCompletedData(output=outcome.output),
                )
            ]
        )
        batch.run_update = RunUpdate(
            status="completed",
            started_at=started_at,
            completed_at=now,
            output=outcome.output,
            has_output=True,
        )
    else:
        assert outcome.error is not None
        seq += 1
        batch.add(
            [
                RunFailed(
                    run_id=run.run_id,
                    seq=seq,
                    created_at=now,
                    data=RunFailedData(error=outcome.error),
                )
            ]
        )
        batch.run_update = RunUpdate(
            status="failed", started_at=started_at, completed_at=now, error=outcome.error
        )
    return batch, outgoing


def _log_outcome(run: RunRecord, outcome: TurnOutcome) -> None:
    if outcome.status == "suspended":
        logger.info(
            "run %s: scheduled %d step(s)",
            run.run_id,
            len(outcome.commands),
            extra={"run_id": run.run_id, "workflow": run.workflow_name},
        )
    elif outcome.status == "completed":
        logger.info("run %s completed", run.run_id, extra={"run_id": run.run_id})
    else:
        assert outcome.error is not None
        logger.warning(
            "run %s failed: %s: %s",
            run.run_id,
            outcome.error.type,
            outcome.error.message,
            extra={"run_id": run.run_id},
        )
