"""Deployments: which code serves which Lambda version, and how names resolve.

A deployment is a Lambda version; aliases name versions. A run is pinned to the version
that created it. ``Deployments`` knows the versions whose code is loaded in this
process (one in Lambda, several in ``LocalRuntime``) and resolves ``None``,
``"latest"``, aliases and versions, through the Lambda API when a function is
configured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..core import Registry
from ..core.errors import DeploymentNotFoundError

if TYPE_CHECKING:  # boto3 stays out of imports that do not call Lambda
    from ..world.aws import LambdaFunction


class Deployments:
    """Resolve deployment ids and find the code for a version.

    Args:
        current: The version this process runs as: the default for new runs. A
            callable is resolved on first use (a client resolving the ``live`` alias
            needs no Lambda call until it starts a run).
        registries: The code loaded here, per version. A version missing here is
            served elsewhere (another Lambda version): its messages are forwarded.
        function: Resolve through the Lambda API. Without it, ``aliases`` and the keys
            of ``registries`` are all there is.
        aliases: Alias -> version, used without a function.
    """

    def __init__(
        self,
        current: str | Callable[[], str],
        registries: Mapping[str, Registry],
        *,
        function: LambdaFunction | None = None,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self._current = current
        self.registries = dict(registries)
        self.function = function
        self.aliases = dict(aliases or {})

    @property
    def current(self) -> str:
        """The version this process runs as."""
        if callable(self._current):
            self._current = self._current()
        return self._current

    def resolve(self, requested: str | None) -> str:
        """Turn ``None``, ``"latest"``, an alias or a version into a version.

        Raises:
            DeploymentNotFoundError: for an unknown alias or version.
        """
        if requested is None:
            return self.current
        if self.function is not None:
            return self.function.resolve(requested)
        if requested == "latest":
            numbered = [v for v in self.registries if v.isdigit()]
            return max(numbered, key=int) if numbered else self.current
        if requested in self.aliases:
            return self.aliases[requested]
        if requested in self.registries:
            return requested
        known = sorted(self.registries) + sorted(self.aliases)
        raise DeploymentNotFoundError(
            f"unknown deployment {requested!r}; known versions and aliases: {', '.join(known)}"
        )

    def registry_for(self, version: str) -> Registry | None:
        """The code serving ``version`` here, or ``None`` when another version serves it."""
        return self.registries.get(version)

    def require(self, version: str) -> Registry:
        """Like :meth:`registry_for`, raising when the code is not loaded here."""
        registry = self.registries.get(version)
        if registry is None:
            raise DeploymentNotFoundError(f"deployment {version!r} is not served by this process")
        return registry
