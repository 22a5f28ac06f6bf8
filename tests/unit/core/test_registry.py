"""Registry: the @workflow / @step decorators and lookups."""

from __future__ import annotations

import asyncio

import pytest

from adapter.core import Registry, workflow_name_of
from adapter.core._registry import DEFAULT_MAX_RETRIES
from adapter.core.errors import (
    NotFoundError,
    StepNotRegisteredError,
    WorkflowNotRegisteredError,
)


def test_bare_step_decorator_uses_module_and_qualname() -> None:
    reg = Registry()

    @reg.step
    def charge(amount: int) -> int:
        return amount * 2

    name = f"{__name__}.test_bare_step_decorator_uses_module_and_qualname.<locals>.charge"
    definition = reg.get_step(name)
    assert definition.name == name
    assert definition.fn.__name__ == "charge"
    assert definition.max_retries == DEFAULT_MAX_RETRIES == 3
    assert definition.is_async is False
    assert charge.__adapter_step__ is definition  # type: ignore[attr-defined]
    assert charge.__name__ == "charge"
    assert charge.__wrapped__ is definition.fn  # type: ignore[attr-defined]


def test_parameterised_step_decorator() -> None:
    reg = Registry()

    @reg.step(name="payments.charge", max_retries=7)
    async def charge(amount: int) -> int:
        return amount

    definition = reg.get_step("payments.charge")
    assert definition.max_retries == 7
    assert definition.is_async is True
    assert charge.__adapter_step__ is definition  # type: ignore[attr-defined]


def test_step_with_zero_retries_is_allowed() -> None:
    reg = Registry()

    @reg.step(name="once", max_retries=0)
    def once() -> None:
        return None

    assert reg.get_step("once").max_retries == 0


@pytest.mark.parametrize("bad", [-1, -10])
def test_negative_max_retries_raises(bad: int) -> None:
    reg = Registry()
    with pytest.raises(ValueError, match="max_retries"):
        reg.step(name="s", max_retries=bad)
    with pytest.raises(StepNotRegisteredError):
        reg.get_step("s")


def test_bare_workflow_decorator_uses_module_and_qualname() -> None:
    reg = Registry()

    @reg.workflow
    async def onboard(user: str) -> str:
        return f"hi {user}"

    name = f"{__name__}.test_bare_workflow_decorator_uses_module_and_qualname.<locals>.onboard"
    assert reg.workflow_names() == [name]
    definition = reg.get_workflow(name)
    assert definition.name == name
    assert onboard.__adapter_workflow__ is definition  # type: ignore[attr-defined]
    assert workflow_name_of(onboard) == name


def test_parameterised_workflow_decorator() -> None:
    reg = Registry()

    @reg.workflow(name="orders.fulfil")
    async def fulfil() -> None:
        return None

    assert reg.get_workflow("orders.fulfil").fn is fulfil.__wrapped__  # type: ignore[attr-defined]
    assert workflow_name_of(fulfil) == "orders.fulfil"
    assert workflow_name_of("any.name") == "any.name"


def test_workflow_name_of_rejects_undecorated_functions() -> None:
    async def plain() -> None:
        return None

    with pytest.raises(TypeError, match="not a @workflow"):
        workflow_name_of(plain)


def test_workflow_must_be_async() -> None:
    reg = Registry()

    def sync_flow() -> None:
        return None

    with pytest.raises(TypeError, match="async def"):
        reg.workflow(sync_flow)
    with pytest.raises(TypeError, match="async def"):
        reg.workflow(name="named")(sync_flow)
    assert reg.workflow_names() == []


def test_async_generator_is_not_a_workflow() -> None:
    reg = Registry()

    async def gen():  # type: ignore[no-untyped-def]
        yield 1

    with pytest.raises(TypeError):
        reg.workflow(gen)


def test_different_function_under_existing_name_raises() -> None:
    reg = Registry()

    @reg.step(name="shared")
    def first() -> int:
        return 1

    with pytest.raises(ValueError, match="'shared' is already registered"):

        @reg.step(name="shared")
        def second() -> int:
            return 2

    assert reg.get_step("shared").fn() == 1

    @reg.workflow(name="wf")
    async def wf_one() -> None:
        return None

    with pytest.raises(ValueError, match="already registered"):

        @reg.workflow(name="wf")
        async def wf_two() -> None:
            return None


def test_same_function_registered_twice_replaces_itself() -> None:
    reg = Registry()

    def make() -> object:
        @reg.step(name="again")
        def again() -> str:
            return "ok"

        return again

    make()
    make()  # same module and qualname: a module imported twice
    assert reg.get_step("again").fn() == "ok"


def test_workflows_and_steps_have_separate_namespaces() -> None:
    reg = Registry()

    @reg.step(name="x")
    def as_step() -> None:
        return None

    @reg.workflow(name="x")
    async def as_workflow() -> None:
        return None

    assert reg.get_step("x").fn is as_step.__wrapped__  # type: ignore[attr-defined]
    assert reg.get_workflow("x").fn is as_workflow.__wrapped__  # type: ignore[attr-defined]


def test_registries_are_independent() -> None:
    v1, v2 = Registry(), Registry()

    @v1.workflow(name="orders.fulfil")
    async def old() -> str:
        return "v1"

    @v2.workflow(name="orders.fulfil")
    async def new() -> str:
        return "v2"

    assert asyncio.run(v1.get_workflow("orders.fulfil").fn()) == "v1"
    assert asyncio.run(v2.get_workflow("orders.fulfil").fn()) == "v2"


def test_unknown_workflow_lists_known_names() -> None:
    reg = Registry()

    @reg.workflow(name="zeta")
    async def z() -> None:
        return None

    @reg.workflow(name="alpha")
    async def a() -> None:
        return None

    with pytest.raises(WorkflowNotRegisteredError) as info:
        reg.get_workflow("missing")
    assert info.value.name == "missing"
    message = str(info.value)
    assert "'missing'" in message
    assert "registered: alpha, zeta" in message
    assert isinstance(info.value, NotFoundError)
    assert isinstance(info.value, LookupError)
    assert reg.workflow_names() == ["alpha", "zeta"]


def test_unknown_workflow_in_empty_registry() -> None:
    with pytest.raises(WorkflowNotRegisteredError) as info:
        Registry().get_workflow("nope")
    assert str(info.value) == "workflow 'nope' is not registered"


def test_unknown_step_raises() -> None:
    with pytest.raises(StepNotRegisteredError, match="'nope'"):
        Registry().get_step("nope")


def test_decorated_functions_are_plain_calls_outside_workflows() -> None:
    reg = Registry()

    @reg.step
    def add(a: int, b: int) -> int:
        return a + b

    @reg.step
    async def add_async(a: int, b: int) -> int:
        return a + b

    @reg.workflow
    async def flow(x: int) -> int:
        return add(x, 1) + await add_async(x, 2)

    assert add(1, 2) == 3
    assert asyncio.run(add_async(2, 3)) == 5
    assert asyncio.run(flow(10)) == 23
