"""DynamoDB items: how runs, events, steps and hooks are laid out in the one table.

=================  ==================  ==============================================
``RUN#<run_id>``   ``RUN``             the run item: status, names, input, output,
                                       ``last_seq`` (as of its last write)
``RUN#<run_id>``   ``EV#<seq:012d>``   one event; ``data`` is JSON text
``HOOK#<token>``   ``HOOK``            which run and hook a token resumes
``IDEM#<key>``     ``IDEM``            which run an idempotency key started
=================  ==================  ==============================================

``EV#…`` sorts before ``RUN``, so one query for ``SK BETWEEN EV#<seq+1> AND RUN``
returns the new events *and* the run item. An event is put only if its key is free:
that is the lock, so the run item is written only when it changes (status, output) or
carries a mark the stall sweep reads. A step's state is not stored apart: it is folded
from its events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..core.events import ErrorInfo, Event, parse_event
from ._base import HookRecord, RunRecord, RunUpdate
from ._payloads import PayloadStore, dump

Item = dict[str, Any]


def s(value: str) -> dict[str, Any]:
    return {"S": value}


def n(value: int) -> dict[str, Any]:
    return {"N": str(value)}


def time(value: datetime) -> dict[str, Any]:
    return {"S": value.isoformat()}


def run_key(run_id: str) -> Item:
    return {"PK": s(f"RUN#{run_id}"), "SK": s("RUN")}


def event_sk(seq: int) -> str:
    return f"EV#{seq:012d}"


def hook_key(token: str) -> Item:
    return {"PK": s(f"HOOK#{token}"), "SK": s("HOOK")}


def idem_key(key: str) -> Item:
    return {"PK": s(f"IDEM#{key}"), "SK": s("IDEM")}


def get(item: Item, name: str) -> Any:
    value = item.get(name)
    if value is None:
        return None
    if "S" in value:
        return value["S"]
    if "N" in value:
        return int(value["N"])
    return None


def get_time(item: Item, name: str) -> datetime | None:
    raw = get(item, name)
    return datetime.fromisoformat(raw) if raw else None


def _prefix(run_id: str) -> str:
    return f"runs/{run_id}"


# --- runs ---------------------------------------------------------------------------------


def run_item(record: RunRecord, store: PayloadStore) -> Item:
    item = {
        **run_key(record.run_id),
        "run_id": s(record.run_id),
        "workflow_name": s(record.workflow_name),
        "deployment_id": s(record.deployment_id),
        "status": s(record.status),
        "created_at": time(record.created_at),
        "created_key": s(f"{record.created_at.isoformat()}#{record.run_id}"),
        "last_seq": n(record.last_seq),
        "last_event": s("run_created"),
        "updated_at": time(record.created_at),
        **store.pack(
            "input", record.input, _prefix(record.run_id), f"input of run {record.run_id}"
        ),
    }
    if record.idempotency_key:
        item["idempotency_key"] = s(record.idempotency_key)
    return item


def run_from_item(item: Item, store: PayloadStore) -> RunRecord:
    error = store.unpack(item, "error")
    return RunRecord(
        run_id=get(item, "run_id"),
        workflow_name=get(item, "workflow_name"),
        deployment_id=get(item, "deployment_id"),
        status=get(item, "status"),
        created_at=get_time(item, "created_at"),  # type: ignore[arg-type]
        last_seq=get(item, "last_seq"),
        input=store.unpack(item, "input"),
        started_at=get_time(item, "started_at"),
        completed_at=get_time(item, "completed_at"),
        output=store.unpack(item, "output"),
        error=ErrorInfo.model_validate(error) if error else None,
        idempotency_key=get(item, "idempotency_key"),
        last_event=get(item, "last_event"),
        updated_at=get_time(item, "updated_at"),
    )


def run_update(
    table: str,
    run_id: str,
    new_seq: int,
    update: RunUpdate | None,
    store: PayloadStore,
    last: Event,
) -> Item:
    """An ``Update`` transaction item moving ``last_seq`` on, with ``update``'s fields.

    It also records the newest event's type and time (``last_event``, ``updated_at``), so
    a sweep can find runs left waiting for a turn without reading their logs. It needs
    no seq condition: it goes with the events, whose puts are conditional.
    """
    names = {"#seq": "last_seq", "#last": "last_event", "#updated": "updated_at"}
    values: dict[str, Any] = {
        ":new": n(new_seq),
        ":last": s(last.type),
        ":updated": time(last.created_at),
    }
    sets = ["#seq = :new", "#last = :last", "#updated = :updated"]
    if update is not None:
        fields: dict[str, Any] = {}
        if update.status:
            fields["status"] = s(update.status)
        if update.started_at:
            fields["started_at"] = time(update.started_at)
        if update.completed_at:
            fields["completed_at"] = time(update.completed_at)
        if update.has_output:
            fields.update(
                store.pack("output", update.output, _prefix(run_id), f"output of run {run_id}")
            )
        if update.error:
            fields["error"] = s(dump(update.error.model_dump(mode="json")))
        for name, value in fields.items():
            names[f"#{name}"] = name
            values[f":{name}"] = value
            sets.append(f"#{name} = :{name}")
    return {
        "Update": {
            "TableName": table,
            "Key": run_key(run_id),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


# --- events -------------------------------------------------------------------------------


def event_item(event: Event, store: PayloadStore) -> Item:
    item = {
        "PK": s(f"RUN#{event.run_id}"),
        "SK": s(event_sk(event.seq)),
        "seq": n(event.seq),
        "type": s(event.type),
        "created_at": time(event.created_at),
        **store.pack(
            "data",
            event.data.model_dump(mode="json"),
            _prefix(event.run_id),
            f"{event.type} event of run {event.run_id}",
        ),
    }
    if event.correlation_id:
        item["correlation_id"] = s(event.correlation_id)
    return item


def event_from_item(run_id: str, item: Item, store: PayloadStore) -> Event:
    return parse_event(
        {
            "run_id": run_id,
            "seq": get(item, "seq"),
            "type": get(item, "type"),
            "correlation_id": get(item, "correlation_id"),
            "created_at": get(item, "created_at"),
            "data": store.unpack(item, "data"),
        }
    )


# --- hooks ----------------------------------------------------------------------


def hook_item(record: HookRecord) -> Item:
    return {
        **hook_key(record.token),
        "run_id": s(record.run_id),
        "correlation_id": s(record.correlation_id),
        "deployment_id": s(record.deployment_id),
    }


def hook_from_item(item: Item) -> HookRecord:
    return HookRecord(
        token=get(item, "PK").removeprefix("HOOK#"),
        run_id=get(item, "run_id"),
        correlation_id=get(item, "correlation_id"),
        deployment_id=get(item, "deployment_id"),
    )
