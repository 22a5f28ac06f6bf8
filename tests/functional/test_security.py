"""Security properties that can be checked in code."""

from __future__ import annotations

import ast
from pathlib import Path

from adapter import create_hook, start, workflow
from adapter.testing import LocalRuntime

PACKAGE = Path(__file__).resolve().parents[2] / "adapter"
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "marshal", "shelve", "cloudpickle"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}


def test_no_pickle_eval_or_exec_anywhere_in_the_package() -> None:
    problems = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                names = {node.func.id} & FORBIDDEN_CALLS
            else:
                continue
            bad = names & (FORBIDDEN_MODULES | FORBIDDEN_CALLS)
            if bad:
                problems.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {sorted(bad)}")
    assert problems == []
    assert len(list(PACKAGE.rglob("*.py"))) > 20  # the scan saw the package


@workflow
async def holds_a_generated_hook() -> str:
    hook = create_hook()
    return str(await hook)


def test_generated_hook_tokens_carry_at_least_128_random_bits(rt: LocalRuntime) -> None:
    runs = [start(holds_a_generated_hook) for _ in range(20)]
    rt.drain()
    tokens = {e.data.token for r in runs for e in rt.events(r.run_id) if e.type == "hook_created"}
    assert len(tokens) == 20
    # URL-safe base64: 6 bits a character; 22 characters hold 128 bits.
    assert all(len(t) >= 22 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)
    source = (PACKAGE / "core" / "_replay.py").read_text()
    assert "secrets.token_urlsafe(24)" in source  # from the OS CSPRNG, 192 bits


@workflow
async def innocent(x: int) -> int:
    return x


def test_a_crafted_idempotency_key_does_not_make_a_run_another_runs_child(
    rt: LocalRuntime,
) -> None:
    from adapter.runtime import child_runs, parent_of

    victim = start(innocent, args=[1])
    victim.return_value  # noqa: B018 - let it finish
    # The key a step of `victim` would derive for its first spawn.
    forged = start(innocent, args=[2], idempotency_key=f"{victim.run_id}:s1:1")
    forged.return_value  # noqa: B018
    assert child_runs(victim.run_id) == []
    assert parent_of(rt.runtime.get_record(forged.run_id)) is None
