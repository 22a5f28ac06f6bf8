"""Lambda versions and aliases: resolving deployments and reaching other versions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from ..core.errors import DeploymentNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

RESOLVE_TTL_SECONDS = 30.0


class LambdaFunction:
    """One Lambda function's published versions and aliases.

    Resolutions are cached for ``ttl`` seconds per container: starting many runs must
    not cost a Lambda API call each.

    Args:
        name: The function name (``ADAPTER_FUNCTION_NAME``).
        client: A Lambda client (one is made from the default session if omitted).
        ttl: How long a resolution is reused.
    """

    def __init__(
        self,
        name: str,
        client: LambdaClient | None = None,
        *,
        ttl: float = RESOLVE_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._client: LambdaClient = client or boto3.client("lambda")
        self._ttl = ttl
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def resolve(self, requested: str) -> str:
        """``"latest"``, an alias or a version (or ``$LATEST``) -> a version string.

        Raises:
            DeploymentNotFoundError: the alias or version does not exist.
        """
        now = self._monotonic()
        with self._lock:
            hit = self._cache.get(requested)
            if hit is not None and now - hit[0] < self._ttl:
                return hit[1]
        version = self._lookup(requested)
        with self._lock:
            self._cache[requested] = (now, version)
        return version

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def invoke_async(self, version: str, payload: dict[str, Any]) -> None:
        """Invoke ``version`` asynchronously (Lambda queues it and retries on failure)."""
        self._client.invoke(
            FunctionName=self.name,
            Qualifier=version,
            InvocationType="Event",
            Payload=json.dumps(payload).encode("utf-8"),
        )

    def _lookup(self, requested: str) -> str:
        try:
            if requested == "latest":
                return self._newest_version()
            if requested == "$LATEST" or requested.isdigit():
                self._client.get_function_configuration(FunctionName=self.name, Qualifier=requested)
                return requested
            alias = self._client.get_alias(FunctionName=self.name, Name=requested)
            return alias["FunctionVersion"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise DeploymentNotFoundError(
                    f"function {self.name!r} has no version or alias {requested!r}"
                ) from exc
            raise

    def _newest_version(self) -> str:
        newest = 0
        paginator = self._client.get_paginator("list_versions_by_function")
        for page in paginator.paginate(FunctionName=self.name):
            for version in page.get("Versions", []):
                number = version.get("Version", "")
                if number.isdigit():
                    newest = max(newest, int(number))
        if newest == 0:
            raise DeploymentNotFoundError(f"function {self.name!r} has no published version")
        return str(newest)
