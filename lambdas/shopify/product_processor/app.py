"""products/* webhooks from the Shopify event bus: raw lake and product snapshots (no hot store).

Every event is first written verbatim to ``raw/shopify/webhooks/products/...``. Each create or update
also writes a compact snapshot of the product (identity, status, tags, variants with SKU and price) to

    processed/shopify/product_snapshots/product_id=<id>/<version>.json

where ``<version>`` is the product's ``updated_at`` in microseconds (20 digits) and the event id, so a
redelivery rewrites its own snapshot, late events add an older one, and the newest snapshot of a
product is the last key of its folder in lexicographic order. products/delete writes a snapshot with
``deleted: true`` versioned at the delete's triggered-at time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from common import aws
from common.config import load_settings
from common.hotstore import SourceVersion
from common.lake import Lake, safe_segment
from common.observability import lambda_entry
from common.settings import ShopifyLookupSettings
from common.shopify import events as se
from common.shopify import values as check
from common.shopify.processor import Processor
from common.shopify.resources import ResourceFetcher
from common.timeutil import iso_utc

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

SNAPSHOT_PREFIX = "processed/shopify/product_snapshots"
MAX_VARIANTS = 2048  # Shopify's limit per product


@dataclass(frozen=True, kw_only=True)
class Settings(ShopifyLookupSettings):
    pass


@dataclass(frozen=True)
class Snapshot:
    product_id: str
    version: datetime
    body: dict[str, Any]


def snapshot_key(product_id: str, version: SourceVersion) -> str:
    return (
        f"{SNAPSHOT_PREFIX}/product_id={safe_segment(product_id, 'product id')}"
        f"/{version.updated_at_us:020d}-{safe_segment(version.event_id, 'event id')}.json"
    )


def _iso(value: Any, what: str) -> str | None:
    moment = check.optional_timestamp(value, what)
    return iso_utc(moment) if moment else None


def product_snapshot(product_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    variants = []
    for index, raw in enumerate(check.sequence(payload.get("variants"), "variants")[:MAX_VARIANTS]):
        variant = check.mapping(raw, f"variants[{index}]")
        price = check.optional_decimal(variant.get("price"), f"variants[{index}].price")
        variants.append(
            {
                "variant_id": check.optional_id(variant.get("id"), "variant id"),
                "title": check.text(variant.get("title"), "variant title", limit=255),
                "sku": check.text(variant.get("sku"), "sku", limit=255),
                "price": str(price) if price is not None else None,
                "inventory_item_id": check.optional_id(variant.get("inventory_item_id"), "inventory item id"),
            }
        )
    return {
        "product_id": product_id,
        "title": check.text(payload.get("title"), "title", limit=255),
        "handle": check.text(payload.get("handle"), "handle", limit=255),
        "vendor": check.text(payload.get("vendor"), "vendor", limit=255),
        "product_type": check.text(payload.get("product_type"), "product_type", limit=255),
        "status": check.text(payload.get("status"), "status", limit=64),
        "tags": check.tags(payload.get("tags")),
        "created_at": _iso(payload.get("created_at"), "created_at"),
        "updated_at": _iso(payload.get("updated_at"), "updated_at"),
        "published_at": _iso(payload.get("published_at"), "published_at"),
        "variants": variants,
        "deleted": False,
    }


def prepare(event: se.ShopifyEvent) -> Snapshot:
    product_id = check.shopify_id(event.payload.get("id"), "product id")
    if event.action is se.Action.DELETE:
        body = {"product_id": product_id, "deleted": True, "deleted_at": iso_utc(event.triggered_at)}
        return Snapshot(product_id, event.triggered_at, body)
    version = se.version_time(event.payload, event)
    return Snapshot(product_id, version, product_snapshot(product_id, event.payload))


class SnapshotStore:
    """The product's snapshots in the lake (no hot store)."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def __call__(self, event: se.ShopifyEvent, snapshot: Snapshot) -> str:
        version = SourceVersion.of(snapshot.version, event.event_id)
        body = dict(snapshot.body, source_event_id=event.event_id, source_topic=event.topic)
        self.lake.put_verbatim(
            snapshot_key(snapshot.product_id, version),
            json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8"),
            metadata={"event-id": event.event_id},
        )
        return "snapshot"


def build_processor(
    settings: Settings, *, s3: S3Client | None = None, secretsmanager: SecretsManagerClient | None = None
) -> Processor[Snapshot]:
    """The processor of a deployed function; clients not given are ``common.aws``'s."""
    lake = Lake(s3 or aws.s3(), settings.bucket)
    return Processor(
        lake=lake,
        source=settings.event_source,
        entities={"products"},
        prepare=prepare,
        store=SnapshotStore(lake),
        fetch=ResourceFetcher.of(settings, secretsmanager),
    )


settings = load_settings(Settings)
processor = build_processor(settings)


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    return processor.process(event)
