"""``adapter.testing.replay``: changed code checked against logs LocalRuntime recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapter import NonDeterminismError, WorkflowNotRegisteredError, resume_hook, start
from adapter.core.events import Event
from adapter.runtime import event_json
from adapter.testing import LocalRuntime, load_events, replay

from . import replaying as r


@pytest.fixture(scope="module")
def logs() -> Iterator[dict[str, list[Event]]]:
    """A v1 run in flight (waiting on its hook) and one that completed."""
    with LocalRuntime(registry=r.v1) as rt:
        waiting = start("orders.flow", args=["lamp", 30])
        done = start("orders.flow", args=["desk", 70])
        rt.drain()
        resume_hook("approve:desk", "ok")
        assert done.return_value == {"steps": ["reserved desk", "shipped desk"], "paid": 70}
        assert waiting.status == "running"
        yield {"waiting": rt.events(waiting.run_id), "done": rt.events(done.run_id)}


def test_the_same_code_replays_both_logs(logs: dict[str, list[Event]]) -> None:
    done = replay(logs["done"], r.flow)
    assert (done.status, done.recorded_status) == ("completed", "completed")
    assert done.output == {"steps": ["reserved desk", "shipped desk"], "paid": 70}
    assert done.commands == [] and done.events == len(logs["done"])

    waiting = replay(logs["waiting"], r.flow)
    assert (waiting.status, waiting.recorded_status) == ("suspended", "running")
    assert waiting.commands == []  # everything it waits on is in the log already
    # Another deployment's copy of the code replays them too; by default, the
    # workflow the log names is looked up in the registry given.
    assert replay(logs["done"], registry=r.same).output == done.output


def test_a_renamed_step_is_reported_with_its_seq(logs: dict[str, list[Event]]) -> None:
    with pytest.raises(NonDeterminismError) as caught:
        replay(logs["waiting"], r.flow_renamed)
    err = caught.value
    recorded = next(e for e in logs["waiting"] if e.correlation_id == "step_2")
    assert recorded.type == "step_created" and err.seq == recorded.seq
    assert (err.expected, err.actual, err.correlation_id) == (
        "step orders.charge",
        "step orders.bill",
        "step_2",
    )
    assert f"as step_2 (seq {recorded.seq})" in str(err)
    assert "'orders.charge'" in str(err) and "'orders.bill'" in str(err)


def test_swapped_steps_and_a_step_added_before_an_awaited_one(
    logs: dict[str, list[Event]],
) -> None:
    with pytest.raises(NonDeterminismError) as swapped:
        replay(logs["waiting"], r.flow_swapped)
    assert (swapped.value.expected, swapped.value.actual) == (
        "step orders.reserve",
        "step orders.charge",
    )
    assert swapped.value.correlation_id == "step_1"

    with pytest.raises(NonDeterminismError) as audited:
        replay(logs["done"], r.flow_audited)
    assert (audited.value.expected, audited.value.actual) == (
        "step orders.reserve",
        "step orders.audit",
    )


def test_a_step_the_code_no_longer_asks_for(logs: dict[str, list[Event]]) -> None:
    with pytest.raises(NonDeterminismError) as caught:
        replay(logs["done"], r.flow_shortened)
    err = caught.value
    ship = next(
        e for e in logs["done"] if e.type == "step_created" and e.data.step_name == "orders.ship"
    )
    assert err.seq == ship.seq and err.expected == "step 'orders.ship'"
    assert "the workflow now returns before requesting it" in str(err)
    # The run in flight has not got there yet: for it, the change is harmless.
    assert replay(logs["waiting"], r.flow_shortened).status == "suspended"


def test_a_step_added_at_the_end(logs: dict[str, list[Event]]) -> None:
    # A live run replays it (and would schedule orders.notify after shipping)...
    assert replay(logs["waiting"], r.flow_extended).status == "suspended"
    # ...but a run the log says completed would now ask for more.
    with pytest.raises(NonDeterminismError) as caught:
        replay(logs["done"], r.flow_extended)
    end = next(e for e in logs["done"] if e.type == "run_completed")
    assert caught.value.seq == end.seq and caught.value.expected == "run_completed"
    assert "asks for step 'orders.notify'" in str(caught.value)


def test_exported_json_replays(logs: dict[str, list[Event]], tmp_path: Path) -> None:
    # What `adapter runs events RUN_ID --raw` prints: payloads keep their types.
    document = {"events": [e.model_dump(mode="json") for e in logs["done"]]}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(document))
    for source in (document, document["events"], path, str(path), json.dumps(document)):
        result = replay(source, r.flow)  # type: ignore[arg-type]
        assert result.output == {"steps": ["reserved desk", "shipped desk"], "paid": 70}
    with pytest.raises(NonDeterminismError):
        replay(path, r.flow_renamed)
    # `--follow --json` prints one event per line.
    lines = tmp_path / "run.jsonl"
    lines.write_text("\n".join(json.dumps(event_json(e)) for e in logs["waiting"]))
    assert replay(lines, r.flow).status == "suspended"


def test_exported_payloads_reach_the_code_as_plain_json(logs: dict[str, list[Event]]) -> None:
    stored = load_events([e.model_dump(mode="json") for e in logs["done"]])
    assert stored == logs["done"]  # the stored shape keeps every type
    exported = load_events([event_json(e) for e in logs["done"]])
    [charged] = [e for e in exported if e.type == "step_completed" and e.correlation_id == "step_2"]
    assert charged.data.result == {"amount": 70, "at": "2024-05-01T00:00:00+00:00"}
    assert [e.type for e in exported] == [e.type for e in logs["done"]]
    # The code reads `receipt.amount` from a dict now: the error says how to export.
    with pytest.raises(NonDeterminismError) as caught:
        replay([event_json(e) for e in logs["done"]], r.flow)
    assert "fails with AttributeError" in str(caught.value)
    assert "adapter runs events RUN_ID --raw" in str(caught.value)


def test_bad_input_is_a_clear_error(logs: dict[str, list[Event]], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="starts with its run_created"):
        replay(logs["done"][1:], r.flow)
    with pytest.raises(ValueError, match="2 runs"):
        replay([*logs["done"], *logs["waiting"][1:]], r.flow)
    with pytest.raises(ValueError, match="same seq"):
        replay([*logs["done"], logs["done"][-1]], r.flow)
    with pytest.raises(ValueError, match=r'\{"events"'):
        replay({"runs": []}, r.flow)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="neither JSON nor JSON lines"):
        replay(broken, r.flow)
    with pytest.raises(WorkflowNotRegisteredError):
        replay(logs["done"], "orders.nope", registry=r.v1)
    with pytest.raises(TypeError, match="not a @workflow"):
        replay(logs["done"], len)
