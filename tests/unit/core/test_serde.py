"""serde: the one JSON serializer of user values."""

from __future__ import annotations

import json
import math
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from adapter.core import serde
from adapter.core.errors import AdapterError, SerializationError


class Order(BaseModel):
    order_id: str
    amount: Decimal
    items: list[str]
    placed_at: datetime


@dataclass
class Point:
    x: int
    y: int
    label: str = "p"
    when: datetime | None = None
    tags: tuple[str, ...] = ()


@dataclass
class WithDerived:
    base: int
    derived: int = field(init=False)

    def __post_init__(self) -> None:
        self.derived = self.base * 2


@dataclass
class Outer:
    point: Point
    points: list[Point]


class Sentinel:
    """A plain class: naming it in a payload must never instantiate it."""

    instances = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        Sentinel.instances += 1


def roundtrip(value: Any) -> Any:
    """Through real JSON text, as values travel through the event log."""
    text = serde.dumps(value, what="test value")
    assert isinstance(text, str)
    # the tree is plain JSON: json can read what dumps wrote, and to_json agrees with it
    assert json.loads(text) == serde.to_json(value)
    return serde.loads(text)


# --- round trips ----------------------------------------------------------------------------

AWARE = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
OFFSET = datetime(2024, 5, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))

ROUND_TRIPS = [
    None,
    True,
    False,
    0,
    -17,
    2**70,
    1.5,
    -0.25,
    "",
    "text",
    "ünïcødé ✓",
    [],
    {},
    [1, "a", None, True, 2.5],
    {"a": 1, "b": "two", "c": None},
    {"outer": {"inner": [1, {"deep": [True, None, {"x": "y"}]}]}},
    [[1, 2], [3, [4, [5]]]],
    AWARE,
    OFFSET,
    date(2024, 2, 29),
    timedelta(days=3, seconds=7, microseconds=250),
    timedelta(0),
    b"",
    b"\x00\xff binary \x10",
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    Decimal("1.10"),
    Decimal("-12345678901234567890.000000001"),
]


@pytest.mark.parametrize("value", ROUND_TRIPS, ids=repr)
def test_round_trip_keeps_value_and_type(value: Any) -> None:
    back = roundtrip(value)
    assert back == value
    assert type(back) is type(value)


def test_decimal_keeps_its_exact_text() -> None:
    assert str(roundtrip(Decimal("1.10"))) == "1.10"


def test_datetime_keeps_its_offset_and_microseconds() -> None:
    back = roundtrip(OFFSET)
    assert back.utcoffset() == timedelta(hours=2)
    assert roundtrip(AWARE).microsecond == 123456


def test_date_is_not_confused_with_datetime() -> None:
    assert type(roundtrip(date(2020, 1, 1))) is date
    assert type(roundtrip(datetime(2020, 1, 1, tzinfo=UTC))) is datetime


def test_bool_stays_bool_not_int() -> None:
    back = roundtrip([True, 1, False, 0])
    assert [type(v) for v in back] == [bool, int, bool, int]


def test_tuple_comes_back_as_tuple() -> None:
    assert serde.to_json((1, "a")) == {"$t": "tuple", "v": [1, "a"]}
    back = roundtrip((1, "a", (2, (3,)), [4, (5, 6)]))
    assert back == (1, "a", (2, (3,)), [4, (5, 6)])
    assert type(back) is tuple
    assert type(back[2]) is tuple and type(back[2][1]) is tuple
    assert type(back[3]) is list and type(back[3][1]) is tuple
    assert roundtrip(()) == ()


def test_bytearray_comes_back_as_bytes() -> None:
    assert roundtrip(bytearray(b"abc")) == b"abc"


def test_supported_types_nested_in_containers() -> None:
    value = {
        "when": AWARE,
        "ids": [uuid.UUID(int=1), uuid.UUID(int=2)],
        "money": {"total": Decimal("9.99")},
        "raw": (b"\x01", timedelta(minutes=5)),
    }
    assert roundtrip(value) == value


def test_pydantic_model_round_trip() -> None:
    order = Order(order_id="o-1", amount=Decimal("19.90"), items=["a", "b"], placed_at=AWARE)
    tree = serde.to_json(order)
    assert tree["$t"] == "model"
    assert tree["c"] == f"{__name__}:Order"
    back = roundtrip(order)
    assert type(back) is Order
    assert back == order
    assert back.amount == Decimal("19.90")


def test_pydantic_models_inside_containers() -> None:
    orders = [
        Order(order_id=str(i), amount=Decimal(i), items=[], placed_at=AWARE) for i in range(3)
    ]
    back = roundtrip({"orders": orders, "first": (orders[0],)})
    assert back == {"orders": orders, "first": (orders[0],)}


def test_dataclass_round_trip() -> None:
    point = Point(1, 2, "corner", when=AWARE, tags=("a", "b"))
    tree = serde.to_json(point)
    assert tree["$t"] == "dataclass"
    assert tree["c"] == f"{__name__}:Point"
    back = roundtrip(point)
    assert type(back) is Point
    assert back == point
    assert type(back.tags) is tuple
    assert back.when == AWARE


def test_nested_dataclasses_round_trip() -> None:
    value = Outer(point=Point(0, 0), points=[Point(1, 1), Point(2, 2, "b")])
    back = roundtrip(value)
    assert back == value
    assert type(back.point) is Point
    assert all(type(p) is Point for p in back.points)


def test_dataclass_init_false_field_is_recomputed() -> None:
    back = roundtrip(WithDerived(base=21))
    assert back == WithDerived(base=21)
    assert back.derived == 42


@pytest.mark.parametrize(
    "value",
    [
        {"$t": "tuple", "v": [1, 2]},
        {"$t": "model", "c": "os:system", "v": {}},
        {"$t": "dict", "v": {"$t": "x"}},
        {"$t": None},
        {"$t": 1, "other": [1, 2]},
        {"wrapper": {"$t": "bytes", "v": "AAAA"}},
        [{"$t": "datetime", "v": "2024-01-01T00:00:00+00:00"}],
    ],
    ids=repr,
)
def test_user_dict_with_tag_key_round_trips_unchanged(value: Any) -> None:
    back = roundtrip(value)
    assert back == value
    assert type(back) is type(value)


def test_user_dict_with_tag_key_is_escaped() -> None:
    tree = serde.to_json({"$t": "tuple", "v": [1]})
    assert tree == {"$t": "dict", "v": {"$t": "tuple", "v": [1]}}
    # escaping happens at any depth
    nested = serde.to_json({"a": [{"$t": "x"}]})
    assert nested == {"a": [{"$t": "dict", "v": {"$t": "x"}}]}


def test_plain_json_passes_through_untagged() -> None:
    value = {"a": [1, 2.5, "x", None, True], "b": {"c": {}}}
    assert serde.to_json(value) == value
    assert serde.from_json(value) == value


def test_dumps_is_compact_and_keeps_unicode() -> None:
    assert serde.dumps({"a": [1, 2], "b": "é"}) == '{"a":[1,2],"b":"é"}'


# --- errors ------------------------------------------------------------------------------------


def _fn() -> None:
    return None


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ({1, 2}, "set"),
        (frozenset({1}), "frozenset"),
        (lambda: 1, "function"),
        (_fn, "function"),
        (object(), "object"),
        (float("nan"), "float"),
        (float("inf"), "float"),
        (float("-inf"), "float"),
        (1 + 2j, "complex"),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, str) else v,
)
def test_unsupported_values_raise_serialization_error(value: Any, type_name: str) -> None:
    with pytest.raises(SerializationError) as info:
        serde.to_json(value, what="result of step 'charge'")
    message = str(info.value)
    assert "result of step 'charge'" in message
    assert repr(type_name) in message


def test_nan_message_says_why() -> None:
    with pytest.raises(SerializationError, match="NaN"):
        serde.dumps({"x": [math.nan]}, what="input")


def test_serialization_error_is_a_type_error_and_adapter_error() -> None:
    with pytest.raises(TypeError) as info:
        serde.to_json({1})
    assert isinstance(info.value, AdapterError)


def test_error_names_the_path_inside_the_value() -> None:
    with pytest.raises(SerializationError) as info:
        serde.to_json({"a": [1, {"b": {3}}]}, what="arguments of step 'x'")
    message = str(info.value)
    assert "arguments of step 'x'" in message
    assert "['a'][1]['b']" in message
    assert "'set'" in message


def test_non_string_dict_keys_are_rejected() -> None:
    for key in (1, 2.5, None, (1, 2)):
        with pytest.raises(SerializationError) as info:
            serde.to_json({key: "v"}, what="my payload")
        assert "my payload" in str(info.value)
        assert repr(type(key).__qualname__) in str(info.value)
        assert "keys must be strings" in str(info.value)


def test_class_defined_in_a_function_is_rejected() -> None:
    @dataclass
    class LocalPoint:
        x: int

    class LocalModel(BaseModel):
        x: int

    for value, name in ((LocalPoint(1), "LocalPoint"), (LocalModel(x=1), "LocalModel")):
        with pytest.raises(SerializationError) as info:
            serde.to_json({"v": value}, what="return value of workflow 'w'")
        message = str(info.value)
        assert "return value of workflow 'w'" in message
        assert name in message
        assert "module level" in message


def test_namedtuple_is_not_silently_flattened() -> None:
    from collections import namedtuple

    pair = namedtuple("pair", "a b")
    with pytest.raises(SerializationError, match="pair"):
        serde.to_json(pair(1, 2), what="thing")


def test_dataclass_class_object_itself_is_not_serialized() -> None:
    with pytest.raises(SerializationError, match="thing"):
        serde.to_json(Point, what="thing")


# --- decoding refuses to run arbitrary code ----------------------------------------------------


@pytest.mark.parametrize(
    "tree",
    [
        {"$t": "model", "c": "os:system", "v": {}},
        {"$t": "dataclass", "c": "os:system", "v": {"command": "true"}},
        {"$t": "model", "c": "builtins:print", "v": {}},
    ],
    ids=repr,
)
def test_decoding_a_tag_naming_a_non_class_refuses(tree: dict[str, Any]) -> None:
    with pytest.raises(SerializationError, match="not a class"):
        serde.from_json(tree)


@pytest.mark.parametrize("tag", ["model", "dataclass"])
def test_decoding_a_tag_naming_a_plain_class_never_calls_it(tag: str) -> None:
    before = Sentinel.instances
    tree = {"$t": tag, "c": f"{__name__}:Sentinel", "v": {"a": 1}}
    with pytest.raises(SerializationError, match="Sentinel"):
        serde.from_json(tree)
    with pytest.raises(SerializationError):
        serde.loads(json.dumps([{"nested": tree}]))
    assert Sentinel.instances == before


def test_decoding_a_model_tag_naming_a_dataclass_refuses() -> None:
    with pytest.raises(SerializationError, match="pydantic model"):
        serde.from_json({"$t": "model", "c": f"{__name__}:Point", "v": {"x": 1, "y": 2}})


def test_decoding_a_dataclass_tag_naming_a_model_refuses() -> None:
    with pytest.raises(SerializationError, match="dataclass"):
        serde.from_json({"$t": "dataclass", "c": f"{__name__}:Order", "v": {}})


@pytest.mark.parametrize(
    "path",
    ["no_such_module_xyz:Thing", f"{__name__}:NoSuchClass", f"{__name__}:Point.nope"],
)
def test_decoding_an_unimportable_class_refuses(path: str) -> None:
    with pytest.raises(SerializationError, match=r"not loaded|does not exist"):
        serde.from_json({"$t": "dataclass", "c": path, "v": {}})


def test_decoding_an_unknown_tag_refuses() -> None:
    with pytest.raises(SerializationError, match="unknown tag"):
        serde.from_json({"$t": "pickle", "v": "gASV"})


@pytest.mark.parametrize("tag", ["model", "dataclass"])
def test_decoding_never_imports_a_module(
    tag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forged payload naming a module that is not loaded must not load it: importing
    would run its top-level code (here: write a file)."""
    marker = tmp_path / "ran"
    package = tmp_path / "victim_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "reset_db.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
        "from pydantic import BaseModel\nclass X(BaseModel):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import victim_pkg  # noqa: F401  (the package is loaded, its module is not)

    with pytest.raises(SerializationError, match="not loaded"):
        serde.from_json({"$t": tag, "c": "victim_pkg.reset_db:X", "v": {}})
    assert "victim_pkg.reset_db" not in sys.modules
    assert not marker.exists()


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("\ud800", "lone surrogate"),
        ({"k\udfff": 1}, "lone surrogate"),
        (10**4301, "4300 digits"),
        (-(10**4301), "4300 digits"),
    ],
    ids=["surrogate", "surrogate-key", "big-int", "big-negative-int"],
)
def test_values_json_cannot_hold_are_refused(value: object, why: str) -> None:
    with pytest.raises(SerializationError, match=why):
        serde.dumps({"arg": value})


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    deep: object = 1
    for _ in range(serde.MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(SerializationError, match="nest"):
        serde.dumps(deep)
    ok: object = 1
    for _ in range(serde.MAX_DEPTH - 1):
        ok = [ok]
    assert serde.loads(serde.dumps(ok)) == ok


def test_a_big_int_under_the_limit_round_trips() -> None:
    big = 10**4299
    assert serde.loads(serde.dumps(big)) == big
