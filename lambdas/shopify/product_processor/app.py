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
from typing import Any

from common import shopify_events as se
from common.aws import s3
from common.config import env_field, load_settings
from common.hotstore import SourceVersion
from common.lake import Lake, safe_segment
from common.observability import logger, metrics, tracer
from common.shopify_resources import ResourceFetcher
from common.timeutil import iso_utc

SNAPSHOT_PREFIX = "processed/shopify/product_snapshots"
MAX_VARIANTS = 2048  # Shopify's limit per product


@dataclass(frozen=True)
class Settings:
    data_lake_bucket: str = env_field("DATA_LAKE_BUCKET_NAME")
    event_source: str = env_field("SHOPIFY_EVENT_SOURCE")  # the partner event source; others are quarantined
    shopify_secret_arn: str = env_field("SHOPIFY_ADMIN_API_SECRET_ARN")
    shopify_api_version: str = env_field("SHOPIFY_API_VERSION")
    shopify_admin_base_url: str = env_field("SHOPIFY_ADMIN_BASE_URL", default="")


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
    moment = se.optional_timestamp(value, what)
    return iso_utc(moment) if moment else None


def product_snapshot(product_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    variants = []
    for index, raw in enumerate(se.sequence(payload.get("variants"), "variants")[:MAX_VARIANTS]):
        variant = se.mapping(raw, f"variants[{index}]")
        price = se.optional_decimal(variant.get("price"), f"variants[{index}].price")
        variants.append(
            {
                "variant_id": se.optional_id(variant.get("id"), "variant id"),
                "title": se.text(variant.get("title"), "variant title", limit=255),
                "sku": se.text(variant.get("sku"), "sku", limit=255),
                "price": str(price) if price is not None else None,
                "inventory_item_id": se.optional_id(variant.get("inventory_item_id"), "inventory item id"),
            }
        )
    return {
        "product_id": product_id,
        "title": se.text(payload.get("title"), "title", limit=255),
        "handle": se.text(payload.get("handle"), "handle", limit=255),
        "vendor": se.text(payload.get("vendor"), "vendor", limit=255),
        "product_type": se.text(payload.get("product_type"), "product_type", limit=255),
        "status": se.text(payload.get("status"), "status", limit=64),
        "tags": se.tags(payload.get("tags")),
        "created_at": _iso(payload.get("created_at"), "created_at"),
        "updated_at": _iso(payload.get("updated_at"), "updated_at"),
        "published_at": _iso(payload.get("published_at"), "published_at"),
        "variants": variants,
        "deleted": False,
    }


def prepare(event: se.ShopifyEvent) -> Snapshot:
    product_id = se.shopify_id(event.payload.get("id"), "product id")
    if event.action is se.Action.DELETE:
        body = {"product_id": product_id, "deleted": True, "deleted_at": iso_utc(event.triggered_at)}
        return Snapshot(product_id, event.triggered_at, body)
    version = se.version_time(event.payload, event)
    return Snapshot(product_id, version, product_snapshot(product_id, event.payload))


def store(event: se.ShopifyEvent, snapshot: Snapshot) -> str:
    version = SourceVersion.of(snapshot.version, event.event_id)
    body = dict(snapshot.body, source_event_id=event.event_id, source_topic=event.topic)
    LAKE.put_verbatim(
        snapshot_key(snapshot.product_id, version),
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8"),
        metadata={"event-id": event.event_id},
    )
    return "snapshot"


SETTINGS = load_settings(Settings)
LAKE = Lake(s3(), SETTINGS.data_lake_bucket)
PROCESSOR = se.Processor(
    lake=LAKE,
    source=SETTINGS.event_source,
    entities={"products"},
    prepare=prepare,
    store=store,
    fetch=ResourceFetcher(
        secret_arn=SETTINGS.shopify_secret_arn,
        api_version=SETTINGS.shopify_api_version,
        base_url=SETTINGS.shopify_admin_base_url,
    ),
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    return PROCESSOR.process(event)
