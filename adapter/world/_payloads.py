"""Big payloads: inline in the DynamoDB item when small, in S3 when large.

A payload attribute ``name`` is stored either as ``name`` (JSON text) or, above the
inline limit, as ``name_ref`` (the S3 key of the JSON text). Nothing is truncated: a
payload too big for an item with no bucket configured is refused.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from ..core.errors import PayloadTooLargeError, UnreadableHistoryError
from ._config import ENV_BUCKET

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Well under DynamoDB's 400 KB item and 4 MB transaction limits, so a transaction of
# many steps stays small; SQS messages never carry payloads at all.
INLINE_LIMIT = 64 * 1024
# What an item may hold at most when no bucket is configured.
MAX_ITEM_PAYLOAD = 350_000


def dump(value: Any) -> str:
    """Compact JSON text of a serde tree."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class PayloadStore:
    """Packs payload attributes into items and unpacks them, using S3 for big ones.

    Args:
        s3: An S3 client, or ``None`` to keep everything inline.
        bucket: The payload bucket (``ADAPTER_BUCKET_NAME``).
        inline_limit: Payloads up to this many bytes of JSON stay in the item.
    """

    def __init__(
        self, s3: S3Client | None, bucket: str | None, inline_limit: int = INLINE_LIMIT
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self.inline_limit = inline_limit

    def pack(self, name: str, value: Any, key_prefix: str, what: str) -> dict[str, Any]:
        """The item attributes for payload ``name``: inline, or a reference to S3."""
        text = dump(value)
        size = len(text.encode("utf-8"))
        if size <= self.inline_limit:
            return {name: {"S": text}}
        if self._s3 is None or not self._bucket:
            if size <= MAX_ITEM_PAYLOAD:
                return {name: {"S": text}}
            raise PayloadTooLargeError(
                f"{what} is {size} bytes: more than a DynamoDB item holds. Set "
                f"{ENV_BUCKET} to a bucket so large payloads are kept in S3"
            )
        # A fresh key per write: a write that loses its conditional race must not
        # overwrite the payload a winner already references.
        key = f"{key_prefix}/{name}-{uuid.uuid4().hex}.json"
        self._s3.put_object(
            Bucket=self._bucket, Key=key, Body=text.encode("utf-8"), ContentType="application/json"
        )
        return {f"{name}_ref": {"S": key}}

    def unpack(self, item: dict[str, Any], name: str) -> Any:
        """The payload ``name`` of an item (``None`` when absent)."""
        if name in item:
            return json.loads(item[name]["S"])
        ref = item.get(f"{name}_ref")
        if ref is None:
            return None
        if self._s3 is None or not self._bucket:
            raise PayloadTooLargeError(
                f"payload {name!r} is stored in S3 ({ref['S']}) but no bucket is configured"
            )
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=ref["S"])["Body"].read()
        except Exception as exc:
            if _is_missing(exc):
                raise UnreadableHistoryError(
                    f"payload object s3://{self._bucket}/{ref['S']} is missing (deleted by "
                    "a lifecycle rule or by hand?)"
                ) from exc
            raise
        try:
            return json.loads(body)
        except ValueError as exc:
            raise UnreadableHistoryError(
                f"payload object s3://{self._bucket}/{ref['S']} is not valid JSON: {exc}"
            ) from exc


def _is_missing(exc: Exception) -> bool:
    """An S3 answer saying the object (or its bucket) is not there."""
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in ("NoSuchKey", "NoSuchBucket", "404", "NotFound")
