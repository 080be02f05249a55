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
from typing import TYPE_CHECKING, Any

from common import aws
from common.config import env_field, load_settings
from common.hotstore import SourceVersion, replace_if_newer
from common.lake import Lake
from common.observability import lambda_entry
from common.settings import ShopifyLookupSettings
from common.shopify import events as se
from common.shopify import values as check
from common.shopify.processor import Processor
from common.shopify.resources import ResourceFetcher
from common.timeutil import iso_utc

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient


@dataclass(frozen=True, kw_only=True)
class Settings(ShopifyLookupSettings):
    orders_table: str = env_field("ORDERS_TABLE_NAME")


@dataclass(frozen=True)
class FulfillmentState:
    key: dict[str, str]
    updated_at: datetime
    attributes: dict[str, Any]


def _strings(value: Any, what: str, limit: int = 1024) -> list[str]:
    return [s for s in (check.text(v, what, limit=limit) for v in check.sequence(value, what)) if s]


def fulfillment_attributes(payload: Mapping[str, Any]) -> dict[str, Any]:
    numbers = _strings(payload.get("tracking_numbers"), "tracking_numbers", 255)
    single = check.text(payload.get("tracking_number"), "tracking_number", limit=255)
    if single and single not in numbers:
        numbers.insert(0, single)
    urls = _strings(payload.get("tracking_urls"), "tracking_urls", 2048)
    single_url = check.text(payload.get("tracking_url"), "tracking_url", limit=2048)
    if single_url and single_url not in urls:
        urls.insert(0, single_url)
    line_items = []
    for index, raw in enumerate(check.sequence(payload.get("line_items"), "line_items")):
        item = check.mapping(raw, f"line_items[{index}]")
        line_items.append(
            {
                "line_item_id": check.optional_id(item.get("id"), "line item id"),
                "quantity": check.integer(item.get("quantity", 0), f"line_items[{index}].quantity"),
            }
        )
    created_at = check.optional_timestamp(payload.get("created_at"), "created_at")
    attributes = {
        "fulfillment_id": check.shopify_id(payload.get("id"), "fulfillment id"),
        "name": check.text(payload.get("name"), "name", limit=64),
        "status": check.text(payload.get("status"), "status", limit=64),
        "shipment_status": check.text(payload.get("shipment_status"), "shipment_status", limit=64),
        "tracking_company": check.text(payload.get("tracking_company"), "tracking_company", limit=255),
        "tracking_numbers": numbers,
        "tracking_urls": urls,
        "service": check.text(payload.get("service"), "service", limit=255),
        "location_id": check.optional_id(payload.get("location_id"), "location id"),
        "line_items": line_items,
    }
    # created_at is a key of the orders table's by-customer index, which may not be NULL: left out if unknown.
    if created_at is not None:
        attributes["created_at"] = iso_utc(created_at)
    return attributes


def prepare(event: se.ShopifyEvent) -> FulfillmentState:
    payload = event.payload
    fulfillment_id = check.shopify_id(payload.get("id"), "fulfillment id")
    order_id = check.shopify_id(payload.get("order_id"), "order id")
    return FulfillmentState(
        key={"order_id": order_id, "record": f"FULFILLMENT#{fulfillment_id}"},
        updated_at=se.version_time(payload, event),
        attributes=fulfillment_attributes(payload),
    )


class FulfillmentStore:
    """The fulfillment's item on the orders table: this processor's alone, so each version replaces it whole."""

    def __init__(self, settings: Settings, dynamodb: DynamoDBClient) -> None:
        self.settings = settings
        self.dynamodb = dynamodb

    def __call__(self, event: se.ShopifyEvent, state: FulfillmentState) -> str:
        result = replace_if_newer(
            self.dynamodb,
            self.settings.orders_table,
            state.key,
            state.attributes,
            SourceVersion.of(state.updated_at, event.event_id),
            updated_at=state.updated_at,
        )
        return result.outcome.value


def build_processor(
    settings: Settings,
    *,
    s3: S3Client | None = None,
    dynamodb: DynamoDBClient | None = None,
    secretsmanager: SecretsManagerClient | None = None,
) -> Processor[FulfillmentState]:
    """The processor of a deployed function; clients not given are ``common.aws``'s."""
    return Processor(
        lake=Lake(s3 or aws.s3(), settings.bucket),
        source=settings.event_source,
        entities={"fulfillments"},
        prepare=prepare,
        store=FulfillmentStore(settings, dynamodb or aws.dynamodb()),
        fetch=ResourceFetcher.of(settings, secretsmanager),
    )


settings = load_settings(Settings)
processor = build_processor(settings)


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    return processor.process(event)
