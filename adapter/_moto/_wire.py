"""moto's request and response handling: plain items taken as they are, answer keys
found once, requests routed once per URL and built from a template, names converted
once."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

from ._registry import Swap, UnsupportedMotoError, expect, patch

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


@patch("plain_items")
def plain_items() -> Iterator[Swap]:
    """moto parses a request and serializes a response by walking its model: every
    attribute value is matched against the ten members an ``AttributeValue`` may have.
    A value made of strings, booleans, lists and maps is what that walk would produce,
    so it is taken as it is; anything else (binary values) still takes the walk."""
    from moto.core.parse import BaseJSONParser
    from moto.core.serialize import BaseJSONSerializer

    walk = BaseJSONSerializer._serialize_type_structure
    expect(walk, "self", "serialized", "value", "shape", "key")
    expect(BaseJSONSerializer._default_serialize, "self", "serialized", "value", "shape", "key")
    expect(BaseJSONParser._parse_structure, "self", "shape", "value")

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and is_plain_attribute(value):
            self._default_serialize(serialized, value, shape, key)
        else:
            walk(self, serialized, value, shape, key)

    yield Swap(BaseJSONSerializer, "_serialize_type_structure", serialize_structure)
    yield Swap(BaseJSONParser, "_parse_structure", plain_parsed(BaseJSONParser._parse_structure))


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


@patch("answer_keys_found_once")
def answer_keys_found_once() -> Iterator[Swap]:
    """To serialize an answer moto asks six alias providers, for every member of every
    structure, under which keys it may be found. For an answer that is a plain dict the
    keys depend on the member's name and shape only: they are kept."""
    from moto.core.serialize import XFormedAttributePicker

    possible_keys = XFormedAttributePicker.get_possible_keys
    expect(possible_keys, "self", "context")
    # (key, shape, its parent, alias providers) -> the keys, for plain dict answers:
    # shapes are held (and compared by identity) so an id is never reused for another.
    kept: dict[tuple[Any, ...], tuple[Any, Any, tuple[str, ...]]] = {}

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

    yield Swap(XFormedAttributePicker, "get_possible_keys", get_possible_keys)


@patch("names_converted_once")
def names_converted_once() -> Iterator[Swap]:
    """moto turns action and attribute names from CamelCase to snake_case, and lists a
    handler class's methods, on every request; both are pure functions of their
    argument, so their answers are kept."""
    import moto.core.utils as utils

    for name in ("camelcase_to_underscores", "method_names_from_class"):
        original = getattr(utils, name)
        expect(original, "argument" if name == "camelcase_to_underscores" else "clazz")
        remembered = functools.lru_cache(maxsize=4096)(original)
        # moto modules import these by name: swap every reference, not just the source.
        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("moto.") and (
                vars(module).get(name) is original
            ):
                yield Swap(module, name, remembered)


@patch("requests_routed_once")
def requests_routed_once() -> Iterator[Swap]:
    """moto finds the backend of each request by trying the URL patterns of every
    service, then compiling and trying each of that backend's; the answer depends on the
    URL only, so it is kept. The WSGI environ of a request is copied from one built per
    method and URL (see :func:`request_builder`)."""
    import moto.backend_index as backend_index
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.config import passthrough_service, passthrough_url, service_whitelisted
    from moto.core.utils import get_equivalent_url_in_aws_domain
    from moto.moto_api import recorder
    from werkzeug.exceptions import HTTPException

    process = BotocoreStubber.process_request
    expect(process, "self", "request")
    if not hasattr(recorder, "_record_request"):
        raise UnsupportedMotoError("moto's recorder records no requests")
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

    yield Swap(BotocoreStubber, "process_request", process_request)


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
