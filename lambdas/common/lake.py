"""The S3 lake: deterministic keys (DESIGN.md section 4) and verbatim writes.

Keys are derived only from the input's own identity (event id, resource id and version, content hash),
so a redelivery or a replay overwrites the same object instead of adding a second one, and lands in the
same ``dt=`` partition.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from common.timeutil import iso_utc, partition_date

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class UnsafeKeyError(ValueError):
    """A value from the input that cannot be part of an object key as it is."""


def safe_segment(value: str, what: str) -> str:
    """A key segment taken from input: letters, digits, ``._-`` only, so input cannot shape paths."""
    if not _SAFE_SEGMENT.match(value) or value in {".", ".."}:
        raise UnsafeKeyError(f"{what} is not usable in an object key: {value[:60]!r}")
    return value


def topic_segment(topic: str) -> str:
    """``orders/create`` becomes ``orders_create``."""
    return safe_segment(topic.replace("/", "_"), "topic")


WEBHOOKS_PREFIX = "raw/shopify/webhooks/"
FETCHED_PREFIX = "raw/shopify/fetched/"


def _shopify_event_path(entity: str, topic: str, triggered_at: datetime, event_id: str) -> str:
    return (
        f"{safe_segment(entity, 'entity')}/topic={topic_segment(topic)}"
        f"/dt={partition_date(triggered_at)}/{safe_segment(event_id, 'event id')}.json"
    )


def shopify_webhook_key(entity: str, topic: str, triggered_at: datetime, event_id: str) -> str:
    return WEBHOOKS_PREFIX + _shopify_event_path(entity, topic, triggered_at, event_id)


def shopify_fetched_key(entity: str, topic: str, triggered_at: datetime, event_id: str) -> str:
    """Where the resource fetched for a reduced payload is kept: the raw webhook's key under
    ``raw/shopify/fetched/`` instead of ``raw/shopify/webhooks/`` (same entity, topic, ``dt=`` and event
    id), so a redelivery rewrites its own object and ``raw/shopify/webhooks/`` keeps only what Shopify
    sent."""
    return FETCHED_PREFIX + _shopify_event_path(entity, topic, triggered_at, event_id)


def recharge_key(resource: str, topic: str, updated_at: datetime, resource_id: str) -> str:
    version = iso_utc(updated_at).replace(":", "")
    return (
        f"raw/recharge/{safe_segment(resource, 'resource')}/topic={topic_segment(topic)}"
        f"/dt={partition_date(updated_at)}/{safe_segment(resource_id, 'id')}-{version}.json"
    )


def bulk_part_key(object_type: str, run_id: str, part_number: int) -> str:
    return (
        f"raw/shopify/bulk/{safe_segment(object_type, 'object type')}"
        f"/run={safe_segment(run_id, 'run id')}/part-{part_number:05d}.jsonl.gz"
    )


def quarantine_key(source: str, reason: str, received_at: datetime, body: bytes, within: Sequence[str] = ()) -> str:
    """Content-addressed, so the same bad input delivered twice is kept once. ``within`` adds folders
    between the reason and the hash (Triple Whale: shop and day, so two days answered with the same bad
    body are kept apart)."""
    digest = hashlib.sha256(body).hexdigest()
    folders = "".join(f"/{safe_segment(name, 'quarantine folder')}" for name in within)
    return (
        f"quarantine/{safe_segment(source, 'source')}/dt={partition_date(received_at)}"
        f"/{safe_segment(reason, 'reason')}{folders}/{digest}.json"
    )


@dataclass(frozen=True)
class Lake:
    """Writes to the lake bucket. Encryption comes from the bucket's default (SSE-KMS, bucket key)."""

    s3: S3Client
    bucket: str

    def put_verbatim(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str = "application/json",
        metadata: dict[str, str] | None = None,
    ) -> str:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            Metadata=metadata or {},
        )
        return key

    def quarantine(
        self,
        *,
        source: str,
        reason: str,
        body: bytes,
        received_at: datetime,
        detail: str,
        within: Sequence[str] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Keep an input that cannot be processed, byte for byte, with why in the object's metadata
        (``metadata`` adds ASCII entries of the caller's, such as the period a body answered)."""
        key = quarantine_key(source, reason, received_at, body, within)
        ascii_detail = detail.encode("ascii", "replace").decode("ascii")[:512]
        return self.put_verbatim(
            key,
            body,
            content_type="application/octet-stream",
            metadata={
                **(metadata or {}),
                "reason": reason,
                "detail": ascii_detail,
                "received-at": iso_utc(received_at),
            },
        )
