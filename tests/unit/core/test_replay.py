"""The replay engine: one workflow turn as a pure function of a hand-built event log."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

import pytest

from adapter.core import (
    Registry,
    ScheduleStep,
    WorkflowTurn,
    decode_input,
    get_step_metadata,
    get_workflow_metadata,
    now,
    random,
    serde,
)
from adapter.core.errors import (
    FatalError,
    NonDeterminismError,
    SerializationError,
    StepFailedError,
    WorkflowContextError,
)
from adapter.core.events import RunStarted, StepCreated

from .histories import T0, History, output_of, stamp


@dataclass
class Receipt:
    order_id: str
    total: int


def make_steps(reg: Registry, calls: Counter[str]) -> dict[str, Any]:
    """Steps ``a``..``l`` that count their calls and return ``"<name>:<arg>"``."""
    steps: dict[str, Any] = {}
    for letter in "abcdefghijkl":

        def fn(x: Any = None, _name: str = letter) -> str:
            calls[_name] += 1
            return f"{_name}:{x}"

        steps[letter] = reg.step(name=letter)(fn)
    return steps


# --- sequential workflows ----------------------------------------------------------------------


def test_sequential_workflow_one_command_per_turn() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    s = make_steps(reg, calls)

    @reg.workflow(name="seq")
    async def seq(start: int) -> list[str]:
        first = await s["a"](start)
        second = await s["b"](first)
        third = await s["c"](second)
        return [first, second, third]

    history = History(reg, "seq", [7])
    outcome = history.run()

    assert output_of(outcome) == ["a:7", "b:a:7", "c:b:a:7"]
    suspended = history.turns[:-1]
    assert [t.status for t in suspended] == ["suspended"] * 3
    assert [[(c.correlation_id, c.step_name) for c in t.commands] for t in suspended] == [
        [("step_1", "a")],
        [("step_2", "b")],
        [("step_3", "c")],
    ]
    assert history.step_log() == [("step_1", "a"), ("step_2", "b"), ("step_3", "c")]
    # each step ran exactly once, although the workflow code ran four times
    assert calls == Counter({"a": 1, "b": 1, "c": 1})
    assert [e.seq for e in history.events] == list(range(1, len(history.events) + 1))


def test_command_input_holds_the_call_arguments() -> None:
    reg = Registry()

    @reg.step(name="greet")
    def greet(name: str, *, punctuation: str = ".") -> str:
        return f"hello {name}{punctuation}"

    @reg.workflow(name="w")
    async def w(name: str, *, loud: bool) -> str:
        return await greet(name, punctuation="!" if loud else ".")

    history = History(reg, "w", ["ada"], {"loud": True})
    first = history.turn()
    assert first.status == "suspended"
    (command,) = first.commands
    assert isinstance(command, ScheduleStep)
    assert decode_input(command.input) == (("ada",), {"punctuation": "!"})
    assert output_of(history.run()) == "hello ada!"


def test_recorded_results_keep_their_types() -> None:
    reg = Registry()

    @reg.step(name="checkout")
    def checkout() -> tuple[Receipt, bytes]:
        return Receipt("o-1", 42), b"\x00pdf"

    @reg.workflow(name="w")
    async def w() -> dict[str, Any]:
        receipt, pdf = await checkout()
        assert isinstance(receipt, Receipt)
        return {"total": receipt.total, "pdf_size": len(pdf), "kind": type(pdf).__name__}

    assert output_of(History(reg, "w").run()) == {"total": 42, "pdf_size": 4, "kind": "bytes"}


def test_workflow_without_steps_completes_in_one_turn() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w(a: int, b: int) -> dict[str, Any]:
        await asyncio.sleep(0)  # a bare yield to the loop is fine
        return {"sum": a + b, "pair": (a, b)}

    history = History(reg, "w", [2, 3])
    outcome = history.turn()
    assert outcome.status == "completed"
    assert outcome.commands == []
    assert outcome.output == serde.to_json({"sum": 5, "pair": (2, 3)})
    assert output_of(outcome) == {"sum": 5, "pair": (2, 3)}


def test_replay_does_not_reissue_recorded_steps_and_reports_in_flight() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    s = make_steps(reg, calls)

    @reg.workflow(name="w")
    async def w() -> list[str]:
        return list(await asyncio.gather(*(s["a"](i) for i in range(12))))

    history = History(reg, "w")
    history.record(history.turn().commands)
    for cid in ("step_1", "step_5", "step_9"):
        history.complete(cid, "done")

    outcome = history.turn()
    assert outcome.status == "suspended"
    assert outcome.commands == []
    # numeric order: step_10 after step_9
    assert outcome.in_flight == [f"step_{i}" for i in (2, 3, 4, 6, 7, 8, 10, 11, 12)]
    assert calls == Counter()  # replay never runs step functions


def test_history_must_start_with_run_created() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> None:
        return None

    definition = reg.get_workflow("w")
    with pytest.raises(ValueError, match="run_created"):
        WorkflowTurn(definition, [])
    with pytest.raises(ValueError, match="run_created"):
        WorkflowTurn(definition, [RunStarted(run_id="r1", seq=1, created_at=T0)])


# --- concurrency ---------------------------------------------------------------------------------


def test_gather_of_twelve_with_reversed_completions() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    s = make_steps(reg, calls)
    letters = "abcdefghijkl"

    @reg.workflow(name="fan")
    async def fan() -> list[str]:
        return list(await asyncio.gather(*(s[x](i) for i, x in enumerate(letters))))

    history = History(reg, "fan")
    first = history.turn()
    assert first.status == "suspended"
    assert [(c.correlation_id, c.step_name) for c in first.commands] == [
        (f"step_{i + 1}", x) for i, x in enumerate(letters)
    ]
    history.record(first.commands)
    for command in reversed(first.commands):
        history.execute(command)
    # completions were logged last-first
    completed = [e.correlation_id for e in history.events if e.type == "step_completed"]
    assert completed == [f"step_{i}" for i in range(12, 0, -1)]

    final = history.turn()
    expected = [f"{x}:{i}" for i, x in enumerate(letters)]
    assert output_of(final) == expected
    assert calls == Counter({x: 1 for x in letters})
    # replaying the final history is a pure function of it
    again, third = history.replay(), history.replay()
    assert again == final == third


def test_gather_driven_to_the_end_with_reversed_batches() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    s = make_steps(reg, calls)

    @reg.workflow(name="w")
    async def w() -> list[Any]:
        firsts = await asyncio.gather(s["a"](1), s["b"](2), s["c"](3))
        last = await s["d"](list(firsts))
        return [*firsts, last]

    history = History(reg, "w")
    outcome = history.run(reverse=True)
    assert output_of(outcome) == ["a:1", "b:2", "c:3", "d:['a:1', 'b:2', 'c:3']"]
    assert history.step_log() == [
        ("step_1", "a"),
        ("step_2", "b"),
        ("step_3", "c"),
        ("step_4", "d"),
    ]
    assert set(calls.values()) == {1}


def test_inline_child_workflow_shares_the_counter() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    s = make_steps(reg, calls)

    @reg.workflow(name="child")
    async def child(x: str) -> str:
        one = await s["b"](x)
        return await s["c"](one)

    @reg.workflow(name="parent")
    async def parent() -> list[str]:
        head = await s["a"]("p")
        middle = await child(head)
        tail = await s["d"](middle)
        return [head, middle, tail]

    history = History(reg, "parent")
    outcome = history.run()
    assert output_of(outcome) == ["a:p", "c:b:a:p", "d:c:b:a:p"]
    assert history.step_log() == [
        ("step_1", "a"),
        ("step_2", "b"),
        ("step_3", "c"),
        ("step_4", "d"),
    ]
    # the child never became a run of its own: one log, one workflow
    assert [e.type for e in history.events].count("run_created") == 1
    assert calls == Counter({"a": 1, "b": 1, "c": 1, "d": 1})


def test_concurrent_inline_children_take_ids_in_request_order() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    s = make_steps(reg, calls)

    @reg.workflow(name="child")
    async def child(x: int) -> str:
        one = await s["a"](x)
        return await s["b"](one)

    @reg.workflow(name="parent")
    async def parent() -> list[str]:
        return list(await asyncio.gather(child(1), child(2)))

    history = History(reg, "parent")
    first = history.turn()
    assert [(c.correlation_id, decode_input(c.input)[0]) for c in first.commands] == [
        ("step_1", (1,)),
        ("step_2", (2,)),
    ]
    assert output_of(history.run()) == ["b:a:1", "b:a:2"]
    assert [cid for cid, _ in history.step_log()] == [f"step_{i}" for i in range(1, 5)]


def test_child_workflow_error_reaches_the_parent() -> None:
    reg = Registry()

    @reg.workflow(name="child")
    async def child() -> None:
        raise KeyError("missing")

    @reg.workflow(name="parent")
    async def parent() -> str:
        try:
            await child()
        except KeyError as exc:
            return f"caught {exc}"
        return "not reached"

    assert output_of(History(reg, "parent").run()) == "caught 'missing'"


def _race_registry() -> Registry:
    reg = Registry()
    calls: Counter[str] = Counter()
    s = make_steps(reg, calls)

    @reg.workflow(name="race")
    async def race() -> dict[str, Any]:
        fa, fb = s["a"]("x"), s["b"]("y")
        done, pending = await asyncio.wait({fa, fb}, return_when=asyncio.FIRST_COMPLETED)
        (winner,) = done
        return {
            "winner": "a" if winner is fa else "b",
            "result": winner.result(),
            "pending": len(pending),
        }

    return reg


@pytest.mark.parametrize(("first", "winner"), [("step_1", "a"), ("step_2", "b")])
def test_wait_first_completed_follows_the_log(first: str, winner: str) -> None:
    history = History(_race_registry(), "race")
    commands = history.turn().commands
    assert [c.correlation_id for c in commands] == ["step_1", "step_2"]
    history.record(commands)
    by_id = {c.correlation_id: c for c in commands}
    # the log records both completions; the one recorded first wins
    history.execute(by_id[first])
    history.execute(by_id["step_2" if first == "step_1" else "step_1"])

    outcomes = [history.replay() for _ in range(3)]
    assert output_of(outcomes[0]) == {
        "winner": winner,
        "result": f"{winner}:{'x' if winner == 'a' else 'y'}",
        "pending": 1,
    }
    assert outcomes[0] == outcomes[1] == outcomes[2]


def test_wait_first_completed_with_only_one_completion_recorded() -> None:
    history = History(_race_registry(), "race")
    history.record(history.turn().commands)
    history.complete("step_2", "b won")
    outcome = history.turn()
    assert output_of(outcome) == {"winner": "b", "result": "b won", "pending": 1}


def test_task_group() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    s = make_steps(reg, calls)

    async def branch(tag: str) -> str:
        one = await s["a"](tag)
        return await s["b"](one)

    @reg.workflow(name="tg")
    async def tg() -> list[str]:
        async with asyncio.TaskGroup() as group:
            left = group.create_task(branch("L"))
            right = group.create_task(branch("R"))
        return [left.result(), right.result()]

    history = History(reg, "tg")
    first = history.turn()
    assert [(c.correlation_id, c.step_name) for c in first.commands] == [
        ("step_1", "a"),
        ("step_2", "a"),
    ]
    outcome = history.run(reverse=True)
    assert output_of(outcome) == ["b:a:L", "b:a:R"]
    assert len(history.step_log()) == 4
    assert calls == Counter({"a": 2, "b": 2})
    assert history.replay() == outcome


def test_task_group_branch_failure_is_an_exception_group() -> None:
    reg = Registry()

    @reg.step(name="ok")
    def ok() -> str:
        return "ok"

    @reg.step(name="broken")
    def broken() -> str:
        raise RuntimeError("disk full")

    @reg.workflow(name="tg")
    async def tg() -> dict[str, Any]:
        async def call(step: Any) -> Any:
            return await step()  # TaskGroup.create_task wants a coroutine, a step gives a future

        failed: list[str] = []
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(call(ok))
                group.create_task(call(broken))
        except* StepFailedError as eg:
            failed = [e.step_name for e in eg.exceptions]  # type: ignore[attr-defined]
        return {"failed": failed}

    assert output_of(History(reg, "tg").run()) == {"failed": ["broken"]}


# --- step failures -----------------------------------------------------------------------------


def test_failed_step_raises_step_failed_error_the_workflow_can_catch() -> None:
    reg = Registry()

    @reg.step(name="flaky")
    def flaky() -> None:
        return None

    @reg.workflow(name="w")
    async def w() -> dict[str, Any]:
        try:
            await flaky()
        except StepFailedError as exc:
            return {
                "step": exc.step_name,
                "attempt": exc.attempt,
                "type": exc.original_type,
                "message": exc.message,
                "text": str(exc),
            }
        return {}

    history = History(reg, "w")
    history.record(history.turn().commands)
    history.fail("step_1", step_name="flaky", type="TimeoutError", message="slow", attempt=4)
    assert output_of(history.turn()) == {
        "step": "flaky",
        "attempt": 4,
        "type": "TimeoutError",
        "message": "slow",
        "text": "step 'flaky' failed after 4 attempt(s): TimeoutError: slow",
    }


def test_fatal_step_failure_raises_fatal_error() -> None:
    reg = Registry()

    @reg.step(name="charge")
    def charge() -> None:
        return None

    @reg.workflow(name="w")
    async def w() -> dict[str, Any]:
        try:
            await charge()
        except StepFailedError:
            return {"wrong": "fatal failures are not StepFailedError"}
        except FatalError as exc:
            return {
                "step": exc.step_name,
                "attempt": exc.attempt,
                "message": exc.message,
                "type": exc.original_type,
            }
        return {}

    history = History(reg, "w")
    history.record(history.turn().commands)
    history.fail(
        "step_1", step_name="charge", type="FatalError", message="card declined", fatal=True
    )
    assert output_of(history.turn()) == {
        "step": "charge",
        "attempt": 1,
        "message": "card declined",
        "type": "FatalError",
    }


def test_step_raising_fatal_error_reaches_workflow_as_fatal() -> None:
    reg = Registry()

    @reg.step(name="validate")
    def validate(x: int) -> int:
        if x < 0:
            raise FatalError("negative input")
        return x

    @reg.workflow(name="w")
    async def w() -> str:
        try:
            await validate(-1)
        except FatalError as exc:
            return f"{exc.step_name}: {exc}"
        return "no"

    assert output_of(History(reg, "w").run()) == "validate: negative input"


def test_uncaught_error_fails_the_run() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w(amount: int) -> None:
        raise ValueError(f"bad amount {amount}")

    outcome = History(reg, "w", [-3]).turn()
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.type == "ValueError"
    assert outcome.error.message == "bad amount -3"
    assert outcome.error.stack is not None and "ValueError: bad amount -3" in outcome.error.stack
    assert outcome.commands == []
    assert outcome.output is None


def test_uncaught_step_failure_fails_the_run() -> None:
    reg = Registry()

    @reg.step(name="flaky")
    def flaky() -> None:
        raise ConnectionError("reset by peer")

    @reg.workflow(name="w")
    async def w() -> None:
        await flaky()

    outcome = History(reg, "w").run()
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.type == "StepFailedError"
    assert "'flaky'" in outcome.error.message
    assert "ConnectionError: reset by peer" in outcome.error.message


# --- non-determinism ---------------------------------------------------------------------------


def _const(value: str) -> Any:
    def fn() -> str:
        return value

    return fn


def _two_versions() -> tuple[Registry, dict[str, Any], Registry, dict[str, Any]]:
    """Two deployments of the same workflow name, each with steps ``A``, ``B``, ``C``."""
    v1, v2 = Registry(), Registry()
    s1 = {n: v1.step(name=n)(_const(n.lower())) for n in "ABC"}
    s2 = {n: v2.step(name=n)(_const(n.lower())) for n in "ABC"}
    return v1, s1, v2, s2


def test_changed_step_order_is_non_determinism() -> None:
    v1, s1, v2, s2 = _two_versions()

    @v1.workflow(name="w")
    async def w1() -> list[str]:
        return [await s1["A"](), await s1["B"]()]

    @v2.workflow(name="w")
    async def w2() -> list[str]:
        return [await s2["B"](), await s2["A"]()]

    history = History(v1, "w")
    history.record(history.turn().commands)
    assert history.step_log() == [("step_1", "A")]

    outcome = WorkflowTurn(v2.get_workflow("w"), history.events).run()
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.type == "NonDeterminismError"
    assert "'A'" in outcome.error.message
    assert "'B'" in outcome.error.message
    assert outcome.commands == []


def test_non_determinism_after_a_replayed_step_and_caught_by_the_code() -> None:
    v1, s1, v2, s2 = _two_versions()

    @v1.workflow(name="w")
    async def w1() -> list[str]:
        return [await s1["A"](), await s1["B"]()]

    @v2.workflow(name="w")
    async def w2() -> list[str]:
        first = await s2["A"]()
        try:
            return [first, await s2["C"]()]
        except Exception:  # even swallowing the error must not hide it
            return [first, "swallowed"]

    history = History(v1, "w")
    assert output_of(history.run()) == ["a", "b"]

    outcome = WorkflowTurn(v2.get_workflow("w"), history.events).run()
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.type == "NonDeterminismError"
    assert "'B'" in outcome.error.message and "'C'" in outcome.error.message
    assert "position 2" in outcome.error.message


def test_logged_step_the_code_no_longer_requests_is_non_determinism() -> None:
    v1, s1, v2, s2 = _two_versions()

    @v1.workflow(name="w")
    async def w1() -> list[str]:
        return list(await asyncio.gather(s1["A"](), s1["B"]()))

    @v2.workflow(name="w")
    async def w2() -> list[str]:
        return [await s2["A"](), await s2["B"]()]  # now sequential: B waits for A

    history = History(v1, "w")
    history.record(history.turn().commands)
    assert history.step_log() == [("step_1", "A"), ("step_2", "B")]

    outcome = WorkflowTurn(v2.get_workflow("w"), history.events).run()
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.type == "NonDeterminismError"
    assert "'B'" in outcome.error.message
    assert "step_2" in outcome.error.message


def test_non_determinism_error_carries_expected_and_actual() -> None:
    err = NonDeterminismError("m", expected="step 'A'", actual="step 'B'")
    assert (err.expected, err.actual, str(err)) == ("step 'A'", "step 'B'", "m")


# --- misuse --------------------------------------------------------------------------------------


def test_unserializable_return_value_fails_the_run() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> set[int]:
        return {1, 2}

    outcome = History(reg, "w").turn()
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.type == "SerializationError"
    assert "serialize" in outcome.error.message
    assert "return value of workflow 'w'" in outcome.error.message


def test_unserializable_step_argument_raises_in_the_workflow() -> None:
    reg = Registry()

    @reg.step(name="s")
    def s(x: Any) -> None:
        return None

    @reg.workflow(name="w")
    async def w() -> str:
        try:
            await s(object())
        except SerializationError as exc:
            return str(exc)
        return "no"

    message = output_of(History(reg, "w").turn())
    assert "arguments of step 's'" in message
    assert "'object'" in message


def test_threads_are_refused_in_workflow_code() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> None:
        await asyncio.to_thread(print, "no")

    outcome = History(reg, "w").turn()
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.type == "WorkflowContextError"
    assert "@step" in outcome.error.message


def test_cleanup_code_in_finally_does_not_run_steps_when_a_turn_ends() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    s = make_steps(reg, calls)

    @reg.workflow(name="w")
    async def w() -> str:
        try:
            return await s["a"]()
        finally:
            s["b"]("cleanup")  # a step call while the suspended turn is torn down

    history = History(reg, "w")
    first = history.turn()
    assert first.status == "suspended"
    assert [c.step_name for c in first.commands] == ["a"]
    assert calls == Counter()  # the step function was not called as a plain function
    outcome = history.run()
    assert output_of(outcome) == "a:None"


# --- now(), random(), metadata --------------------------------------------------------------------


def test_now_and_random_are_replay_stable() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    s = make_steps(reg, calls)
    seen: list[list[Any]] = []

    @reg.workflow(name="w")
    async def w() -> list[Any]:
        values: list[Any] = [now(), random()]
        seen.append(values)
        await s["a"]()
        values += [now(), random()]
        await s["b"]()
        values += [now(), random(), random()]
        return values

    history = History(reg, "w", run_id="wrun_fixed")
    final = output_of(history.run())
    times, numbers = final[0::2][:3], [final[1], final[3], final[5], final[6]]
    # now() is the time of the latest event the code has seen
    assert times == [stamp(1), stamp(3), stamp(5)]
    assert all(t.tzinfo is not None for t in times)
    assert all(0.0 <= n < 1.0 for n in numbers)
    assert len(set(numbers)) == len(numbers)
    # every turn saw the same values at the same point of the code
    assert all(prefix == final[: len(prefix)] for prefix in seen)
    assert len(seen) == 3
    # and replaying the finished history again and again gives the same values
    assert [output_of(history.replay()) for _ in range(3)] == [final] * 3


def test_random_is_seeded_by_the_run_id() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> list[float]:
        return [random() for _ in range(3)]

    one = output_of(History(reg, "w", run_id="run-one").turn())
    one_again = output_of(History(reg, "w", run_id="run-one").turn())
    two = output_of(History(reg, "w", run_id="run-two").turn())
    assert one == one_again
    assert one != two


def test_now_follows_the_recorded_time_not_the_wall_clock() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    s = make_steps(reg, calls)

    @reg.workflow(name="w")
    async def w() -> timedelta:
        before = now()
        await s["a"]()
        return now() - before

    history = History(reg, "w")
    # run_created (seq 1), step_created (seq 2), step_completed (seq 3): two seconds apart
    assert output_of(history.run()) == timedelta(seconds=2)


def test_workflow_metadata_inside_the_workflow() -> None:
    reg = Registry()

    @reg.workflow(name="orders.fulfil")
    async def fulfil() -> dict[str, Any]:
        meta = get_workflow_metadata()
        return {
            "run_id": meta.run_id,
            "workflow_name": meta.workflow_name,
            "deployment_id": meta.deployment_id,
        }

    history = History(reg, "orders.fulfil", run_id="wrun_123", deployment_id="v7")
    assert output_of(history.turn()) == {
        "run_id": "wrun_123",
        "workflow_name": "orders.fulfil",
        "deployment_id": "v7",
    }


def test_workflow_metadata_started_at_is_replay_stable() -> None:
    """The runtime records ``run_started`` after the first turn (with its first commands).

    Workflow code must see the same metadata on every replay, or code such as
    ``now() - get_workflow_metadata().started_at`` takes different branches per turn.
    """
    reg = Registry()
    calls: Counter[str] = Counter()
    s = make_steps(reg, calls)
    seen: list[Any] = []

    @reg.workflow(name="w")
    async def w() -> str:
        seen.append(get_workflow_metadata().started_at)
        return await s["a"]()

    history = History(reg, "w")
    first = history.turn()
    history.run_started()  # what run_workflow_turn records along with the first commands
    history.record(first.commands)
    history.execute(first.commands[0])
    assert output_of(history.turn()) == "a:None"
    assert [e.type for e in history.events] == [
        "run_created",
        "run_started",
        "step_created",
        "step_completed",
    ]
    assert len(seen) == 2
    assert seen[0] == seen[1], f"started_at differs between turns: {seen}"


def test_metadata_getters_outside_their_context() -> None:
    with pytest.raises(WorkflowContextError, match="workflow code"):
        get_workflow_metadata()
    with pytest.raises(WorkflowContextError, match="inside a step"):
        get_step_metadata()


def test_step_metadata_is_not_available_in_workflow_code() -> None:
    reg = Registry()

    @reg.workflow(name="w")
    async def w() -> str:
        try:
            get_step_metadata()
        except WorkflowContextError:
            return "refused"
        return "allowed"

    assert output_of(History(reg, "w").turn()) == "refused"


def test_now_and_random_outside_workflows_use_the_real_clock_and_rng() -> None:
    from datetime import datetime

    before = datetime.now(UTC)
    value = now()
    after = datetime.now(UTC)
    assert before <= value <= after
    assert value.tzinfo is not None
    numbers = {random() for _ in range(5)}
    assert len(numbers) == 5
    assert all(0.0 <= n < 1.0 for n in numbers)


def test_step_called_outside_a_workflow_just_runs() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    s = make_steps(reg, calls)

    @reg.step(name="async_double")
    async def async_double(x: int) -> int:
        return 2 * x

    assert s["a"](5) == "a:5"
    assert calls == Counter({"a": 1})
    assert asyncio.run(async_double(21)) == 42


def test_turn_leaves_no_workflow_context_behind() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    s = make_steps(reg, calls)

    @reg.workflow(name="w")
    async def w() -> str:
        return await s["a"]()

    History(reg, "w").turn()
    # after a turn, a step call is a plain call again
    assert s["a"]("plain") == "a:plain"
    with pytest.raises(WorkflowContextError):
        get_workflow_metadata()


def test_step_created_events_match_commands_exactly() -> None:
    reg = Registry()
    calls: Counter[str] = Counter()
    s = make_steps(reg, calls)

    @reg.workflow(name="w")
    async def w() -> list[str]:
        return list(await asyncio.gather(s["a"](1), s["b"](x=2)))

    history = History(reg, "w")
    commands = history.turn().commands
    history.record(commands)
    created = [e for e in history.events if isinstance(e, StepCreated)]
    assert [(e.correlation_id, e.data.step_name, e.data.input) for e in created] == [
        (c.correlation_id, c.step_name, c.input) for c in commands
    ]
    assert decode_input(created[1].data.input) == ((), {"x": 2})
