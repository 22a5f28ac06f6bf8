"""The one serializer: user values <-> JSON. Never pickle.

Plain JSON values pass through unchanged. Other supported values become a tagged
object ``{"$t": <tag>, "v": <value>}``:

========================  ======================================================
``datetime`` / ``date``   ISO 8601 text
``timedelta``             seconds as a float
``bytes``                 base64 text
``UUID`` / ``Decimal``    text
``tuple``                 list (comes back as a tuple)
pydantic model            ``model_dump(mode="json")`` plus its import path
dataclass                 its fields, each serialized, plus its import path
a dict with a ``$t`` key  escaped, so user data can never pose as a tag
========================  ======================================================

Classes are found by their ``module:qualname`` on the way back, only in modules the
process has already imported (never importing one: a payload naming a module must not
run its top-level code), and only when they are pydantic models or dataclasses.

Values that JSON or DynamoDB cannot hold faithfully are refused on the way in with a
:class:`SerializationError`: lone surrogates in text, integers of more than
:data:`MAX_INT_DIGITS` digits, nesting deeper than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import sys
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from .errors import SerializationError

_TAG = "$t"

MAX_DEPTH = 256
"""How deeply lists, dicts, models and dataclasses may nest in one value."""
MAX_INT_DIGITS = 4300
"""Python's own limit for turning an int into text (``sys.get_int_max_str_digits``)."""
_TOO_BIG = 10**MAX_INT_DIGITS

try:  # pydantic is a runtime dependency, but keep core importable without it
    from pydantic import BaseModel
except ImportError:  # pragma: no cover
    BaseModel = None  # type: ignore[assignment,misc]


def to_json(value: Any, *, what: str = "value") -> Any:
    """Turn ``value`` into a JSON-compatible tree.

    Args:
        value: The user value.
        what: Names the value in error messages, e.g. ``"result of step 'charge'"``.

    Raises:
        SerializationError: naming ``what``, the path inside it and the offending type.
    """
    try:
        return _encode(value, what, "", 0)
    except RecursionError:  # a value nested too deeply inside a model's own dump
        raise SerializationError(f"cannot serialize {what}: nested too deeply") from None


def from_json(tree: Any) -> Any:
    """Turn a tree made by :func:`to_json` back into the user value."""
    return _decode(tree)


def dumps(value: Any, *, what: str = "value") -> str:
    """Serialize ``value`` to compact JSON text."""
    return json.dumps(to_json(value, what=what), separators=(",", ":"), ensure_ascii=False)


def loads(text: str) -> Any:
    """Deserialize JSON text made by :func:`dumps`."""
    return from_json(json.loads(text))


def _fail(what: str, path: str, value: Any, why: str = "") -> SerializationError:
    where = f" at {path}" if path else ""
    reason = why or (
        "supported: JSON types, datetime, date, timedelta, bytes, UUID, Decimal, tuple, "
        "pydantic models and dataclasses"
    )
    return SerializationError(
        f"cannot serialize {what}{where}: type {type(value).__qualname__!r} is not "
        f"JSON-serializable ({reason})"
    )


def _class_path(cls: type, what: str, path: str, value: Any) -> str:
    if "<locals>" in cls.__qualname__:
        raise _fail(what, path, value, "define the class at module level so it can be re-imported")
    return f"{cls.__module__}:{cls.__qualname__}"


def _text(value: str, what: str, path: str) -> str:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _fail(
                what, path, value, "text holds a lone surrogate (not valid Unicode)"
            ) from None
    return value


def _encode(value: Any, what: str, path: str, depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _text(value, what, path)
    if isinstance(value, int) and type(value) is int:
        if not -_TOO_BIG < value < _TOO_BIG:
            raise _fail(what, path, value, f"integers have at most {MAX_INT_DIGITS} digits")
        return value
    if isinstance(value, float) and type(value) is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise _fail(what, path, value, "NaN and infinity are not JSON")
        return value
    if depth >= MAX_DEPTH and isinstance(value, (dict, list, tuple)):
        raise _fail(what, path, value, f"values nest at most {MAX_DEPTH} levels deep")
    depth += 1
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _fail(what, f"{path}[{key!r}]", key, "dict keys must be strings")
            _text(key, what, f"{path}[{key!r}]")
            out[key] = _encode(item, what, f"{path}[{key!r}]", depth)
        return {_TAG: "dict", "v": out} if _TAG in out else out
    if isinstance(value, list):
        return [_encode(item, what, f"{path}[{i}]", depth) for i, item in enumerate(value)]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        items = [_encode(x, what, f"{path}[{i}]", depth) for i, x in enumerate(value)]
        return {_TAG: "tuple", "v": items}
    if isinstance(value, datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, timedelta):
        return {_TAG: "timedelta", "v": value.total_seconds()}
    if isinstance(value, (bytes, bytearray)):
        return {_TAG: "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, uuid.UUID):
        return {_TAG: "uuid", "v": str(value)}
    if isinstance(value, Decimal):
        return {_TAG: "decimal", "v": str(value)}
    if BaseModel is not None and isinstance(value, BaseModel):
        cls_path = _class_path(type(value), what, path, value)
        try:
            dumped = value.model_dump(mode="json")
        except Exception as exc:  # pydantic raises its own error types
            raise _fail(what, path, value, str(exc)) from exc
        _encode(dumped, what, path, depth)  # plain JSON already: only checked, kept as is
        return {_TAG: "model", "c": cls_path, "v": dumped}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls_path = _class_path(type(value), what, path, value)
        fields = {
            f.name: _encode(getattr(value, f.name), what, f"{path}.{f.name}", depth)
            for f in dataclasses.fields(value)
            if f.init
        }
        return {_TAG: "dataclass", "c": cls_path, "v": fields}
    raise _fail(what, path, value)


def _find_class(path: str) -> type:
    module_name, _, qualname = path.partition(":")
    # Never import: a payload (or a forged item in storage) may name the class it holds,
    # never make the process load and run a module. The app module imports what its
    # workflows and steps use, so their classes are loaded before any payload is read.
    module = sys.modules.get(module_name)
    if module is None:
        raise SerializationError(
            f"cannot deserialize: class {path!r} is not loaded: module {module_name!r} is "
            "not imported in this process (import it in your app module)"
        )
    obj: Any = module
    try:
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except AttributeError as exc:
        raise SerializationError(f"cannot deserialize: class {path!r} does not exist") from exc
    if not isinstance(obj, type):
        raise SerializationError(f"cannot deserialize: {path!r} is not a class")
    return obj


def _decode(tree: Any) -> Any:
    if isinstance(tree, list):
        return [_decode(item) for item in tree]
    if not isinstance(tree, dict):
        return tree
    tag = tree.get(_TAG)
    if tag is None:
        return {key: _decode(item) for key, item in tree.items()}
    raw: Any = tree.get("v")
    if tag == "dict":
        return {key: _decode(item) for key, item in raw.items()}
    if tag == "tuple":
        return tuple(_decode(item) for item in raw)
    if tag == "datetime":
        return datetime.fromisoformat(raw)
    if tag == "date":
        return date.fromisoformat(raw)
    if tag == "timedelta":
        return timedelta(seconds=raw)
    if tag == "bytes":
        return base64.b64decode(raw)
    if tag == "uuid":
        return uuid.UUID(raw)
    if tag == "decimal":
        return Decimal(raw)
    if tag == "model":
        cls = _find_class(tree["c"])
        if BaseModel is None or not issubclass(cls, BaseModel):
            raise SerializationError(f"cannot deserialize: {tree['c']!r} is not a pydantic model")
        return cls.model_validate(raw)
    if tag == "dataclass":
        cls = _find_class(tree["c"])
        if not dataclasses.is_dataclass(cls):
            raise SerializationError(f"cannot deserialize: {tree['c']!r} is not a dataclass")
        return cls(**{key: _decode(item) for key, item in raw.items()})
    raise SerializationError(f"cannot deserialize: unknown tag {tag!r}")


def to_plain(tree: Any) -> Any:
    """A tree made by :func:`to_json` as plain JSON for people and other languages.

    Tags are dropped without importing anything: models and dataclasses become their
    fields, datetimes ISO text, bytes base64 text, tuples lists.
    """
    if isinstance(tree, list):
        return [to_plain(item) for item in tree]
    if not isinstance(tree, dict):
        return tree
    if _TAG not in tree:
        return {key: to_plain(item) for key, item in tree.items()}
    raw = tree.get("v")
    if tree[_TAG] in ("dict", "tuple", "model", "dataclass"):
        return to_plain(raw)
    return raw
