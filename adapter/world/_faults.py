"""What an AWS error means for the runtime: an outage, a lost race, or a refusal."""

from __future__ import annotations

from botocore.exceptions import ClientError

from ..core.errors import ConflictError

_TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "TransactionInProgressException",
        "KMSThrottlingException",
    }
)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is AWS being unavailable for a while (throttling, a 5xx, a
    timeout, a dropped connection) rather than a mistake that would fail again.

    Such errors say nothing about the run: they must not fail it nor use up a step's
    retries, only delay its message.
    """
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError),
        ):
            return True
        if isinstance(current, ClientError):
            error = current.response.get("Error", {})
            status = current.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            return error.get("Code", "") in _TRANSIENT_CODES or int(status or 0) >= 500
        current = current.__cause__ or current.__context__
    return False


def is_cancelled(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    return code in ("TransactionCanceledException", "ConditionalCheckFailedException")


def is_refused(exc: ClientError) -> bool:
    """A request DynamoDB will never accept as it is (no race, no outage): retrying the
    same write cannot help, so it must not be mistaken for a transient error."""
    return exc.response.get("Error", {}).get("Code", "") == "ValidationException"


def conflict(
    run_id: str, seq: int, exc: ClientError, roles: list[tuple[str, str]]
) -> ConflictError:
    """Say which condition failed: the run's seq, a hook token or a delivery id."""
    reasons = exc.response.get("CancellationReasons", [])
    failed = [roles[i] for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"]
    if not failed or failed[0][0] in ("run", "event"):
        return ConflictError(f"run {run_id} moved past seq {seq}", reason="seq")
    if failed[0][0] == "delivery":
        return ConflictError(
            f"delivery {failed[0][1]} was recorded before", reason="delivery", detail=failed[0][1]
        )
    _, token = failed[0]
    return ConflictError(
        f"hook token {token!r} is held by another run", reason="hook", detail=token
    )
