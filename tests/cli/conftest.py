from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from typer.testing import CliRunner

from adapter.runtime import reset_env_runtime
from adapter.testing import LocalRuntime


@pytest.fixture(autouse=True)
def _isolated_environment() -> Iterator[None]:
    """The CLI points this process at a stack through os.environ and boto3's default
    session: put both back after each test."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    boto3.DEFAULT_SESSION = None
    reset_env_runtime()


@pytest.fixture
def rt() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        yield runtime


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
