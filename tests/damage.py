"""Damage done to a stack's storage behind the runtime's back (as an operator, a
lifecycle rule or a newer version would): for tests that the runtime survives it."""

from __future__ import annotations

import json
import random
from typing import Any

import boto3

from adapter.testing import LocalRuntime


def delete_payload_objects(rt: LocalRuntime) -> int:
    """Delete every object of the payload bucket; return how many there were."""
    s3 = boto3.client("s3")
    bucket = rt.env["ADAPTER_BUCKET_NAME"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    for key in keys:
        s3.delete_object(Bucket=bucket, Key=key)
    return len(keys)


def corrupt_event(rt: LocalRuntime, run_id: str, rng: random.Random | None = None) -> None:
    """Make one event item of the run undecodable (the last one, or one ``rng`` picks)."""
    ddb = boto3.client("dynamodb")
    table = rt.env["ADAPTER_TABLE_NAME"]
    found = ddb.query(
        TableName=table,
        KeyConditionExpression="PK = :p",
        ExpressionAttributeValues={":p": {"S": f"RUN#{run_id}"}},
    )["Items"]
    events: list[Any] = [i for i in found if i["SK"]["S"] != "RUN"]
    item = rng.choice(events) if rng else max(events, key=lambda i: i["SK"]["S"])
    if "events" in item:  # a page of several events
        page = json.loads(item["events"]["S"])
        page[-1]["type"] = {"S": "event_from_a_newer_version"}
        item["events"] = {"S": json.dumps(page)}
    else:
        item["type"] = {"S": "event_from_a_newer_version"}
    ddb.put_item(TableName=table, Item=item)
