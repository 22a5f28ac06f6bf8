"""``ADAPTER_FUNCTION_TIMEOUT``: the template's function timeout reaches the runtime."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
from moto import mock_aws

from adapter.core.errors import ConfigurationError
from adapter.runtime import env_runtime, reset_env_runtime
from adapter.world._config import ENV_FUNCTION_TIMEOUT, FUNCTION_TIMEOUT, AwsConfig
from adapter.world.aws import create_resources

REQUIRED = {
    "ADAPTER_TABLE_NAME": "t",
    "ADAPTER_WORKFLOW_QUEUE_URL": "w",
    "ADAPTER_STEP_QUEUE_URL": "s",
}


def test_the_function_timeout_is_read_from_the_environment() -> None:
    assert AwsConfig.from_env({**REQUIRED, ENV_FUNCTION_TIMEOUT: "120"}).function_timeout == 120
    assert AwsConfig.from_env(dict(REQUIRED)).function_timeout == FUNCTION_TIMEOUT == 300


@pytest.mark.parametrize("bad", ["abc", "0", "-5", "1.5"])
def test_a_bad_function_timeout_is_refused_naming_the_variable(bad: str) -> None:
    with pytest.raises(ConfigurationError, match=ENV_FUNCTION_TIMEOUT):
        AwsConfig.from_env({**REQUIRED, ENV_FUNCTION_TIMEOUT: bad})


@pytest.fixture
def resources(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("AWS_ENDPOINT_URL") or key.startswith("ADAPTER_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        for key, value in create_resources("timeout-test").items():
            monkeypatch.setenv(key, value)
        reset_env_runtime()
        yield
    reset_env_runtime()


def test_the_environment_runtime_leases_steps_for_one_function_timeout(
    resources: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an invocation deadline, a claimed step is owned for the function timeout."""
    monkeypatch.setenv(ENV_FUNCTION_TIMEOUT, "42")
    reset_env_runtime()
    runtime = env_runtime()
    now = runtime.clock()
    assert runtime.step_lease == timedelta(seconds=42)
    assert runtime.lease_until(now, None) == now + timedelta(seconds=42)
    # In an invocation, the deadline rules (plus the margin of a few seconds).
    deadline = now + timedelta(seconds=10)
    assert runtime.lease_until(now, deadline) == deadline + timedelta(seconds=5)
