"""``adapter._moto``'s speed patches make moto faster without changing any answer it gives."""

from __future__ import annotations

import os
import re
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from adapter._moto import is_plain_attribute, original, plain_parsed
from tests.unit.conftest import create_table

ITEMS: list[dict[str, Any]] = [
    {"PK": {"S": "p"}, "SK": {"S": "1"}, "n": {"N": "42"}, "flag": {"BOOL": True}},
    {"PK": {"S": "p"}, "SK": {"S": "2"}, "nothing": {"NULL": True}, "tags": {"SS": ["a", "b"]}},
    {"PK": {"S": "p"}, "SK": {"S": "3"}, "nums": {"NS": ["1", "2.5"]}},
    {
        "PK": {"S": "p"},
        "SK": {"S": "4"},
        "doc": {"M": {"list": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"deep": {"BOOL": False}}}]}}},
    },
    # Binary values take moto's own walk (base64 on the wire).
    {"PK": {"S": "p"}, "SK": {"S": "5"}, "blob": {"B": b"\x00\x01binary"}},
    {"PK": {"S": "p"}, "SK": {"S": "6"}, "blobs": {"BS": [b"a", b"b"]}, "s": {"S": "text"}},
]


@pytest.fixture
def table(aws: None) -> Any:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    create_table(ddb, "t")
    for item in ITEMS:
        ddb.put_item(TableName="t", Item=item)
    return ddb


def _answers(ddb: Any) -> list[Any]:
    query = ddb.query(
        TableName="t",
        KeyConditionExpression="PK = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
    )
    got = [ddb.get_item(TableName="t", Key={"PK": {"S": "p"}, "SK": item["SK"]}) for item in ITEMS]
    for answer in [query, *got]:
        answer.pop("ResponseMetadata")
    return [query, *got]


def test_items_read_the_same_with_and_without_the_tuning(table: Any) -> None:
    from moto.core.serialize import BaseJSONSerializer

    tuned = _answers(table)
    walk = original(BaseJSONSerializer, "_serialize_type_structure")
    with mock.patch.object(BaseJSONSerializer, "_serialize_type_structure", walk):
        stock = _answers(table)
    assert tuned == stock
    assert tuned[0]["Items"] == ITEMS  # and both are what was written


def _stored(ddb: Any, prefix: str) -> list[dict[str, Any]]:
    found = ddb.query(
        TableName="t",
        KeyConditionExpression="PK = :p AND begins_with(SK, :s)",
        ExpressionAttributeValues={":p": {"S": "p"}, ":s": {"S": prefix}},
    )["Items"]
    return [{**item, "SK": {"S": item["SK"]["S"].removeprefix(prefix)}} for item in found]


def test_items_are_written_the_same_with_and_without_the_tuning(table: Any) -> None:
    from moto.core.parse import BaseJSONParser

    walk = original(BaseJSONParser, "_parse_structure")
    walked: list[Any] = []

    def counted(self: Any, shape: Any, value: Any) -> Any:
        if shape.name == "AttributeValue":
            walked.append(value)
        return walk(self, shape, value)

    with mock.patch.object(BaseJSONParser, "_parse_structure", plain_parsed(counted)):
        for item in ITEMS:
            table.put_item(TableName="t", Item={**item, "SK": {"S": f"tuned{item['SK']['S']}"}})
    with mock.patch.object(BaseJSONParser, "_parse_structure", walk):
        for item in ITEMS:
            table.put_item(TableName="t", Item={**item, "SK": {"S": f"stock{item['SK']['S']}"}})
    assert _stored(table, "tuned") == _stored(table, "stock") == ITEMS
    # Only the binary values were walked (base64 on the wire): item 5's B, item 6's BS.
    assert walked == [{"B": "AAFiaW5hcnk="}, {"BS": ["YQ==", "Yg=="]}]


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ({"S": "x"}, True),
        ({"N": "1"}, True),
        ({"L": [{"M": {"a": {"NULL": True}}}]}, True),
        ({"B": "AAE="}, False),
        ({"L": [{"B": "AAE="}]}, False),
        ({"S": "x", "N": "1"}, False),
        ({"N": 1}, False),
    ],
)
def test_only_plain_attribute_values_skip_the_walk(value: Any, plain: bool) -> None:
    assert is_plain_attribute(value) is plain


def test_remembered_names_convert_as_moto_does(aws: None) -> None:
    import moto.core.responses as responses
    import moto.core.utils as utils

    remembered = utils.camelcase_to_underscores
    assert responses.camelcase_to_underscores is remembered  # references swapped too
    stock = remembered.__wrapped__  # type: ignore[attr-defined]
    assert stock is original(utils, "camelcase_to_underscores")
    for name in ("TransactWriteItems", "ReceiveMessage", "MessageRetentionPeriod", "getHTTPCode"):
        assert remembered(name) == stock(name)


@pytest.mark.parametrize("tuned", [True, False])
def test_the_item_size_limit_is_moto_s(table: Any, tuned: bool) -> None:
    from botocore.exceptions import ClientError
    from moto.dynamodb.models.dynamo_type import Item

    init = Item.__init__ if tuned else original(Item, "__init__")
    with mock.patch.object(Item, "__init__", init):
        for size, fits in ((404_000, True), (405_100, False)):
            item = {"PK": {"S": "p"}, "SK": {"S": f"big{size}"}, "v": {"S": "x" * size}}
            if fits:
                table.put_item(TableName="t", Item=item)
            else:
                with pytest.raises(ClientError) as refused:
                    table.put_item(TableName="t", Item=item)
                assert refused.value.response["Error"]["Code"] == "ValidationException"
                assert "size" in refused.value.response["Error"]["Message"]


def _tree(node: Any) -> Any:
    from moto.dynamodb.parsing.ast_nodes import Node

    if isinstance(node, Node):
        return (type(node).__name__, [_tree(child) for child in node.children or []])
    return node


def test_an_update_expression_parsed_once_applies_each_call_s_own_values(table: Any) -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    expression = "SET #n = :n, #tags = list_append(if_not_exists(#tags, :empty), :tag)"
    key = {"PK": {"S": "p"}, "SK": {"S": "1"}}
    for n in range(3):
        table.update_item(
            TableName="t",
            Key=key,
            UpdateExpression=expression,
            ExpressionAttributeNames={"#n": "n", "#tags": "tags"},
            ExpressionAttributeValues={
                ":n": {"N": str(n)},
                ":empty": {"L": []},
                ":tag": {"L": [{"S": f"t{n}"}]},
            },
        )
    item = table.get_item(TableName="t", Key=key)["Item"]
    assert item["n"] == {"N": "2"}
    assert item["tags"] == {"L": [{"S": "t0"}, {"S": "t1"}, {"S": "t2"}]}
    # The kept tree is moto's parse of the text, untouched by the updates.
    stock = original(UpdateExpressionParser, "make")
    assert _tree(UpdateExpressionParser.make(expression)) == _tree(stock(expression))
    # A bad expression is refused every time (errors are not kept).
    from botocore.exceptions import ClientError

    for _ in range(2):
        with pytest.raises(ClientError):
            table.update_item(TableName="t", Key=key, UpdateExpression="SET = broken")


def test_a_condition_parsed_once_is_judged_with_each_call_s_values(table: Any) -> None:
    from botocore.exceptions import ClientError

    key = {"PK": {"S": "p"}, "SK": {"S": "1"}}  # stored with n = 42
    condition = "#n = :expected"
    for expected, holds in (("42", True), ("7", False), ("42", True), ("7", False)):
        call = {
            "TableName": "t",
            "Key": key,
            "UpdateExpression": "SET flag = :flag",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#n": "n"},
            "ExpressionAttributeValues": {":expected": {"N": expected}, ":flag": {"BOOL": holds}},
        }
        if holds:
            table.update_item(**call)
        else:
            with pytest.raises(ClientError) as failed:
                table.update_item(**call)
            assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    # moto's own check of unused names still sees what the kept parse found.
    for _ in range(2):
        with pytest.raises(ClientError) as unused:
            table.put_item(
                TableName="t",
                Item={"PK": {"S": "p"}, "SK": {"S": "9"}},
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": "PK", "#unused": "x"},
            )
        assert "unused" in unused.value.response["Error"]["Message"].lower()


def test_random_strings_are_drawn_as_moto_draws_them(aws: None) -> None:
    import string

    import moto.sqs.models as sqs_models
    from moto.moto_api._internal import mock_random
    from moto.moto_api._internal.moto_random import MotoRandom

    tuned, stock = MotoRandom.get_random_string, original(MotoRandom, "get_random_string")
    for kwargs in ({}, {"length": 52}, {"include_digits": False}, {"lower_case": True}):
        mine, theirs = tuned(mock_random, **kwargs), stock(mock_random, **kwargs)
        assert len(mine) == len(theirs)
        pool = set(string.ascii_letters + string.digits)
        if kwargs.get("include_digits") is False:
            pool -= set(string.digits)
        if kwargs.get("lower_case"):
            pool = {c.lower() for c in pool}
        assert set(mine) <= pool
    hexed = MotoRandom.get_random_hex(mock_random, 12)
    assert len(hexed) == 12 and set(hexed) <= set("0123456789abcdef")
    handle = sqs_models.generate_receipt_handle()
    assert len(handle) == 185 and set(handle) <= set(string.ascii_lowercase)
    # Every character of the alphabet is drawn, at about its share.
    from adapter._moto import draw

    many = draw(mock_random, string.ascii_letters + string.digits, 62_000)
    shares = [many.count(c) for c in string.ascii_letters + string.digits]
    assert min(shares) > 700 and max(shares) < 1_400
    # Drawn from moto's own source: a seed still repeats the same strings.
    mock_random.seed(7)
    first = [tuned(mock_random), sqs_models.generate_receipt_handle()]
    mock_random.seed(7)
    assert [tuned(mock_random), sqs_models.generate_receipt_handle()] == first


def test_answers_are_serialized_the_same_with_keys_found_once(table: Any) -> None:
    from moto.core.serialize import XFormedAttributePicker

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="picked")["QueueUrl"]

    def answers() -> list[Any]:
        got = [
            *_answers(table),
            table.describe_table(TableName="t")["Table"]["KeySchema"],
            table.put_item(TableName="t", Item=ITEMS[0], ReturnValues="ALL_OLD"),
            table.update_item(
                TableName="t",
                Key={"PK": {"S": "p"}, "SK": {"S": "1"}},
                UpdateExpression="SET n = n + :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="UPDATED_NEW",
                ReturnConsumedCapacity="TOTAL",
            ),
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"],
            sqs.send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": "a", "MessageBody": "1"}, {"Id": "b", "MessageBody": ""}],
            ),
        ]
        for answer in got:
            if isinstance(answer, dict):
                answer.pop("ResponseMetadata", None)
        return got

    def scrubbed(got: list[Any]) -> str:
        # Each send draws fresh ids, and moves the queue's counts and dates.
        text = re.sub(r"'(MessageId|\w*Timestamp|\w*Messages\w*)': '[^']*'", "<v>", str(got))
        return re.sub(r"'(N)': '\d+'", "<n>", text)

    tuned = answers()
    stock = original(XFormedAttributePicker, "get_possible_keys")
    with mock.patch.object(XFormedAttributePicker, "get_possible_keys", stock):
        assert scrubbed(answers()) == scrubbed(tuned)
    assert "ConsumedCapacity" in str(tuned) and "Successful" in str(tuned)


def test_a_send_walks_no_queue_and_counts_stay_moto_s(table: Any) -> None:
    from moto.sqs import models

    sqs = boto3.client("sqs", region_name="us-east-1")
    plain = sqs.create_queue(QueueName="plain")["QueueUrl"]
    fifo = sqs.create_queue(
        QueueName="dedup.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    for n in range(30):
        sqs.send_message(QueueUrl=plain, MessageBody=str(n), DelaySeconds=n % 3)
    sqs.receive_message(QueueUrl=plain, MaxNumberOfMessages=4)
    queue = models.sqs_backends["123456789012"]["us-east-1"].queues["plain"]
    for name in ("approximate_number_of_messages", "approximate_number_of_messages_delayed"):
        stock = original(models.Queue, name)
        assert getattr(queue, name) == stock.fget(queue)
    counts = sqs.get_queue_attributes(QueueUrl=plain, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "4"
    assert (
        int(counts["ApproximateNumberOfMessages"])
        + int(counts["ApproximateNumberOfMessagesDelayed"])
        == 26
    )

    walked: list[int] = []
    visible = models.Message.visible
    with mock.patch.object(
        models.Message, "visible", property(lambda m: walked.append(1) or visible.fget(m))
    ):
        sqs.send_message(QueueUrl=plain, MessageBody="one more")
    assert walked == []
    # Content-based deduplication still reads its attribute in a send.
    for _ in range(2):
        sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")
    assert len(models.sqs_backends["123456789012"]["us-east-1"].queues["dedup.fifo"]._messages) == 1


def test_the_retention_check_judges_as_moto_s(table: Any) -> None:
    from moto.sqs import models

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="kept", Attributes={"MessageRetentionPeriod": "60"})[
        "QueueUrl"
    ]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    backend = models.sqs_backends["123456789012"]["us-east-1"]
    (message,) = backend.queues["kept"]._messages
    tuned = models.SQSBackend.is_message_valid_based_on_retention_period
    stock = original(models.SQSBackend, "is_message_valid_based_on_retention_period")
    sent = message.sent_timestamp / 1000
    for now in (sent, sent + 59.9, sent + 60, sent + 61):
        with mock.patch.object(models, "unix_time", lambda now=now: now):
            assert tuned(backend, "kept", message) == stock(backend, "kept", message)
            judged = tuned(backend, "kept", message)
        assert judged == (now < sent + 60)


def test_requests_are_routed_once_and_answered_as_moto_answers_them(table: Any) -> None:
    import moto.backend_index as backend_index
    from moto.core.botocore_stubber import BotocoreStubber

    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.create_queue(QueueName="q")

    def answers() -> list[Any]:
        got = [
            table.list_tables(),
            sqs.list_queues(),
            table.get_item(TableName="t", Key={"PK": {"S": "p"}, "SK": {"S": "1"}}),
        ]
        with pytest.raises(Exception) as missing:
            table.describe_table(TableName="missing")
        for answer in got:
            answer.pop("ResponseMetadata")
        return [*got, type(missing.value).__name__, str(missing.value)]

    tuned = answers()
    stock = original(BotocoreStubber, "process_request")
    with mock.patch.object(BotocoreStubber, "process_request", stock):
        assert answers() == tuned
    looked: list[str] = []

    class Watched(list):  # type: ignore[type-arg]
        def __iter__(self) -> Any:
            looked.append("searched")
            return super().__iter__()

    with mock.patch.object(
        backend_index, "backend_url_patterns", Watched(backend_index.backend_url_patterns)
    ):
        assert answers() == tuned
    assert looked == []  # every URL was routed before: no search of moto's patterns


def _prepared_requests() -> list[Any]:
    """The requests botocore prepares for a few calls of each protocol we use."""
    from moto.core.botocore_stubber import BotocoreStubber

    seen: list[Any] = []
    process = BotocoreStubber.process_request

    def recording(self: Any, request: Any) -> Any:
        seen.append(request)
        return process(self, request)

    env = {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    with (
        mock.patch.dict(os.environ, env),
        mock_aws(),
        mock.patch.object(BotocoreStubber, "process_request", recording),
    ):
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.list_tables(Limit=5)
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q-1")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="héllo\\n", DelaySeconds=1)
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bucket-1")
        s3.put_object(
            Bucket="bucket-1", Key="a b/ç?x=1", Body=b"\x00bytes", Metadata={"my_key": "v"}
        )
        s3.list_objects_v2(Bucket="bucket-1", Prefix="a b/")
        lam = boto3.client("lambda", region_name="us-east-1")
        lam.list_functions(MaxItems=3)
        iam = boto3.client("iam", region_name="us-east-1")  # a form-encoded body
        iam.create_user(UserName="u-1", Path="/a b/")
    return seen


def test_a_request_built_from_its_template_is_the_one_moto_builds() -> None:
    from moto.core.request import normalize_request

    from adapter._moto import request_builder

    build = request_builder()
    requests = _prepared_requests()
    assert len(requests) >= 7
    fast = 0
    for request in requests * 2:  # the second time from the template
        mine, theirs = build(request), normalize_request(request)
        mine_env, their_env = dict(mine.environ), dict(theirs.environ)
        for environ in (mine_env, their_env):
            environ.pop("werkzeug.request")
            environ.pop("wsgi.errors")
        assert mine_env.pop("wsgi.input").getvalue() == their_env.pop("wsgi.input").getvalue()
        assert list(mine_env.items()) == list(their_env.items())  # in the same order too
        assert list(mine.headers) == list(theirs.headers)
        for name in (
            *("data", "form", "files", "url_root", "raw_url"),
            *("method", "path", "content_type", "content_length"),
        ):
            assert getattr(mine, name) == getattr(theirs, name), name
        fast += mine is not theirs and request.body not in (None, b"", "")
    assert fast >= 8  # the requests with a body took the template
