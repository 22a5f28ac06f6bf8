"""``LocalRuntime``: the whole stack in-process on moto, with a virtual clock.

Real DynamoDB and SQS semantics (conditional writes, delays, visibility timeouts,
redelivery, DLQ redrive) come from moto; messages are received from moto's queues and
handed to the same SQS batch handler Lambda runs, one message per thread as if each
were its own invocation. The clock is virtual: moto's SQS reads it too, so a
``sleep("30d")`` or a retry delay is a jump of the clock, not a wait.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import uuid
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any
from unittest import mock

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from .._moto import answer_in_process, install, uninstall
from ..core import Registry, default_registry
from ..core.durations import DurationLike, parse_duration
from ..core.errors import DeploymentNotFoundError, RunTimeoutError
from ..core.events import Event
from ..core.messages import Message
from ..runtime import (
    Deployments,
    Runtime,
    activate,
    deactivate,
    reset_env_runtime,
)
from ..world import ENV_FUNCTION, RunRecord
from ..world.aws import (
    BOTO_CONFIG,
    AwsConfig,
    AwsWorld,
    LambdaFunction,
    create_resources,
)
from ._clock import VirtualClock
from ._pump import REGION, QueuePump

logger = logging.getLogger(__name__)

# Below SQS's default 4-day retention, which moto enforces on the virtual clock too.
_MAX_LOCAL_DELAY = 24 * 3600


class LocalRuntime(QueuePump):
    """An in-process stack for tests and demos: moto, the real handler, a virtual clock.

    Example::

        with LocalRuntime() as rt:
            run = start(onboarding, args=["ada@example.com"])
            assert run.return_value == {...}
            print([e.type for e in rt.events(run.run_id)])

    Args:
        registry: The code of deployment ``"1"`` (alias ``"live"``); the default
            registry when omitted.
        prefix: Name prefix of the created table, queues and bucket.
        max_delay_seconds: Longest delay of one message: a day by default (SQS allows
            900 s; longer timers hop, as on AWS); pass 900 to exercise AWS's hops.
    """

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        prefix: str | None = None,
        max_delay_seconds: int = _MAX_LOCAL_DELAY,
    ) -> None:
        self._registry = registry or default_registry
        self._max_delay = max_delay_seconds
        self._prefix = prefix or f"adapter-{uuid.uuid4().hex[:8]}"
        self.clock = VirtualClock()
        self._patches: list[Any] = []
        self._mock: Any = None
        self._tuned = False
        self._active = False
        self._in_flight: set[str] = set()
        self._lock = threading.RLock()
        # Enough for invocations nested in waiting steps (each level holds one).
        self._invokers = ThreadPoolExecutor(max_workers=64, thread_name_prefix="invoke")
        self._runtimes: dict[str, Runtime] = {}
        self._aliases: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self.function_name = ""
        self._woken: set[tuple[str, int]] = set()
        self._woken_stale: set[tuple[str, int]] = set()
        self.forwarded: list[Message] = []
        """Messages the live version forwarded to the version their run is pinned to."""

    # --- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> LocalRuntime:
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)  # what was set up so far, undone
            raise
        return self

    def _start(self) -> None:
        from moto import mock_aws

        env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
        cleared = {k: "" for k in os.environ if k.startswith("AWS_ENDPOINT_URL")}
        env_patch = mock.patch.dict(os.environ, {**env, **cleared})
        env_patch.start()
        for key in cleared:
            os.environ.pop(key, None)
        self._patches.append(env_patch)
        for name, fn in (
            ("unix_time", self.clock.unix),
            ("unix_time_millis", lambda dt=None: self.clock.unix(dt) * 1000.0),
            # Day-long delays: the 15-minute hops real SQS needs would make a
            # `sleep("30d")` thousands of messages here; this way it is 30.
            ("MAXIMUM_MESSAGE_DELAY", _MAX_LOCAL_DELAY),
        ):
            patcher = mock.patch(f"moto.sqs.models.{name}", fn)
            patcher.start()
            self._patches.append(patcher)
        # Thread-safe (and unless ADAPTER_TUNE_MOTO=0, faster) while we run; undone on exit.
        install()
        self._tuned = True
        self._mock = mock_aws()
        self._mock.start()
        self.env = create_resources(self._prefix)
        self._lambda = boto3.client("lambda", region_name=REGION)
        self.function_name = self._create_function()
        self.env[ENV_FUNCTION] = self.function_name
        os.environ.update(self.env)
        reset_env_runtime()
        # moto checks no signatures: signing every request would only cost time.
        unsigned = BOTO_CONFIG.merge(Config(signature_version=UNSIGNED))
        dynamodb = boto3.client("dynamodb", region_name=REGION, config=unsigned)
        sqs = boto3.client("sqs", region_name=REGION, config=unsigned)
        for client in (dynamodb, sqs):
            answer_in_process(client)  # the calls of every step: no HTTP layer to go through
        self._world = AwsWorld(
            AwsConfig.from_env(self.env),
            dynamodb=dynamodb,
            sqs=sqs,
            max_delay_seconds=self._max_delay,
        )
        self._function = LambdaFunction(self.function_name, self._lambda)
        self._add_runtime("1", self._registry)
        self._set_alias("live", "1")
        activate(self.runtime)
        self._active = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._active:
            self._active = False
            deactivate(self.runtime)
        self._invokers.shutdown(wait=False)
        reset_env_runtime()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._tuned:
            self._tuned = False
            uninstall()
        for patcher in reversed(self._patches):
            patcher.stop()
        self._patches.clear()

    # --- deployments ---------------------------------------------------------------------

    @property
    def runtime(self) -> Runtime:
        """The runtime of the version the ``live`` alias points at.

        Queue messages reach it first, as Lambda's event-source mapping reaches the
        alias; it forwards messages pinned to other versions to their runtimes.
        """
        return self._runtimes[self._aliases["live"]]

    def deploy(self, version: str, registry: Registry, aliases: Iterable[str] = ()) -> None:
        """Publish a new Lambda version running ``registry``'s code; point ``aliases`` at it.

        The function, its versions and aliases live in moto's Lambda, so deployment ids
        resolve through the same Lambda API calls as on AWS. Versions are published in
        order (``"2"``, then ``"3"``...). Moving ``live`` makes the new version the
        default for runs started from now on; runs already started stay on theirs.
        """
        expected = str(len(self._runtimes) + 1)
        if version != expected:
            raise ValueError(f"Lambda publishes versions in order: the next one is {expected!r}")
        self._lambda.update_function_code(FunctionName=self.function_name, ZipFile=_code(version))
        published = self._lambda.publish_version(FunctionName=self.function_name)["Version"]
        if published != version:
            raise RuntimeError(f"Lambda published version {published}, expected {version}")
        self._add_runtime(version, registry)
        previous = self.runtime
        for alias in aliases:
            self._set_alias(alias, version)
        self._function.clear_cache()
        if self.runtime is not previous:
            deactivate(previous)
            activate(self.runtime)

    def _create_function(self) -> str:
        name = f"{self._prefix}-workflows"
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName=f"{self._prefix}-role",
            AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}',
        )["Role"]["Arn"]
        self._lambda.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": _code("1")},
            Publish=True,
        )
        return name

    def _add_runtime(self, version: str, registry: Registry) -> None:
        self._runtimes[version] = Runtime(
            self._world,
            deployments=Deployments(version, {version: registry}, function=self._function),
            clock=self.clock.now,
            pause_until=self.clock.advance_to,
            waiter=self._wait,
            forwarder=self._forward,
        )

    def _set_alias(self, alias: str, version: str) -> None:
        if alias in self._aliases:
            self._lambda.update_alias(
                FunctionName=self.function_name, Name=alias, FunctionVersion=version
            )
        else:
            self._lambda.create_alias(
                FunctionName=self.function_name, Name=alias, FunctionVersion=version
            )
        self._aliases[alias] = version

    def _forward(self, message: Message, receive_count: int) -> None:
        # What an async invoke with the version's qualifier does on AWS, in-process.
        self.forwarded.append(message)
        target = self._runtimes.get(message.deployment_id)
        if target is None:
            raise DeploymentNotFoundError(f"no deployment {message.deployment_id!r} here")
        target.process(message, receive_count=receive_count)

    # --- time and work -------------------------------------------------------------------

    def now(self) -> datetime:
        """The virtual time."""
        return self.clock.now()

    def drain(self, *, skip_time: bool = True) -> int:
        """Process everything that is due; with ``skip_time``, jump the clock to each next
        timer (sleeps, retry delays, redeliveries) until no work is left.

        Returns the number of messages processed.
        """
        processed = self._pump()
        while skip_time:
            due = self._next_due()
            if due is None:
                if not self._wake_stalled():
                    break
            else:
                self.clock.advance_to(due)
            processed += self._pump()
        return processed

    def advance(self, duration: DurationLike) -> int:
        """Move the clock forward by ``duration``, processing work as it becomes due."""
        target = self.clock.now() + parse_duration(duration)
        processed = self._pump()
        while True:
            due = self._next_due()
            if due is None or due > target:
                break
            self.clock.advance_to(due)
            processed += self._pump()
        self.clock.advance_to(target)
        return processed + self._pump()

    def events(self, run_id: str) -> list[Event]:
        """The run's events, in order."""
        return self.runtime.history(run_id)[1]

    # --- internals -------------------------------------------------------------------------

    def _wait(self, run_id: str, timeout: float | None) -> RunRecord:
        # Drive the stack until the run ends. Called from `Run.result()`, possibly
        # inside a step that polls a child: the caller's own message stays in flight.
        # The timeout is virtual time: the clock moves no further than it.
        give_up = None if timeout is None else self.clock.now() + timedelta(seconds=timeout)

        def out_of_time(moment: datetime | None) -> bool:
            if give_up is None or (moment is not None and moment <= give_up):
                return False
            self.clock.advance_to(give_up)
            return True

        while True:
            # Every message is processed by one of our runtimes: until one of them saw
            # the run end, it has not (a cache may have forgotten it: idle, we read).
            seen = [rt.known(run_id) for rt in list(self._runtimes.values())]
            if any(record is not None and record.ended for record in seen):
                record = self.runtime.get_record(run_id)
                if record.ended:
                    return record
            if self._pump():
                continue
            record = self.runtime.get_record(run_id)
            if record.ended:
                return record
            due = self._next_due()
            if out_of_time(due):
                raise RunTimeoutError(f"run {run_id} did not end within {timeout} s")
            if due is not None:
                self.clock.advance_to(due)
            elif not self._wake_stalled(until=give_up):
                if give_up is not None:
                    self.clock.advance_to(give_up)
                    raise RunTimeoutError(f"run {run_id} did not end within {timeout} s")
                raise RunTimeoutError(
                    f"run {run_id} has not ended and nothing is scheduled: it waits on "
                    "something outside this runtime (a hook to resume?)"
                )

    def _wake_stalled(self, until: datetime | None = None) -> bool:
        """When nothing is queued, do what the stall sweep does on AWS (see
        ``Runtime.wake_stalled``): wake runs a dead caller left without a message. Each
        run at each point of its log is woken once, so a run that truly waits stays idle.
        The clock moves to when the sweep would find a run overdue, never past ``until``.
        """

        def sweep() -> bool:
            # On AWS the sweep runs inside an invocation: here too, on an invoker
            # thread, and a sweep that fails or dies is simply tried again later.
            try:
                if self.runtime.wake_stalled(timedelta(0), already=self._woken):
                    return True
                # Nothing is queued at all. A run asleep whose timer message was lost,
                # or whose step message was, is woken on AWS by the sweep once that is
                # overdue, and its turn sends the lost work again: move the clock
                # there, as time would pass.
                overdue = self._overdue()
                if overdue is None or (until is not None and overdue > until):
                    return False
                self.clock.advance_to(overdue)
                stale = self.runtime.stale_after
                return bool(self.runtime.wake_stalled(stale, already=self._woken_stale))
            except BaseException:
                logger.warning("the stalled-run sweep failed", exc_info=True)
                return False

        return self._invoke(sweep)

    def _overdue(self) -> datetime | None:
        """When the sweep first finds a running run overdue: a run idle in a sleep once
        the sleep is, any other once its newest event is older than ``stale_after``."""
        world = self.runtime.world
        moments: list[datetime] = []
        for run in world.list_runs(workflow_name=None, status="running", limit=1000):
            if run.stuck:
                continue
            if run.idle:
                if run.idle_until is not None:
                    moments.append(run.idle_until)
                continue
            if (run.run_id, run.last_seq) in self._woken_stale:
                continue
            fresh = world.get_run(run.run_id)
            if fresh is not None and not fresh.ended:
                moments.append(fresh.newest_at or fresh.updated_at or fresh.created_at)
        later = [m + self.runtime.stale_after for m in moments]
        due = [m for m in later if m > self.clock.now()]
        return min(due) if due else None


def _code(version: str) -> bytes:
    """A tiny deployment package: only its bytes matter (each version differs)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", f"# adapter LocalRuntime, version {version}\n")
    return buffer.getvalue()
