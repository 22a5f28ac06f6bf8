"""Make moto's DynamoDB behave like DynamoDB under load: atomic and table-size independent.

Used by ``LocalRuntime`` and ``adapter dev``; it changes no answer moto gives.

* **Atomic writes.** moto checks a transaction's conditions and then writes, with no
  lock between: two threads (or a threaded moto server) can both pass
  ``last_seq = :expected`` and both write, which DynamoDB never allows. Writes are
  serialized here.
* **Transactions cost what they touch.** moto deep-copies every table a transaction
  names before writing, to roll back on failure: a write costs O(table size), and a run
  of n steps O(n^2). The backup becomes an undo log of the items the transaction names.
* **Queries cost their partition.** A base-table ``Query`` in moto sorts every item of
  the table and then keeps the requested partition; here it looks at that partition only
  (plus one neighbour on each side, which moto's paging inspects), in the same order.
* **Items are read and answered as they are.** moto parses a request and serializes a
  response by walking its model: every attribute value of every item is matched
  against the ten members an ``AttributeValue`` may have, a millisecond per item. An
  attribute value made of strings, booleans, lists and maps is what that walk would
  produce, so it is taken as it is; anything else (binary values) still takes the walk.
* **Items are sized once.** moto re-measures the whole item each time it sets one of
  its attributes, so building an item costs the square of its attribute count, each
  measure encoding every string again; here a new item adds each attribute's size to a
  running total, against the same 400 KB limit.
* **Expressions are parsed once.** moto parses an ``UpdateExpression`` twice per update
  (to validate the request, then to apply it), the costliest part of an update; the
  syntax tree depends on the text only and moto validates a deep copy of it, never the
  tree itself: it is kept by text. A ``ConditionExpression`` is parsed twice per
  conditional write too; its tree depends on the text, the names and the values, and is
  only read when evaluated: it is kept by those three, with the names and values moto
  noted as used.
* **Random strings are drawn at once.** moto draws request ids (52 characters) and
  receipt handles (185) one ``random.choice`` at a time: a tenth of a DynamoDB call, and
  half of a receive. They are drawn as one string of random bytes from moto's own random
  source, each byte mapped to a character, of the same length and alphabet (a seeded
  moto draws other strings than it would, still the same ones every time).
* **Sends count no messages.** moto reads one attribute of the queue on each send
  (whether it deduplicates by content), through the property that builds them all,
  messages in the queue, delayed and in flight counted by walking the queue: a send
  costs the length of the queue, and a fan-out of n messages n^2. During a send those
  three counts are not made (they are read by nothing there).
* **Answer members are looked up by the keys found once.** To serialize an answer, moto
  asks six alias providers, for every member of every structure, under which keys the
  member may be found in the answer. For an answer that is a plain dict, the keys depend
  on the member's name and shape only: they are kept.
* **A queue's retention is read alone.** moto checks each message it receives against
  the queue's retention period by building every attribute of the queue, message counts
  included (a walk of the queue per message received); the period alone is read here.
* **Requests are routed once per URL.** moto finds the backend of each request by
  trying the URL patterns of every service it mocks, then compiling and trying each of
  that backend's; the answer depends on the URL only, so it is kept. The WSGI environ
  moto builds for each request is copied from one built per method and URL (see
  :func:`request_builder`).
* **Calls skip botocore's HTTP layer** (:func:`answer_in_process`, for the clients
  ``LocalRuntime`` makes): moto's answer is the same; the HTTP request botocore would
  build for moto to read back is not.
* **Names are converted once.** moto turns action and attribute names from CamelCase to
  snake_case, and lists a handler class's methods, on every request (a fifth of an SQS
  call); both are pure functions of their argument, so their answers are kept.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
import types
from collections.abc import Callable
from typing import Any

_lock = threading.RLock()
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
_partition = threading.local()


def tune_moto() -> None:
    """Install the changes above for this process (idempotent).

    Checked each time, not remembered: other code may patch and restore moto around us
    (a test double of its own). Each change is one swap, whole (the undo log replaces
    the table backup inside the same swap), so any of them may be reinstalled alone.
    """
    with _lock:
        _atomic_writes()
        _partition_queries()
        _remember_names()
        _drawn_at_once()
        _retention_read_once()
        _sent_without_counting()
        _picked_once()
        _routed_once()
        _plain_items()
        _sized_once()
        _parsed_once()


def _replace(owner: Any, name: str, build: Callable[[Any], Any]) -> None:
    """Swap ``owner.name`` for ``build(original)``, once: the replacement is marked (so a
    second tuning leaves it) and keeps the original (so tests can compare with it)."""
    original = getattr(owner, name)
    if getattr(original, "_adapter_tuned", False):
        return
    replacement = build(original)
    replacement._adapter_tuned = True
    replacement._adapter_original = original
    setattr(owner, name, replacement)


def _parsed_once() -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing.expressions import (  # type: ignore[attr-defined]
        UpdateExpressionParser,
    )

    def update_parser(make: Any) -> Any:
        parse = functools.lru_cache(maxsize=1024)(make)  # errors are raised, not kept

        def parsed(expression: str) -> Any:
            return parse(expression)

        return parsed

    def condition_parser(condition: Any) -> Any:
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

        return parse_condition

    _replace(UpdateExpressionParser, "make", update_parser)
    _replace(ConditionExpressionParser, "parse", condition_parser)


def _sized_once() -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    limited = dynamo_type.LimitedSizeDict
    dynamo = dynamo_type.DynamoType

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

    _replace(dynamo_type.Item, "__init__", lambda _: item_init)


def _plain_items() -> None:
    from moto.core.parse import BaseJSONParser
    from moto.core.serialize import BaseJSONSerializer

    def plain_first(walk: Any) -> Any:
        def serialize_structure(
            self: Any, serialized: Any, value: Any, shape: Any, key: str
        ) -> None:
            if key and shape.name == "AttributeValue" and is_plain_attribute(value):
                self._default_serialize(serialized, value, shape, key)
            else:
                walk(self, serialized, value, shape, key)

        return serialize_structure

    _replace(BaseJSONSerializer, "_serialize_type_structure", plain_first)
    _replace(BaseJSONParser, "_parse_structure", plain_parsed)


def plain_parsed(walk: Any) -> Any:
    """moto's request parser for structures (``walk``), skipping plain attribute values.

    The value comes fresh from ``json.loads`` of this request's body, and parsing a
    plain attribute value rebuilds an equal one: it is taken as it is.
    """

    def parse_structure(self: Any, shape: Any, value: Any) -> Any:
        if shape.name == "AttributeValue" and is_plain_attribute(value):
            return value
        return walk(self, shape, value)

    return parse_structure


def is_plain_attribute(value: Any) -> bool:
    """Is this DynamoDB attribute value serialized as it is (no binary inside)?"""
    if type(value) is not dict or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    if kind in ("S", "N"):
        return type(inner) is str
    if kind in ("BOOL", "NULL"):
        return type(inner) is bool
    if kind in ("SS", "NS"):
        return type(inner) is list and all(type(x) is str for x in inner)
    if kind == "L":
        return type(inner) is list and all(is_plain_attribute(x) for x in inner)
    if kind == "M":
        return type(inner) is dict and all(
            type(name) is str and is_plain_attribute(x) for name, x in inner.items()
        )
    return False


def _drawn_at_once() -> None:
    import string

    import moto.sqs.models as sqs_models
    from moto.moto_api._internal import mock_random
    from moto.moto_api._internal.moto_random import MotoRandom

    def random_string(_: Any) -> Any:
        def get_random_string(
            self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False
        ) -> str:
            pool = string.ascii_letters + (string.digits if include_digits else "")
            drawn = draw(self, pool, length)
            return drawn.lower() if lower_case else drawn

        return get_random_string

    def random_hex(_: Any) -> Any:
        def get_random_hex(self: Any, length: int = 8) -> str:
            return draw(self, "0123456789abcdef", length)

        return get_random_hex

    def receipt_handle(_: Any) -> Any:
        def generate_receipt_handle() -> str:
            return draw(mock_random, string.ascii_lowercase, 185)

        return generate_receipt_handle

    _replace(MotoRandom, "get_random_string", random_string)
    _replace(MotoRandom, "get_random_hex", random_hex)
    _replace(sqs_models, "generate_receipt_handle", receipt_handle)


@functools.cache
def _byte_map(alphabet: str) -> bytes:
    # Byte b stands for the character at b * len / 256: each character for 256 // len
    # or one more of the 256 bytes (an alphabet of 62 favours some by 5 to 4).
    return bytes(ord(alphabet[b * len(alphabet) >> 8]) for b in range(256))


def draw(source: Any, alphabet: str, length: int) -> str:
    """``length`` characters of ``alphabet`` (ASCII, at most 256), from ``source``'s
    random bytes: drawn at once, where ``choices`` draws a float per character."""
    drawn: str = source.randbytes(length).translate(_byte_map(alphabet)).decode("ascii")
    return drawn


def _picked_once() -> None:
    from moto.core.serialize import XFormedAttributePicker

    # (key, shape, its parent, alias providers) -> the keys, for plain dict answers:
    # shapes are held (and compared by identity) so an id is never reused for another.
    kept: dict[tuple[Any, ...], tuple[Any, Any, tuple[str, ...]]] = {}

    def remembered(possible_keys: Any) -> Any:
        def get_possible_keys(self: Any, context: Any) -> Any:
            if type(context.obj) is not dict:
                return possible_keys(self, context)
            shape = context.shape
            parent = getattr(shape, "parent", None)
            key = (context.key, id(shape), id(parent), tuple(self.alias_providers))
            hit = kept.get(key)
            if hit is None or hit[0] is not shape or hit[1] is not parent:
                if len(kept) >= 4096:
                    kept.clear()
                hit = kept[key] = (shape, parent, tuple(possible_keys(self, context)))
            return hit[2]

        return get_possible_keys

    _replace(XFormedAttributePicker, "get_possible_keys", remembered)


class _TunedProperty(property):
    """A property that can be marked as tuned (a plain property takes no attributes)."""


def _sent_without_counting() -> None:
    from moto.sqs.models import Queue, SQSBackend

    sending = threading.local()

    def flagged(send: Any) -> Any:
        def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
            before = getattr(sending, "on", False)
            sending.on = True
            try:
                return send(self, *args, **kwargs)
            finally:
                sending.on = before

        return send_message

    def skipped(count: Any) -> Any:
        def fget(self: Any) -> int:
            # During a send only ContentBasedDeduplication is read of the attributes;
            # a queue that feeds moto's own Lambda mapping is received from in the send.
            if getattr(sending, "on", False) and not self.lambda_event_source_mappings:
                return 0
            counted: int = count.fget(self)
            return counted

        return _TunedProperty(fget)

    _replace(SQSBackend, "send_message", flagged)
    for name in (
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    ):
        _replace(Queue, name, skipped)


def _retention_read_once() -> None:
    from moto.sqs import models

    def retention_check(_: Any) -> Any:
        def is_message_valid_based_on_retention_period(
            self: Any, queue_name: str, message: Any
        ) -> bool:
            queue = self.get_queue(queue_name)
            retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
            # Read from moto's module at each call, where LocalRuntime patches its clock.
            now = models.unix_time()  # type: ignore[attr-defined]
            return bool(retain_until > now)

        return is_message_valid_based_on_retention_period

    _replace(models.SQSBackend, "is_message_valid_based_on_retention_period", retention_check)


def _routed_once() -> None:
    import re

    import moto.backend_index as backend_index
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.config import passthrough_service, passthrough_url, service_whitelisted
    from moto.core.utils import get_equivalent_url_in_aws_domain
    from moto.moto_api import recorder
    from werkzeug.exceptions import HTTPException

    # A URL's service and the handler moto's own search finds for it (the handlers a
    # backend maps its URL patterns to are its module's, the same for every instance).
    routes: dict[str, tuple[str, Callable[..., Any]]] = {}

    def route(clean_url: str) -> tuple[str, Callable[..., Any]] | None:
        found = routes.get(clean_url)
        if found is None:
            for service, pattern in backend_index.backend_url_patterns:
                if pattern.match(clean_url):
                    for url, method in _backend(service).urls.items():
                        if re.compile(url).match(clean_url):
                            found = routes[clean_url] = (service, method)
                            break
                    break
        return found

    build = request_builder()

    def routed(process: Any) -> Any:
        def process_request(self: Any, request: Any) -> Any:
            parsed_url, _ = get_equivalent_url_in_aws_domain(request.url)
            clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
            found = route(clean_url)
            if found is None or passthrough_url(clean_url) or not service_whitelisted(found[0]):
                return process(self, request)  # moto's own answer, refusals included
            service, method = found
            if passthrough_service(service):
                return None
            normalized = build(request)
            try:
                recorder._record_request(normalized)
                return method(normalized, normalized.raw_url, normalized.headers)
            except HTTPException as e:
                return e.code, e.get_headers(), e.get_body()

        return process_request

    _replace(BotocoreStubber, "process_request", routed)


def request_builder() -> Callable[[Any], Any]:
    """moto's ``normalize_request`` for the requests botocore prepares, from a template.

    moto turns each request into a werkzeug ``Request`` by building a WSGI environ with
    werkzeug's test ``EnvironBuilder``: a tenth of a call. All of that environ but the
    body, its length and type, and the headers depends on the method and URL only, so
    it is built by moto once per method and URL and copied; the rest is set as the
    builder sets it. What werkzeug would then work out from the environ for moto, the
    same way each time, is set too: the URL root, and for a body that is no form, the
    data (the body) and empty form and files. A request outside that shape (no body, a
    streamed body, a header werkzeug would refuse) is built by moto itself.
    """
    import sys
    from io import BytesIO

    from botocore.awsrequest import AWSPreparedRequest
    from moto.core.request import (
        PRESERVED_HEADER_NAMES_ENVIRON_KEY,
        Request,
        environ_key_for_header,
        normalize_request,
        should_preserve_original_header_name,
    )

    # Set per request; the rest of the environ is the template's, in werkzeug's order.
    per_request = ("werkzeug.request", "CONTENT_TYPE", "CONTENT_LENGTH")
    templates: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}

    def build(request: Any) -> Any:
        body = request.body
        if isinstance(body, str):
            body = body.encode()
        if type(request) is not AWSPreparedRequest or type(body) is not bytes or not body:
            return normalize_request(request)
        content_type = None
        headers: dict[str, str] = {}
        preserved: dict[str, str] = {}
        for key, value in request.headers.items():
            text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
            lower = key.lower()
            if lower == "transfer-encoding":
                continue
            if "\n" in text or "\r" in text:
                return normalize_request(request)
            if should_preserve_original_header_name(key):
                preserved[environ_key_for_header(key)] = key
            if lower == "content-type":
                content_type = text if content_type is None else f"{content_type}, {text}"
            elif lower != "content-length":
                name = f"HTTP_{key.upper().replace('-', '_')}"
                headers[name] = f"{headers[name]}, {text}" if name in headers else text
        found = templates.get((request.method, request.url))
        if found is None:
            stock = Request.from_primitives(request.method, request.url, {}, b"")
            template = {k: v for k, v in stock.environ.items() if k not in per_request}
            template.pop(PRESERVED_HEADER_NAMES_ENVIRON_KEY, None)
            if len(templates) >= 1024:
                templates.clear()
            found = templates[(request.method, request.url)] = (template, stock.url_root)
        template, url_root = found
        environ = dict(template)
        environ["wsgi.input"] = BytesIO(body)
        environ["wsgi.errors"] = sys.stderr
        if content_type is not None:
            environ["CONTENT_TYPE"] = content_type
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.update(headers)
        built = Request(environ)
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = preserved
        if (content_type or "").partition(";")[0].strip() not in _FORMS:
            # What werkzeug would find: no form, no files, and the body as the data.
            empty = built.parameter_storage_class
            built.__dict__.update(form=empty(), files=empty())
            built._cached_data = body
        if "HTTP_HOST" not in headers:
            built.__dict__["url_root"] = url_root  # the template's: same scheme and host
        return built

    return build


def _backend(service: str) -> Any:
    """The backend moto's stubber dispatches a service's requests to."""
    import moto.backends as backends
    from moto.core.base_backend import BackendDict
    from moto.core.models import DEFAULT_ACCOUNT_ID

    backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
    if isinstance(backend_dict, BackendDict):
        regions = backend_dict[DEFAULT_ACCOUNT_ID]
        return regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
    return backend_dict["global"]


def _remember_names() -> None:
    import sys

    import moto.core.utils as utils

    for name in ("camelcase_to_underscores", "method_names_from_class"):
        original = getattr(utils, name)
        if getattr(original, "_adapter_tuned", False):
            continue
        remembered = functools.lru_cache(maxsize=4096)(original)
        remembered._adapter_tuned = True  # type: ignore[attr-defined]
        # moto modules import these by name: swap every reference, not just the source.
        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("moto.") and (
                getattr(module, name, None) is original
            ):
                setattr(module, name, remembered)


def _atomic_writes() -> None:
    import moto.dynamodb.models as backend_module
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    def _no_table_backup(value: Any, memo: Any = None) -> Any:
        # The whole-table backup becomes the table itself (restoring it is a no-op);
        # the undo log below does the restoring.
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    # Swapped in only while our transaction runs (under the lock): moto elsewhere, or
    # without us, keeps its own backups.
    no_backup = types.SimpleNamespace(deepcopy=_no_table_backup, copy=copy.copy)

    def undo_logged(transact: Any) -> Any:
        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
            with _lock:
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
                            DynamoType(attrs[table.range_key_attr])
                            if table.range_key_attr
                            else None
                        )
                        before = table.get_item(hash_key, range_key)
                    except Exception:  # a malformed entry: moto refuses it before writing
                        continue
                    undo.append((table, hash_key, range_key, copy.deepcopy(before)))
                stock = backend_module.copy  # type: ignore[attr-defined]
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
                    backend_module.copy = stock  # type: ignore[attr-defined]

        return transact_write_items

    _replace(DynamoDBBackend, "transact_write_items", undo_logged)
    for name in ("put_item", "update_item", "delete_item"):
        _replace(DynamoDBBackend, name, _locked)


def _partition_queries() -> None:
    from moto.dynamodb.comparisons import get_comparison_func
    from moto.dynamodb.models.table import Table

    def hinted(query: Any) -> Any:
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

        return partition_query

    def partition_only(all_items: Any) -> Any:
        # Without the hint partition_query leaves (any other caller), moto's own answer.
        def partition_items(self: Any) -> list[Any]:
            hint = getattr(_partition, "key", None)
            if hint is None or hint[0] is not self:
                everything: list[Any] = all_items(self)
                return everything
            _, hash_key, range_comparison, range_objs = hint
            if not self.range_key_attr:
                item = self.items.get(hash_key)
                return [item] if item is not None else []
            native: Callable[[Any], Any] = (
                (lambda v: v.value)
                if self.range_key_type in ("S", "B")
                else (lambda v: v.cast_value)
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

        return partition_items

    _replace(Table, "query", hinted)
    _replace(Table, "all_items", partition_only)


def _locked(method: Any) -> Any:
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            return method(self, *args, **kwargs)

    return locked


def answer_in_process(client: Any) -> None:
    """Answer ``client``'s calls from moto's backends in this process, while moto mocks.

    moto answers a botocore request at ``before-send``: by then botocore's HTTP layer has
    built an HTTP request from the serialized one (emitting signing, user-agent and
    retry-header events on the way), and it then runs the retry handler on the answer: a
    sixth of a DynamoDB or SQS call on a local stack. Here the request botocore
    serialized and validated is taken at ``before-call`` (the hook botocore's own
    ``Stubber`` answers from), prepared once and handed to moto's stubber; moto's answer,
    in its wire format, is parsed by botocore's parser as botocore parses it. Error
    answers raise as they would, their modeled fields included, and are retried as
    botocore's retry handler decides. Skipped: signing (moto checks none), the
    user-agent and retry headers (moto reads neither) and the HTTP request's own events.
    Streamed or compressed operations, and URLs moto lets through, take botocore's path.
    """
    from botocore.awsrequest import AWSResponse, create_request_object
    from botocore.endpoint import convert_to_response_dict
    from botocore.httpchecksum import apply_request_checksum, handle_checksum_body
    from moto.core.botocore_stubber import MockRawResponse
    from moto.core.models import botocore_stubber

    endpoint = client._endpoint
    protocol = client.meta.service_model.resolved_protocol

    def answered(model: Any, params: dict[str, Any], **_: Any) -> tuple[Any, Any] | None:
        if (
            not botocore_stubber.enabled
            or model.has_streaming_input
            or model.has_streaming_output
            or model.has_event_stream_output
            or model.request_compression
        ):
            return None
        apply_request_checksum(params)
        attempts = 1
        while True:
            request = create_request_object(params).prepare()
            answer = botocore_stubber.process_request(request)
            if answer is None:  # a URL moto lets through: botocore sends it
                return None
            status, headers, body = answer
            # As moto's stubber and botocore's endpoint pass them (the stubs ask for
            # narrower types than botocore itself uses).
            http = AWSResponse(request.url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]
            response = convert_to_response_dict(http, model)
            handle_checksum_body(http, response, params["context"], model)  # type: ignore[arg-type]
            parser = endpoint._response_parser_factory.create_parser(protocol)
            parsed = parser.parse(response, model.output_shape)
            if status < 300:
                break
            endpoint._add_modeled_error_fields(response, parsed, model, parser)
            if not endpoint._needs_retry(attempts, model, params, (http, parsed)):
                break
            attempts += 1
        if "ResponseMetadata" in parsed:
            parsed["ResponseMetadata"]["RetryAttempts"] = attempts - 1
        return http, parsed

    service_id = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register_last(f"before-call.{service_id}", answered)
