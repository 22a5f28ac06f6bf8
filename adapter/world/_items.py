"""DynamoDB items: how runs, events, steps and hooks are laid out in the one table.

=================  ==================  ==============================================
``RUN#<run_id>``   ``RUN``             the run item: status, names, input, output,
                                       ``last_seq`` (as of its last write)
``RUN#<run_id>``   ``EV#<seq:012d>``   the events one append wrote, from ``seq`` on:
                                       one event's attributes, or a page of several
``HOOK#<token>``   ``HOOK``            which run and hook a token resumes
``IDEM#<key>``     ``IDEM``            which run an idempotency key started
=================  ==================  ==============================================

``EV#…`` sorts before ``RUN``, so one query for ``SK BETWEEN EV#<seq+1> AND RUN``
returns the new events *and* the run item. An event item is put only if its key is
free: that is the lock, so the run item is written only when it changes (status,
output) or carries a mark the stall sweep reads. A step's state is not stored apart:
it is folded from its events.

**Pages.** The events of one append go into one item when they fit (a step's outcome
and the next step it schedules, say): one ``PutItem`` instead of a transaction of
puts, which DynamoDB bills at twice the write units. A page is keyed by its first seq
and lists its events (``events``, JSON text) up to ``through``. Every reader's cursor
stops at the end of an item (it has read or written whole items only), so a writer
with a stale view always aims at the key the next item took: it still loses the race.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..core.events import ErrorInfo, Event, parse_event
from ._base import HookRecord, RunRecord, RunUpdate
from ._payloads import PayloadStore, dump

Item = dict[str, Any]

# Events per item are bounded by size: a page's JSON text stays under this many bytes.
PAGE_BYTES = 256 * 1024


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


def event_attributes(event: Event, store: PayloadStore) -> Item:
    """One event's attributes (its payload packed, in S3 when big), without a key."""
    attributes = {
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
        attributes["correlation_id"] = s(event.correlation_id)
    return attributes


def event_item(event: Event, store: PayloadStore) -> Item:
    """The item of one event alone."""
    return pages(event.run_id, [event_attributes(event, store)])[0]


def pages(run_id: str, events: Sequence[Item]) -> list[Item]:
    """The items holding consecutive events of one run (their :func:`event_attributes`):
    as few as fit.

    A page lists its events as one JSON text (each event's attributes as DynamoDB
    types them): a few attributes to write and read, where a list of maps would make
    every SDK and DynamoDB itself walk six typed values per event. It stays under
    ``PAGE_BYTES``, well inside the 400 KB item limit; an event too big to share a page
    (an inline payload when no bucket is configured) gets an item of its own.
    """
    grouped: list[list[tuple[Item, str]]] = []
    size = 0
    for attributes in events:
        text = dump(attributes)
        length = item_size(text)
        if not grouped or size + length > PAGE_BYTES:
            grouped.append([])
            size = 0
        grouped[-1].append((attributes, text))
        size += length
    return [_page(run_id, page) for page in grouped]


def item_size(text: str) -> int:
    """The bytes DynamoDB counts for ``text``: UTF-8, where a character may take four."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _page(run_id: str, page: list[tuple[Item, str]]) -> Item:
    first, _ = page[0]
    key = {"PK": s(f"RUN#{run_id}"), "SK": s(event_sk(get(first, "seq")))}
    if len(page) == 1:
        return {**key, **first}
    return {
        **key,
        "seq": first["seq"],
        "through": page[-1][0]["seq"],
        "events": s("[" + ",".join(text for _, text in page) + "]"),
    }


def events_from_item(run_id: str, item: Item, store: PayloadStore) -> list[Event]:
    """The events an event item holds, in order."""
    page = json.loads(item["events"]["S"]) if "events" in item else [item]
    return [
        parse_event(
            {
                "run_id": run_id,
                "seq": get(attributes, "seq"),
                "type": get(attributes, "type"),
                "correlation_id": get(attributes, "correlation_id"),
                "created_at": get(attributes, "created_at"),
                "data": store.unpack(attributes, "data"),
            }
        )
        for attributes in page
    ]


def through(item: Item) -> int:
    """The seq of the last event an event item holds."""
    last: int = get(item, "through") or get(item, "seq")
    return last


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
