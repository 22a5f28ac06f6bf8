"""DynamoDB items: how runs, events, steps and hooks are laid out in the one table.

=================  ==================  ==============================================
``RUN#<run_id>``   ``RUN``             the run item: status, names, input, output,
                                       ``last_seq`` (as of its last write)
``RUN#<run_id>``   ``EV#<seq:012d>``   the events one append wrote, from ``seq`` on:
                                       one event's attributes, or a page of several
``HOOK#<token>``   ``HOOK``            which run and hook a token resumes
``IDEM#<key>``     ``IDEM``            which run an idempotency key started
``DELIVERY#<id>``  ``DELIVERY``        which run one hook delivery (a request id or
                                       an ``Idempotency-Key``) was recorded for
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
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ..core.errors import UnreadableHistoryError
from ..core.events import ErrorInfo, Event, parse_event
from ._base import UNREADABLE, HookRecord, IdleMark, RunRecord, RunUpdate, StuckMark
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


def delivery_key(delivery: str) -> Item:
    return {"PK": s(f"DELIVERY#{delivery}"), "SK": s("DELIVERY")}


Bounds = tuple[str | None, str | None, str | None]
"""``(low, high, exclude)``: an inclusive ``created_key`` range and a key to skip."""


def created_bounds(before: str | None, since: datetime | None, until: datetime | None) -> Bounds:
    """The ``created_key`` range of runs created in ``[since, until)`` below ``before``.

    A moment alone sorts before every key made at that moment (``iso`` < ``iso#id``),
    so ``since`` is an inclusive and ``until`` an exclusive bound as they are.
    """
    low = _moment_key(since) if since is not None else None
    high = _moment_key(until) if until is not None else None
    if before is not None and (high is None or before < high):
        return low, before, before
    return low, high, None


def _moment_key(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"since and until must be aware datetimes, not {moment!r}")
    return moment.astimezone(UTC).isoformat()


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
        "created_key": s(record.created_key),
        "last_seq": n(record.last_seq),
        "last_event": s("run_created"),
        "updated_at": time(record.created_at),
        **store.pack(
            "input", record.input, _prefix(record.run_id), f"input of run {record.run_id}"
        ),
    }
    if record.idempotency_key:
        item["idempotency_key"] = s(record.idempotency_key)
    if record.parent_run_id:
        item["parent_run_id"] = s(record.parent_run_id)
        item["parent_step"] = s(record.parent_step or "")
    return item


def _payload(item: Item, name: str, store: PayloadStore) -> Any:
    # A status read must work even when a payload object is gone: the run item's
    # payloads read as a marker naming the reason (Run.result raises it).
    try:
        return store.unpack(item, name)
    except UnreadableHistoryError as exc:
        return {UNREADABLE: str(exc)}


def run_from_item(item: Item, store: PayloadStore) -> RunRecord:
    error = _payload(item, "error", store)
    if isinstance(error, dict) and UNREADABLE in error:
        error = {"type": "UnreadableHistoryError", "message": error[UNREADABLE]}
    stuck = None
    if "stuck_reason" in item:
        stuck = StuckMark(
            reason=get(item, "stuck_reason"),
            since=get_time(item, "stuck_since"),  # type: ignore[arg-type]
            kind=get(item, "stuck_kind") or "delivery",
        )
    idle = "idle_until" in item
    return RunRecord(
        run_id=get(item, "run_id"),
        workflow_name=get(item, "workflow_name"),
        deployment_id=get(item, "deployment_id"),
        status=get(item, "status"),
        created_at=get_time(item, "created_at"),  # type: ignore[arg-type]
        last_seq=get(item, "last_seq"),
        input=_payload(item, "input", store),
        started_at=get_time(item, "started_at"),
        completed_at=get_time(item, "completed_at"),
        output=_payload(item, "output", store),
        error=ErrorInfo.model_validate(error) if error else None,
        idempotency_key=get(item, "idempotency_key"),
        last_event=get(item, "last_event"),
        updated_at=get_time(item, "updated_at"),
        parent_run_id=get(item, "parent_run_id"),
        parent_step=get(item, "parent_step") or None,
        stuck=stuck,
        idle=idle,
        idle_until=get_time(item, "idle_until") if idle else None,
        item_seq=get(item, "last_seq"),
    )


def stuck_update(table: str, run_id: str, mark: StuckMark | None) -> dict[str, Any]:
    """``UpdateItem`` arguments setting (or clearing) a run's stuck mark."""
    params: dict[str, Any] = {
        "TableName": table,
        "Key": run_key(run_id),
        "ConditionExpression": "attribute_exists(PK)",
    }
    if mark is None:
        params["UpdateExpression"] = "REMOVE stuck_reason, stuck_since, stuck_kind"
        return params
    params["UpdateExpression"] = "SET stuck_reason = :r, stuck_since = :t, stuck_kind = :k"
    params["ExpressionAttributeValues"] = {
        ":r": s(mark.reason[:4000]),
        ":t": time(mark.since),
        ":k": s(mark.kind),
    }
    return params


def run_update(
    table: str,
    run_id: str,
    new_seq: int,
    update: RunUpdate | None,
    store: PayloadStore,
    last: Event,
    idle: IdleMark | None = None,
) -> Item:
    """An ``Update`` transaction item moving ``last_seq`` on, with ``update``'s fields.

    It also records the newest event's type and time (``last_event``, ``updated_at``), so
    a sweep can find runs left waiting for a turn without reading their logs, and sets
    or clears the idle mark (see ``RunRecord.idle_until``); it clears a stuck mark, since
    recording is progress. It needs no seq condition: it goes with the events, whose puts
    are conditional.
    """
    names = {"#seq": "last_seq", "#last": "last_event", "#updated": "updated_at"}
    values: dict[str, Any] = {
        ":new": n(new_seq),
        ":last": s(last.type),
        ":updated": time(last.created_at),
    }
    sets = ["#seq = :new", "#last = :last", "#updated = :updated"]
    removes = ["stuck_reason", "stuck_since", "stuck_kind"]
    if idle is not None:
        names["#idle"] = "idle_until"
        values[":idle"] = s(idle.until.isoformat() if idle.until else "")
        sets.append("#idle = :idle")
    else:
        removes.append("idle_until")
    if update is not None and update.reopen:
        for attr in ("completed_at", "error", "error_ref"):  # `error` is a reserved word
            names[f"#rm_{attr}"] = attr
            removes.append(f"#rm_{attr}")
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
            # Like any payload: a huge error message goes to S3, not over the item limit.
            fields.update(
                store.pack(
                    "error",
                    update.error.model_dump(mode="json"),
                    _prefix(run_id),
                    f"error of run {run_id}",
                )
            )
        for name, value in fields.items():
            names[f"#{name}"] = name
            values[f":{name}"] = value
            sets.append(f"#{name} = :{name}")
    return {
        "Update": {
            "TableName": table,
            "Key": run_key(run_id),
            "UpdateExpression": "SET " + ", ".join(sets) + " REMOVE " + ", ".join(removes),
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


def events_from_item(
    run_id: str, item: Item, store: PayloadStore, *, lenient: bool = False
) -> list[Event]:
    """The events an event item holds, in order.

    Raises:
        UnreadableHistoryError: naming the event that cannot be read (its payload
            object is missing, or it no longer decodes). With ``lenient`` such events
            are left out.
    """
    first = get(item, "seq")
    try:
        page = json.loads(item["events"]["S"]) if "events" in item else [item]
    except (ValueError, KeyError, TypeError) as exc:
        if lenient:
            return []
        raise _unreadable(run_id, first, "events", f"its page does not decode: {exc}") from exc
    events: list[Event] = []
    for attributes in page:
        seq, kind = get(attributes, "seq"), get(attributes, "type")
        try:
            events.append(
                parse_event(
                    {
                        "run_id": run_id,
                        "seq": seq,
                        "type": kind,
                        "correlation_id": get(attributes, "correlation_id"),
                        "created_at": get(attributes, "created_at"),
                        "data": store.unpack(attributes, "data"),
                    }
                )
            )
        except (UnreadableHistoryError, ValidationError, ValueError) as exc:
            if lenient:
                continue
            why = (
                exc.errors(include_url=False)[0]["msg"] if isinstance(exc, ValidationError) else exc
            )
            raise _unreadable(run_id, seq, kind, str(why)) from exc
    return events


def _unreadable(run_id: str, seq: Any, kind: Any, why: str) -> UnreadableHistoryError:
    return UnreadableHistoryError(
        f"event {seq} ({kind}) of run {run_id} cannot be read: {why}", run_id=run_id, seq=seq
    )


def newest_time(item: Item) -> datetime | None:
    """When the newest event an event item holds was recorded (without decoding it)."""
    if "events" not in item:
        return get_time(item, "created_at")
    try:
        last = json.loads(item["events"]["S"])[-1]
        return datetime.fromisoformat(last["created_at"]["S"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def through(item: Item) -> int:
    """The seq of the last event an event item holds."""
    last: int = get(item, "through") or get(item, "seq")
    return last


# --- hooks ----------------------------------------------------------------------


def hook_item(record: HookRecord) -> Item:
    item = {
        **hook_key(record.token),
        "run_id": s(record.run_id),
        "correlation_id": s(record.correlation_id),
        "deployment_id": s(record.deployment_id),
    }
    if record.webhook:
        item["webhook"] = {"BOOL": True}
    return item


def hook_from_item(item: Item) -> HookRecord:
    return HookRecord(
        token=get(item, "PK").removeprefix("HOOK#"),
        run_id=get(item, "run_id"),
        correlation_id=get(item, "correlation_id"),
        deployment_id=get(item, "deployment_id"),
        webhook=item.get("webhook", {}).get("BOOL") is True,
    )
