"""Random workflow shapes: a plan (JSON), the workflow that interprets it, an oracle.

A plan is a tree of nodes:

==========  ===================================================================
``step``    await one of three steps (sync and async) with an argument
``fail``    await a step that raises ``FatalError``; the workflow catches it
``sleep``   a durable ``sleep`` of some seconds
``hook``    ``create_hook`` and collect ``n`` payloads (``await``/``async for``)
``seq``     children one after another
``gather``  children under ``asyncio.gather``
``race``    children under ``asyncio.wait(FIRST_COMPLETED)``: ``all`` then awaits
            the rest (result in argument order), ``first`` keeps only the first
            to finish, ``cancel`` also cancels the others
``inline``  the child plan run by awaiting the interpreter workflow itself
            (an inline child workflow: its steps land in the parent's log)
==========  ===================================================================

The interpreter is registered on a fresh :class:`adapter.Registry` by
:func:`build_registry`; the plan travels as the run's input.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import strategies as st

from adapter import FatalError, Registry, create_hook, sleep

WORKFLOW = "prop.interp"
STEP_NAMES = ("prop.a", "prop.b", "prop.c")
SLEEPS = (1, 45, 600, 3600)

Node = dict[str, Any]


def token_for(prefix: str, node: Node) -> str:
    """A hook's token: unique per run (``prefix``) and node; it carries the count."""
    return f"{prefix}.{node['id']}.{node['n']}"


def payload_for(token: str, index: int) -> str:
    """The ``index``-th payload a driver sends to a hook (independent of the prefix)."""
    _, node_id, _ = token.rsplit(".", 2)
    return f"p{node_id}.{index}"


def payload_count(token: str) -> int:
    return int(token.rsplit(".", 1)[1])


def build_registry() -> Registry:
    """A fresh registry with the plan interpreter and its steps."""
    reg = Registry()

    def make_step(name: str, is_async: bool) -> Any:
        if is_async:

            async def async_fn(node_id: int, arg: int) -> str:
                await asyncio.sleep(0)
                return f"{name}:{node_id}:{arg}"

            return reg.step(name=name)(async_fn)

        def fn(node_id: int, arg: int) -> str:
            return f"{name}:{node_id}:{arg}"

        return reg.step(name=name)(fn)

    steps = {name: make_step(name, i == 1) for i, name in enumerate(STEP_NAMES)}

    @reg.step(name="prop.explode")
    def explode(node_id: int) -> str:
        raise FatalError(f"node {node_id} explodes")

    async def run_node(node: Node, prefix: str) -> Any:
        kind = node["k"]
        if kind == "step":
            return await steps[node["fn"]](node["id"], node["arg"])
        if kind == "fail":
            try:
                await explode(node["id"])
            except FatalError:
                return f"caught:{node['id']}"
            return "not reached"
        if kind == "sleep":
            await sleep(node["s"])
            return f"slept:{node['id']}"
        if kind == "hook":
            hook = create_hook(token=token_for(prefix, node))
            if node["n"] == 1:
                return [await hook]
            received = []
            async for payload in hook:
                received.append(payload)
                if len(received) == node["n"]:
                    break
            return received
        if kind == "seq":
            return [await run_node(child, prefix) for child in node["c"]]
        if kind == "gather":
            return list(await asyncio.gather(*(run_node(c, prefix) for c in node["c"])))
        if kind == "race":
            tasks = [asyncio.ensure_future(run_node(c, prefix)) for c in node["c"]]
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if node["mode"] == "all":
                await asyncio.gather(*pending)
                return [t.result() for t in tasks]
            first = min(done, key=tasks.index)
            if node["mode"] == "cancel":
                for task in pending:
                    task.cancel()
            return {"winner": tasks.index(first), "value": first.result()}
        if kind == "inline":
            return await interp(node["c"][0], prefix)
        raise AssertionError(f"unknown node {node!r}")

    @reg.workflow(name=WORKFLOW)
    async def interp(plan: Node, prefix: str) -> Any:
        return await run_node(plan, prefix)

    return reg


def evaluate(node: Node) -> Any:
    """What the interpreter returns for a deterministic plan (no ``first``/``cancel``)."""
    kind = node["k"]
    if kind == "step":
        return f"{node['fn']}:{node['id']}:{node['arg']}"
    if kind == "fail":
        return f"caught:{node['id']}"
    if kind == "sleep":
        return f"slept:{node['id']}"
    if kind == "hook":
        token = f"x.{node['id']}.{node['n']}"
        return [payload_for(token, i) for i in range(node["n"])]
    if kind in ("seq", "gather"):
        return [evaluate(c) for c in node["c"]]
    if kind == "race":
        assert node["mode"] == "all", "only `all` races are deterministic"
        return [evaluate(c) for c in node["c"]]
    if kind == "inline":
        return evaluate(node["c"][0])
    raise AssertionError(f"unknown node {node!r}")


def size(node: Node) -> int:
    return 1 + sum(size(c) for c in node.get("c", ()))


# --- strategies ------------------------------------------------------------------------------


def _leaves() -> st.SearchStrategy[tuple[Any, ...]]:
    return st.one_of(
        st.tuples(st.just("step"), st.sampled_from(STEP_NAMES), st.integers(0, 9)),
        st.tuples(st.just("fail")),
        st.tuples(st.just("sleep"), st.sampled_from(SLEEPS)),
        st.tuples(st.just("hook"), st.integers(1, 2)),
    )


def shapes(*, deterministic: bool, depth: int) -> st.SearchStrategy[tuple[Any, ...]]:
    """Plan shapes nested up to ``depth`` levels, composites twice as likely as leaves."""
    modes = ["all"] if deterministic else ["all", "first", "cancel"]
    if depth == 0:
        return _leaves()
    kids = shapes(deterministic=deterministic, depth=depth - 1)
    composite = st.one_of(
        st.tuples(st.just("seq"), st.lists(kids, min_size=1, max_size=3)),
        st.tuples(st.just("gather"), st.lists(kids, min_size=1, max_size=3)),
        st.tuples(st.just("race"), st.sampled_from(modes), st.lists(kids, min_size=2, max_size=3)),
        st.tuples(st.just("inline"), kids),
    )
    return st.one_of(_leaves(), composite, composite)


def to_plan(shape: tuple[Any, ...]) -> Node:
    """Number the nodes of a shape depth-first; return the plan."""
    counter = iter(range(1, 10_000))

    def build(s: tuple[Any, ...]) -> Node:
        node: Node = {"k": s[0], "id": next(counter)}
        kind = s[0]
        if kind == "step":
            node.update(fn=s[1], arg=s[2])
        elif kind == "sleep":
            node["s"] = s[1]
        elif kind == "hook":
            node["n"] = s[1]
        elif kind in ("seq", "gather"):
            node["c"] = [build(c) for c in s[1]]
        elif kind == "race":
            node["mode"] = s[1]
            node["c"] = [build(c) for c in s[2]]
        elif kind == "inline":
            node["c"] = [build(s[1])]
        return node

    return build(shape)


def plans(*, deterministic: bool, depth: int = 3) -> st.SearchStrategy[Node]:
    return shapes(deterministic=deterministic, depth=depth).map(to_plan)
