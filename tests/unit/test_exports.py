"""The pinned public API of ``adapter``, and a core that imports without AWS."""

from __future__ import annotations

import textwrap

import pytest

import adapter
from adapter.core.errors import AdapterError
from tests._python import run_python

PUBLIC_API = {
    # decorators and the client API
    "workflow",
    "step",
    "start",
    "get_run",
    "list_runs",
    "Run",
    "Registry",
    # workflow-side functions
    "sleep",
    "now",
    "random",
    "create_hook",
    "resume_hook",
    "create_webhook",
    "get_step_metadata",
    "get_workflow_metadata",
    # errors
    "FatalError",
    "RetryableError",
    "StepFailedError",
    "WorkflowRunFailedError",
    "WorkflowRunCancelledError",
    "WorkflowNotRegisteredError",
    "HookNotFoundError",
    "NonDeterminismError",
    # the errors the README names, and the rest a caller may catch
    "AdapterError",
    "DeploymentNotFoundError",
    "HookConflictError",
    "IdempotencyConflictError",
    "InvalidHookTokenError",
    "PayloadTooLargeError",
    "RunNotFoundError",
    "RunTimeoutError",
    "SerializationError",
    "StepNotRegisteredError",
    "UnreadableHistoryError",
    "WorkflowArgumentsError",
    "WorkflowContextError",
}

ERRORS = {name for name in PUBLIC_API if name.endswith("Error")}


def test_all_is_exactly_the_pinned_api() -> None:
    exported = list(adapter.__all__)
    assert len(exported) == len(set(exported)), "duplicates in adapter.__all__"
    missing = PUBLIC_API - set(exported)
    extra = set(exported) - PUBLIC_API
    assert (missing, extra) == (set(), set())


@pytest.mark.parametrize("name", sorted(PUBLIC_API))
def test_public_name_is_importable(name: str) -> None:
    assert hasattr(adapter, name), f"adapter.{name} is missing"
    assert getattr(adapter, name) is not None


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_public_errors_are_adapter_errors(name: str) -> None:
    cls = getattr(adapter, name)
    assert isinstance(cls, type)
    assert issubclass(cls, AdapterError)


def test_every_name_in_all_exists() -> None:
    assert [name for name in adapter.__all__ if not hasattr(adapter, name)] == []


_NO_AWS_SCRIPT = textwrap.dedent(
    """
    import importlib.abc
    import sys

    BLOCKED = {"boto3", "botocore", "moto", "aws_lambda_powertools"}
    preloaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not preloaded, f"already imported at start-up: {preloaded}"


    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked import of {name!r}")
            return None


    sys.meta_path.insert(0, Block())

    import adapter.core
    from adapter.core import Registry, WorkflowTurn, encode_input, serde
    from adapter.core import durations, events, messages
    from datetime import datetime, timezone

    reg = Registry()

    @reg.step(name="double")
    def double(x):
        return 2 * x

    @reg.workflow(name="w")
    async def w(x):
        return await double(x)

    at = datetime(2024, 1, 1, tzinfo=timezone.utc)
    created = events.RunCreated(
        run_id="r1",
        seq=1,
        created_at=at,
        data=events.RunCreatedData(
            workflow_name="w", input=encode_input([21], {}, what="x"), deployment_id="1"
        ),
    )
    first = WorkflowTurn(reg.get_workflow("w"), [created]).run()
    assert first.status == "suspended", first
    (command,) = first.commands
    log = [
        created,
        events.StepCreated(
            run_id="r1", seq=2, correlation_id=command.correlation_id, created_at=at,
            data=events.StepCreatedData(step_name=command.step_name, input=command.input),
        ),
        events.StepCompleted(
            run_id="r1", seq=3, correlation_id=command.correlation_id, created_at=at,
            data=events.StepCompletedData(result=serde.to_json(42)),
        ),
    ]
    final = WorkflowTurn(reg.get_workflow("w"), log).run()
    assert final.status == "completed", final
    assert durations.parse_duration("1s").total_seconds() == 1
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not leaked, leaked
    print("OK", serde.from_json(final.output))
    """
)


def test_core_imports_and_replays_without_aws_packages() -> None:
    result = run_python(_NO_AWS_SCRIPT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK 42"


def test_the_blocker_really_blocks() -> None:
    """The script's finder must make an AWS import fail, or the test above proves nothing."""
    script = _NO_AWS_SCRIPT.split("import adapter.core", 1)[0] + "import boto3\n"
    result = run_python(script)
    assert result.returncode != 0
    assert "blocked import of 'boto3'" in result.stderr


def test_every_error_the_readme_names_is_importable_from_adapter() -> None:
    import builtins
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    named = set(re.findall(r"\b([A-Z][A-Za-z]*Error)\b", readme)) - set(dir(builtins))
    assert named, "the README names no error: the pattern is wrong"
    assert sorted(n for n in named if not hasattr(adapter, n)) == []
