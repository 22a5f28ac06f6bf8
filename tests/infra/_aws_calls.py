"""Which AWS API actions the function's code calls, read from its source.

Every boto3 client the code makes or is given is found by name: an assignment whose
value creates one (``boto3.client("lambda")``, ``session.client("sqs", ...)``), or a
variable, parameter or attribute annotated with its stub type (``LambdaClient``,
``SQSClient``...), and names assigned from those. Each method called on such a name
is an API operation (botocore's service model says which: ``get_alias`` ->
``GetAlias``), as is each ``get_paginator("op")``; anything else called on a client is
reported, so a call cannot hide behind an unknown name.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import botocore.session
from botocore import xform_name

import adapter

ADAPTER = Path(adapter.__file__).parent

#: What runs in the function: the library's storage, runtime, engine and entry points.
FUNCTION_CODE = ("world", "runtime", "core", "aws")
#: Modules there that the function never runs, and why.
NOT_IN_THE_FUNCTION = {
    "world/_resources.py": "create_resources() makes the resources for tests and sandboxes",
}

#: Stub type -> service.
CLIENT_TYPES = {
    "LambdaClient": "lambda",
    "SQSClient": "sqs",
    "DynamoDBClient": "dynamodb",
    "S3Client": "s3",
    "STSClient": "sts",
}
#: Client methods that are not API operations.
CLIENT_UTILITIES = {"get_paginator", "get_waiter", "can_paginate", "close"}

#: API operations authorized by other IAM actions (Service Authorization Reference:
#: the SQS batch operations by the single ones, Invoke by InvokeFunction, a DynamoDB
#: transaction by the action of each item it may hold).
IAM_ACTIONS = {
    "lambda:Invoke": ("lambda:InvokeFunction",),
    "sqs:SendMessageBatch": ("sqs:SendMessage",),
    "sqs:DeleteMessageBatch": ("sqs:DeleteMessage",),
    "sqs:ChangeMessageVisibilityBatch": ("sqs:ChangeMessageVisibility",),
    "s3:HeadObject": ("s3:GetObject",),
    "s3:ListObjectsV2": ("s3:ListBucket",),
    "dynamodb:TransactWriteItems": (
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
    ),
    "dynamodb:TransactGetItems": ("dynamodb:GetItem",),
}


@dataclass(frozen=True)
class Call:
    """One API call in the source."""

    action: str  # the IAM action, e.g. "lambda:GetAlias"
    where: str  # "world/_lambda.py:83"


@cache
def operations(service: str) -> dict[str, str]:
    """``snake_case`` method name -> API operation name, from botocore's model."""
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


def iam_actions(service: str, operation: str) -> tuple[str, ...]:
    """The IAM actions that authorize one API operation."""
    model = botocore.session.get_session().get_service_model(service)
    prefix = model.signing_name or model.endpoint_prefix
    action = f"{prefix}:{operation}"
    return IAM_ACTIONS.get(action, (action,))


def _name(node: ast.expr) -> str | None:
    """The identifier a name or attribute ends in (``self._client`` -> ``_client``)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _created_service(node: ast.AST) -> str | None:
    """The service of a ``*.client("svc")`` call anywhere in ``node``."""
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Call)
            and _name(sub.func) == "client"
            and sub.args
            and isinstance(sub.args[0], ast.Constant)
            and isinstance(sub.args[0].value, str)
        ):
            return sub.args[0].value
    return None


def _annotated_service(annotation: ast.expr | None) -> str | None:
    if annotation is None:
        return None
    for sub in ast.walk(annotation):
        name = _name(sub) if isinstance(sub, ast.expr) else None
        if name in CLIENT_TYPES:
            return CLIENT_TYPES[name]
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            for type_name, service in CLIENT_TYPES.items():
                if type_name in sub.value:
                    return service
    return None


def client_names(tree: ast.AST) -> dict[str, str]:
    """Identifier -> service, for every name in ``tree`` that holds a client."""
    names: dict[str, str] = {}
    changed = True
    while changed:  # names assigned from client names, to a fixed point
        changed = False
        for node in ast.walk(tree):
            targets: list[ast.expr] = []
            service: str | None = None
            if isinstance(node, ast.arg):
                service = _annotated_service(node.annotation)
                if service and names.get(node.arg) != service:
                    names[node.arg] = service
                    changed = True
                continue
            if isinstance(node, ast.AnnAssign):
                targets = [node.target]
                service = _annotated_service(node.annotation) or (
                    _created_service(node.value) if node.value else None
                )
            elif isinstance(node, ast.Assign):
                targets = node.targets
                service = _created_service(node.value)
                if service is None:
                    source = _name(node.value) if isinstance(node.value, ast.expr) else None
                    service = names.get(source) if source else None
            for target in targets:
                name = _name(target)
                if service and name and names.get(name) != service:
                    names[name] = service
                    changed = True
    return names


def calls_in(source: str, where: str) -> tuple[list[Call], list[str]]:
    """The API calls in ``source``, and the client methods that are no operation."""
    tree = ast.parse(source)
    names = client_names(tree)
    found: list[Call] = []
    unknown: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = _name(node.func.value)
        service = names.get(receiver) if receiver else None
        if service is None:
            continue
        method = node.func.attr
        at = f"{where}:{node.lineno}"
        if method == "get_paginator":
            argument = node.args[0] if node.args else None
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                method = argument.value
            else:
                unknown.append(f"{at}: get_paginator with a computed operation")
                continue
        elif method in CLIENT_UTILITIES:
            continue
        operation = operations(service).get(method)
        if operation is None:
            unknown.append(f"{at}: {receiver}.{method} is no {service} operation")
            continue
        found += [Call(action, at) for action in iam_actions(service, operation)]
    return found, unknown


def function_calls() -> tuple[list[Call], list[str]]:
    """Every API call of the code the function runs."""
    found: list[Call] = []
    unknown: list[str] = []
    for part in FUNCTION_CODE:
        for file in sorted((ADAPTER / part).rglob("*.py")):
            where = file.relative_to(ADAPTER).as_posix()
            if where in NOT_IN_THE_FUNCTION:
                continue
            calls, odd = calls_in(file.read_text(), where)
            found += calls
            unknown += odd
    return found, unknown
