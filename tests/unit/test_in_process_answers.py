"""``adapter._moto.answer_in_process``: moto's answers, without botocore's HTTP layer."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from adapter._moto import answer_in_process
from tests.unit.conftest import create_table


def _clients(service: str) -> tuple[Any, Any]:
    """A stock client, and one answered in process (each counting what reaches HTTP)."""
    stock, fast = (boto3.client(service, region_name="us-east-1") for _ in range(2))
    answer_in_process(fast)
    for client in (stock, fast):
        client.sent = []
        client.meta.events.register_first(
            "before-send", lambda request, _c=client, **_: _c.sent.append(request)
        )
    return stock, fast


def _outcome(call: Callable[[], Any]) -> Any:
    """What a call returned or raised, less what differs on every call (ids, dates)."""
    try:
        answer = call()
    except ClientError as error:
        raised = dict(error.response)
        raised.pop("ResponseMetadata")
        return {"raised": type(error).__name__, "response": raised, "text": str(error)}
    metadata = answer.pop("ResponseMetadata")
    return {"answer": answer, "status": metadata["HTTPStatusCode"]}


def _dynamodb_calls(ddb: Any, table: str) -> list[Callable[[], Any]]:
    key = {"PK": {"S": "p"}, "SK": {"S": "1"}}
    item = {**key, "n": {"N": "1"}, "doc": {"M": {"b": {"B": b"\x00\x01"}, "l": {"L": []}}}}
    exists = "attribute_exists(PK)"
    return [
        lambda: ddb.put_item(TableName=table, Item=item),
        lambda: ddb.get_item(TableName=table, Key=key),
        lambda: ddb.query(
            TableName=table,
            KeyConditionExpression="PK = :p",
            ExpressionAttributeValues={":p": {"S": "p"}},
        ),
        lambda: ddb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET n = n + :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        ),
        # An error, and one whose modeled fields (the item, the reasons) are parsed too.
        lambda: ddb.put_item(
            TableName=table,
            Item=item,
            ConditionExpression="attribute_not_exists(PK)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        ),
        lambda: ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {**key, "SK": {"S": "2"}}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": key,
                        "ConditionExpression": "n = :zero",
                        "ExpressionAttributeValues": {":zero": {"N": "0"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        ),
        lambda: ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {**key, "SK": {"S": "3"}}}},
                {"Delete": {"TableName": table, "Key": key, "ConditionExpression": exists}},
            ]
        ),
        lambda: ddb.describe_table(TableName="missing"),
    ]


def test_dynamodb_answers_are_moto_s_without_the_http_layer(aws: None) -> None:
    stock, fast = _clients("dynamodb")
    outcomes = []
    for client in (stock, fast):
        table = f"t-{len(outcomes)}"
        create_table(client, table)
        got = [_outcome(call) for call in _dynamodb_calls(client, table)]
        outcomes.append(str(got).replace(table, "<table>"))
    assert outcomes[0] == outcomes[1]
    assert "CancellationReasons" in outcomes[0] and "ConditionalCheckFailed" in outcomes[0]
    assert len(stock.sent) == 9
    assert fast.sent == []  # nothing went through botocore's HTTP layer


def _sqs_calls(sqs: Any, url: str) -> list[Callable[[], Any]]:
    return [
        lambda: sqs.send_message(
            QueueUrl=url,
            MessageBody="héllo",
            MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
        ),
        lambda: sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": "a", "MessageBody": "1"}, {"Id": "a", "MessageBody": "2"}],
        ),
        lambda: sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        ),
        lambda: sqs.send_message(QueueUrl=url + "-missing", MessageBody="x"),
        lambda: sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"]),
    ]


def test_sqs_answers_are_moto_s_without_the_http_layer(aws: None) -> None:
    stock, fast = _clients("sqs")
    outcomes = []
    for client in (stock, fast):
        url = client.create_queue(QueueName=f"q-{len(outcomes)}")["QueueUrl"]
        got = str([_outcome(call) for call in _sqs_calls(client, url)])
        # Ids and receipt handles are drawn afresh for every message.
        got = re.sub(r"'(MessageId|ReceiptHandle)': '[^']*'", r"'\1': '<id>'", got)
        outcomes.append(got.replace(url, "<url>"))
    assert outcomes[0] == outcomes[1]
    assert "BatchEntryIdsNotDistinct" in outcomes[0] and "QueueDoesNotExist" in outcomes[0]
    assert "'Body': 'héllo'" in outcomes[0]
    assert len(stock.sent) == 6
    assert fast.sent == []


def _throttled_once(put: Callable[..., Any]) -> Callable[..., Any]:
    """moto's ``put_item``, answering a throttling error the first time."""
    from moto.core.exceptions import JsonRESTError

    throttled: list[int] = []

    def once(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not throttled:
            throttled.append(1)
            raise JsonRESTError("ThrottlingException", "Rate of requests exceeds")
        return put(self, *args, **kwargs)

    return once


def test_a_retryable_answer_is_retried_as_botocore_retries_it(aws: None) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    stock, fast = _clients("dynamodb")
    create_table(stock, "t")
    for client in (stock, fast):
        with (
            mock.patch.object(
                DynamoDBBackend, "put_item", _throttled_once(DynamoDBBackend.put_item)
            ),
            mock.patch("botocore.endpoint.time.sleep") as slept,
        ):
            answer = client.put_item(TableName="t", Item={"PK": {"S": "p"}, "SK": {"S": "r"}})
        assert answer["ResponseMetadata"]["RetryAttempts"] == 1
        assert slept.call_count == 1
    assert len(stock.sent) == 1 + 2  # the table, then the put twice
    assert fast.sent == []


def test_without_moto_the_call_goes_out_over_http(aws: None) -> None:
    from botocore.exceptions import EndpointConnectionError
    from moto.core.models import botocore_stubber

    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",  # the discard port: nothing listens
        config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1),
    )
    answer_in_process(client)
    sent: list[Any] = []
    client.meta.events.register_first("before-send", lambda request, **_: sent.append(request))
    with (
        mock.patch.object(botocore_stubber, "enabled", False),
        pytest.raises(EndpointConnectionError),
    ):
        client.list_tables()
    assert sent and all(request.url.startswith("http://127.0.0.1:9/") for request in sent)
