"""The routes the handler serves, read from the code (``adapter.aws``), as
``"METHOD /path"`` with API Gateway's ``{camelCase}`` path parameters.

Three sources, so that neither a route left out of the OpenAPI document nor one
registered in another way slips past: the powertools resolvers' OpenAPI document
(public API: ``get_openapi_schema()``), their route tables (which hold the routes left
out of the document too, e.g. the Swagger UI's), and every
``@<router>.get/post/...("/path")`` decorator in ``adapter/aws``.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

from pydantic.alias_generators import to_camel

import adapter.aws

#: Served by nobody yet on this branch, but pinned (DESIGN.md section 2) and added to
#: adapter/aws by other branches: the stacks may declare them already. A template route
#: that is neither served nor announced here fails the tests. (The dev stack's run
#: inspector, ``/ui/``, and Swagger UI, ``/docs``, are served by adapter/dev's HTTP
#: server itself, not by the handler: no stack declares them.)
ANNOUNCED: set[str] = set()
#: The only routes without IAM auth.
PUBLIC = {"POST /webhooks/{token}"}

_METHODS = {"get", "post", "put", "delete", "patch", "head", "options"}
_PARAM = re.compile(r"<(\w+)>|\{(\w+)\}")


def api_path(path: str) -> str:
    """``/runs/<run_id>`` or ``/runs/{run_id}`` -> ``/runs/{runId}``."""
    return _PARAM.sub(lambda m: "{" + to_camel(m.group(1) or m.group(2)) + "}", path)


def _modules() -> list[object]:
    found = [adapter.aws]
    for info in pkgutil.walk_packages(adapter.aws.__path__, "adapter.aws."):
        found.append(importlib.import_module(info.name))
    return found


def _resolvers() -> list[Any]:
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

    return [
        value
        for module in _modules()
        for value in vars(module).values()
        if isinstance(value, ApiGatewayResolver)
    ]


def openapi_routes() -> set[str]:
    """Routes in the OpenAPI document of every resolver defined in ``adapter.aws``."""
    routes: set[str] = set()
    for resolver in _resolvers():
        schema = resolver.get_openapi_schema()
        for path, item in (schema.paths or {}).items():
            for method in _METHODS:
                if getattr(item, method, None) is not None:
                    routes.add(f"{method.upper()} {api_path(path)}")
    return routes


def resolver_routes() -> set[str]:
    """Every route in the resolvers' route tables (powertools keeps them in
    ``_static_routes`` / ``_dynamic_routes``; read when present)."""
    routes: set[str] = set()
    for resolver in _resolvers():
        for attribute in ("_static_routes", "_dynamic_routes"):
            for route in getattr(resolver, attribute, []):
                routes.add(f"{route.method.upper()} {api_path(route.path)}")
    return routes


def decorated_routes(root: Path | None = None) -> set[str]:
    """Routes of every ``@x.get("/path")``-style decorator under ``root``."""
    root = root or Path(adapter.aws.__file__).parent
    routes: set[str] = set()
    for file in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in node.decorator_list:
                routes |= _decorator_routes(decorator)
    return routes


def _decorator_routes(decorator: ast.expr) -> set[str]:
    if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)):
        return set()
    if not decorator.args or not isinstance(decorator.args[0], ast.Constant):
        return set()
    path = decorator.args[0].value
    if not isinstance(path, str) or not path.startswith("/"):
        return set()
    name = decorator.func.attr
    if name in _METHODS:
        return {f"{name.upper()} {api_path(path)}"}
    if name == "route":  # @router.route("/path", method="POST" | ["GET", "POST"])
        methods: list[str] = []
        for keyword in decorator.keywords:
            if keyword.arg == "method":
                value = ast.literal_eval(keyword.value)
                methods = [value] if isinstance(value, str) else list(value)
        return {f"{m.upper()} {api_path(path)}" for m in methods or ["GET"]}
    return set()


def served_routes() -> set[str]:
    """Every route the handler serves."""
    return openapi_routes() | resolver_routes() | decorated_routes()
