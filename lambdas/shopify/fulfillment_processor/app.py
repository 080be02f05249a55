"""fulfillments/* webhooks from the Shopify event bus: raw lake and the order's fulfillment state.

Every event is first written verbatim to ``raw/shopify/webhooks/fulfillments/...``. fulfillments/create
and fulfillments/update replace the fulfillment item of its order (``order_id``, ``record =
FULFILLMENT#<fulfillment id>``) on the orders table when their ``updated_at`` is newer: status,
shipment status, tracking numbers and URLs, carrier, location, timestamps and the fulfilled line items.
fulfillment_events/* and fulfillment_orders/* are kept in the lake only: the shipment status they
report reaches the fulfillment item through the fulfillments/update Shopify sends with it.
The recipient's address, name and e-mail stay in the raw lake only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common import shopify_events as se
from common.aws import dynamodb, s3
from common.config import env_field, load_settings
from common.hotstore import SourceVersion, replace_if_newer
from common.lake import Lake
from common.observability import logger, metrics, tracer
from common.shopify_resources import ResourceFetcher
from common.timeutil import iso_utc


@dataclass(frozen=True)
class Settings:
    data_lake_bucket: str = env_field("DATA_LAKE_BUCKET_NAME")
    event_source: str = env_field("SHOPIFY_EVENT_SOURCE")  # the partner event source; others are quarantined
    orders_table: str = env_field("ORDERS_TABLE_NAME")
    shopify_secret_arn: str = env_field("SHOPIFY_ADMIN_API_SECRET_ARN")
    shopify_api_version: str = env_field("SHOPIFY_API_VERSION")
    shopify_admin_base_url: str = env_field("SHOPIFY_ADMIN_BASE_URL", default="")


@dataclass(frozen=True)
class FulfillmentState:
    key: dict[str, str]
    updated_at: datetime
    attributes: dict[str, Any]


def _strings(value: Any, what: str, limit: int = 1024) -> list[str]:
    return [s for s in (se.text(v, what, limit=limit) for v in se.sequence(value, what)) if s]


def fulfillment_attributes(payload: Mapping[str, Any]) -> dict[str, Any]:
    numbers = _strings(payload.get("tracking_numbers"), "tracking_numbers", 255)
    single = se.text(payload.get("tracking_number"), "tracking_number", limit=255)
    if single and single not in numbers:
        numbers.insert(0, single)
    urls = _strings(payload.get("tracking_urls"), "tracking_urls", 2048)
    single_url = se.text(payload.get("tracking_url"), "tracking_url", limit=2048)
    if single_url and single_url not in urls:
        urls.insert(0, single_url)
    line_items = []
    for index, raw in enumerate(se.sequence(payload.get("line_items"), "line_items")):
        item = se.mapping(raw, f"line_items[{index}]")
        line_items.append(
            {
                "line_item_id": se.optional_id(item.get("id"), "line item id"),
                "quantity": se.integer(item.get("quantity", 0), f"line_items[{index}].quantity"),
            }
        )
    created_at = se.optional_timestamp(payload.get("created_at"), "created_at")
    attributes = {
        "fulfillment_id": se.shopify_id(payload.get("id"), "fulfillment id"),
        "name": se.text(payload.get("name"), "name", limit=64),
        "status": se.text(payload.get("status"), "status", limit=64),
        "shipment_status": se.text(payload.get("shipment_status"), "shipment_status", limit=64),
        "tracking_company": se.text(payload.get("tracking_company"), "tracking_company", limit=255),
        "tracking_numbers": numbers,
        "tracking_urls": urls,
        "service": se.text(payload.get("service"), "service", limit=255),
        "location_id": se.optional_id(payload.get("location_id"), "location id"),
        "line_items": line_items,
    }
    # created_at is a key of the orders table's by-customer index, which may not be NULL: left out if unknown.
    if created_at is not None:
        attributes["created_at"] = iso_utc(created_at)
    return attributes


def prepare(event: se.ShopifyEvent) -> FulfillmentState:
    payload = event.payload
    fulfillment_id = se.shopify_id(payload.get("id"), "fulfillment id")
    order_id = se.shopify_id(payload.get("order_id"), "order id")
    return FulfillmentState(
        key={"order_id": order_id, "record": f"FULFILLMENT#{fulfillment_id}"},
        updated_at=se.version_time(payload, event),
        attributes=fulfillment_attributes(payload),
    )


def store(event: se.ShopifyEvent, state: FulfillmentState) -> str:
    # The fulfillment item is this processor's alone: each version replaces it whole.
    result = replace_if_newer(
        DYNAMODB,
        SETTINGS.orders_table,
        state.key,
        state.attributes,
        SourceVersion.of(state.updated_at, event.event_id),
        updated_at=state.updated_at,
    )
    return result.outcome.value


SETTINGS = load_settings(Settings)
DYNAMODB = dynamodb()
PROCESSOR = se.Processor(
    lake=Lake(s3(), SETTINGS.data_lake_bucket),
    source=SETTINGS.event_source,
    entities={"fulfillments"},
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
