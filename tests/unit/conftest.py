"""Fixtures of the unit tests: moto as LocalRuntime runs it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from moto import mock_aws

from adapter._moto import tuned


@pytest.fixture
def aws() -> Iterator[None]:
    """moto mocking AWS, tuned by ``adapter._moto``, with made-up credentials."""
    env = {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    with mock.patch.dict(os.environ, env), mock_aws(), tuned():
        yield


def create_table(ddb: Any, name: str) -> None:
    """A table keyed as the runtime's: ``PK`` (hash) and ``SK`` (range), both strings."""
    ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
