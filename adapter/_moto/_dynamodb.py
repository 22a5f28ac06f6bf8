"""DynamoDB: serialized requests (correctness), and writes, queries, items and
expressions that cost what they touch (speed)."""

from __future__ import annotations

import copy
import functools
import inspect
import json
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

from ._registry import MOTO_LOCK, Swap, UnsupportedMotoError, expect, patch

_partition = threading.local()


def locked(method: Any) -> Any:
    """``method``, run under :data:`MOTO_LOCK`."""

    @functools.wraps(method)
    def run_locked(*args: Any, **kwargs: Any) -> Any:
        with MOTO_LOCK:
            return method(*args, **kwargs)

    return run_locked


@patch("serialized_dynamodb", speed=False)
def serialized_dynamodb() -> Iterator[Swap]:
    """One DynamoDB request at a time: moto checks a transaction's conditions, then
    writes, with nothing in between; real DynamoDB never lets two conditional writes
    pass the same condition. Correctness, applied with tuning off too."""
    from moto.dynamodb.responses import DynamoHandler

    expect(DynamoHandler.call_action, "self")
    yield Swap(DynamoHandler, "call_action", locked(DynamoHandler.call_action))


@patch("undo_log_transactions")
def undo_log_transactions() -> Iterator[Swap]:
    """moto deep-copies every table a transaction names, to roll back on failure: a
    write costs O(table size). The backup becomes an undo log of the items named."""
    import moto.dynamodb.models as backend_module
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    transact = DynamoDBBackend.transact_write_items
    expect(transact, "self", "transact_items")
    if getattr(backend_module, "copy", None) is not copy:
        raise UnsupportedMotoError("moto.dynamodb.models does not back tables up with copy")

    def no_table_backup(value: Any, memo: Any = None) -> Any:
        # The whole-table backup becomes the table itself (restoring it is a no-op), and
        # a backup of every table (moto before 5.1 copies the backend's dict of them) a
        # dict of the same tables; the undo log below does the restoring.
        if isinstance(value, Table):
            return value
        if isinstance(value, dict) and all(isinstance(v, Table) for v in value.values()):
            return type(value)(value)  # an OrderedDict in moto 5.0
        return copy.deepcopy(value, memo)

    no_backup = types.SimpleNamespace(deepcopy=no_table_backup, copy=copy.copy)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        with MOTO_LOCK:  # the module's ``copy`` is swapped for this call only
            undo = []
            for entry in transact_items:
                try:
                    _, op = next(iter(entry.items()))
                    table = self.tables.get(op.get("TableName"))
                    if table is None:
                        continue
                    attrs = op["Item"] if "Item" in op else op.get("Key", {})
                    hash_key = DynamoType(attrs[table.hash_key_attr])
                    range_key = (
                        DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
                    )
                    before = table.get_item(hash_key, range_key)
                except Exception:  # a malformed entry: moto refuses it before writing
                    continue
                undo.append((table, hash_key, range_key, copy.deepcopy(before)))
            backend_module.copy = no_backup  # type: ignore[attr-defined, assignment]
            try:
                return transact(self, transact_items)
            except BaseException:
                for table, hash_key, range_key, before in reversed(undo):
                    if before is None:
                        table.delete_item(hash_key, range_key)
                    elif range_key is not None:
                        table.items[hash_key][range_key] = before
                    else:
                        table.items[hash_key] = before
                raise
            finally:
                backend_module.copy = copy  # type: ignore[attr-defined]

    yield Swap(DynamoDBBackend, "transact_write_items", transact_write_items)


@patch("partition_queries")
def partition_queries() -> Iterator[Swap]:
    """A base-table ``Query`` sorts every item of the table, then keeps the partition;
    here it looks at that partition only (plus one neighbour on each side, which moto's
    paging inspects), in the same order."""
    from moto.dynamodb.comparisons import get_comparison_func
    from moto.dynamodb.models.table import Table

    query, all_items = Table.query, Table.all_items
    # Read by position below: the arguments after hash_key, as moto declares them.
    expect(query, "self", "hash_key", "range_comparison", "range_objs")
    expect(all_items, "self")
    positional = list(inspect.signature(query).parameters)
    if positional.index("index_name") != 8:
        raise UnsupportedMotoError(f"Table.query{tuple(positional)}")

    def partition_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        range_comparison = kwargs.get("range_comparison", args[0] if args else None)
        range_objs = kwargs.get("range_objs", args[1] if len(args) > 1 else None)
        previous = getattr(_partition, "key", None)
        _partition.key = (self, hash_key, range_comparison, range_objs)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _partition.key = previous

    def partition_items(self: Any) -> list[Any]:
        # Without the hint partition_query leaves (any other caller), moto's own answer.
        hint = getattr(_partition, "key", None)
        if hint is None or hint[0] is not self:
            everything: list[Any] = all_items(self)
            return everything
        _, hash_key, range_comparison, range_objs = hint
        if not self.range_key_attr:
            item = self.items.get(hash_key)
            return [item] if item is not None else []
        native: Callable[[Any], Any] = (
            (lambda v: v.value) if self.range_key_type in ("S", "B") else (lambda v: v.cast_value)
        )
        partition = sorted(
            (self.items.get(hash_key) or {}).values(), key=lambda item: native(item.range_key)
        )
        if not range_comparison:
            return partition
        test = get_comparison_func(range_comparison)
        bounds = [native(obj) for obj in range_objs or ()]
        hits = [n for n, item in enumerate(partition) if test(native(item.range_key), *bounds)]
        if not hits:
            return []
        # Key conditions select a contiguous slice of the sorted partition. moto checks
        # its page limit before the key condition, so keep one neighbour on each side.
        return partition[max(hits[0] - 1, 0) : hits[-1] + 2]

    yield Swap(Table, "query", partition_query)
    yield Swap(Table, "all_items", partition_items)


@patch("items_sized_once")
def items_sized_once() -> Iterator[Swap]:
    """moto re-measures the whole item each time it sets an attribute (the square of the
    attribute count); a new item adds each attribute's size to a running total here,
    against the same 400 KB limit."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    limited, dynamo = dynamo_type.LimitedSizeDict, dynamo_type.DynamoType
    expect(dynamo_type.Item.__init__, "self", "hash_key", "range_key", "attrs")

    def item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        self.attrs = limited()
        total = 0
        for key, value in attrs.items():
            typed = dynamo(value)
            size = bytesize(key) + typed.size()
            # moto's check, with the sum of what is already set kept, not recounted
            if total + size > 405000:
                raise ItemSizeTooLarge
            dict.__setitem__(self.attrs, key, typed)
            total += size

    yield Swap(dynamo_type.Item, "__init__", item_init)


@patch("expressions_parsed_once")
def expressions_parsed_once() -> Iterator[Swap]:
    """moto parses an ``UpdateExpression`` and a ``ConditionExpression`` twice per write.
    An update's tree depends on its text only, and moto validates a deep copy of it: it
    is kept by text. A condition's depends on the text, names and values and is only
    read: it is kept by those three, with the names and values moto noted as used."""
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing.expressions import (  # type: ignore[attr-defined]
        UpdateExpressionParser,
    )

    make, condition = UpdateExpressionParser.make, ConditionExpressionParser.parse
    expect(make, "expression_str")
    expect(condition, "self")
    probe = ConditionExpressionParser("a = :v", {}, {":v": {"S": "x"}})
    if not hasattr(probe, "expr_attr_names_found") or not hasattr(probe, "expr_attr_values_found"):
        raise UnsupportedMotoError("ConditionExpressionParser notes no names or values found")
    parse = functools.lru_cache(maxsize=1024)(make)  # errors are raised, not kept

    def parsed(expression: str) -> Any:
        return parse(expression)

    kept: dict[tuple[str, str, str], tuple[Any, list[str], list[str]]] = {}

    def parse_condition(self: Any) -> Any:
        key = (
            self.condition_expression or "",
            json.dumps(self.expression_attribute_names, sort_keys=True),
            json.dumps(self.expression_attribute_values, sort_keys=True, default=str),
        )
        hit = kept.get(key)
        if hit is None:
            tree = condition(self)  # a refusal raises here and is not kept
            if len(kept) >= 4096:
                kept.clear()
            found = (self.expr_attr_names_found, self.expr_attr_values_found)
            hit = kept[key] = (tree, *found)
        tree, names, values = hit
        self.expr_attr_names_found, self.expr_attr_values_found = list(names), list(values)
        return tree

    yield Swap(UpdateExpressionParser, "make", parsed)
    yield Swap(ConditionExpressionParser, "parse", parse_condition)
