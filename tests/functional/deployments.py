"""Two deployments of the same workflows, with different code (for deployment tests)."""

from __future__ import annotations

from adapter import Registry, create_hook, start

v1 = Registry()
v2 = Registry()


def _define(registry: Registry, label: str) -> None:
    @registry.step(name="deploy.describe")
    async def describe(text: str) -> str:
        return f"{label}: {text}"

    @registry.workflow(name="deploy.greet")
    async def greet(name: str) -> str:
        return await describe(f"hello {name}")

    @registry.workflow(name="deploy.paused")
    async def paused(token: str) -> str:
        before = await describe("before")
        await create_hook(token=token)
        after = await describe("after")
        return f"{before} / {after}"

    @registry.step(name="deploy.spawn_latest")
    async def spawn_latest(name: str) -> str:
        return start("deploy.greet", args=[name], deployment_id="latest").run_id

    @registry.step(name="deploy.spawn_default")
    async def spawn_default(name: str) -> str:
        return start("deploy.greet", args=[name]).run_id

    @registry.workflow(name="deploy.parent")
    async def parent(name: str) -> list[str]:
        return [await spawn_latest(name), await spawn_default(name)]


_define(v1, "v1")
_define(v2, "v2")
