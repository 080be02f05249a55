"""orders/* webhooks from the Shopify event bus: raw lake, orders hot store, converted carts.

Every event is first written verbatim to ``raw/shopify/webhooks/orders/...``; a reduced payload's order,
fetched from the Admin API, is kept beside it at ``raw/shopify/fetched/orders/...``. State topics (create,
updated, paid, cancelled, fulfilled, partially_fulfilled) replace the order item (``record = ORDER``)
when their ``updated_at`` is newer than the stored one, so duplicates, Shopify's retries and late
deliveries leave the newest state. ``orders/delete`` marks the item deleted (a tombstone that keeps
what was known, and that later state writes keep: Shopify never undeletes an order, so a newer
``orders/updated`` after the delete updates the attributes under the tombstone and never revives the
order). Only events from the partner event source get here (``se.check_source``). An order with a cart
or checkout token marks that abandoned-carts item converted with the order id
(``common.shopify.order_item.mark_carts_converted``, which the bulk reconciliation calls too), so a
recovered cart is never reported as abandoned.

The item and its write are ``common.shopify.order_item``'s, shared with the bulk reconciliation, so an
order stores the same item whether a webhook or a bulk export line brought it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from common import aws
from common.config import env_field, load_settings
from common.hotstore import SourceVersion
from common.lake import Lake
from common.observability import lambda_entry
from common.settings import ShopifyLookupSettings
from common.shopify import events as se
from common.shopify import values as check
from common.shopify.order_attributes import order_attributes
from common.shopify.order_item import conversion_marks, delete_order, write_order
from common.shopify.processor import Processor
from common.shopify.resources import ResourceFetcher

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient


@dataclass(frozen=True, kw_only=True)
class Settings(ShopifyLookupSettings):
    orders_table: str = env_field("ORDERS_TABLE_NAME")
    abandoned_carts_table: str = env_field("ABANDONED_CARTS_TABLE_NAME")
    cart_ttl_days: int = env_field("CART_TTL_DAYS")


@dataclass(frozen=True)
class OrderState:
    order_id: str
    updated_at: datetime | None  # None for a delete
    attributes: dict[str, Any]


def prepare(event: se.ShopifyEvent) -> OrderState:
    payload = event.payload
    order_id = check.shopify_id(payload.get("id"), "order id")
    if event.action is se.Action.DELETE:
        return OrderState(order_id, None, {})
    return OrderState(order_id, se.version_time(payload, event), order_attributes(payload))


class OrderStore:
    """The order's item on the orders table, and the conversion mark on its carts."""

    def __init__(self, settings: Settings, dynamodb: DynamoDBClient) -> None:
        self.settings = settings
        self.dynamodb = dynamodb

    def __call__(self, event: se.ShopifyEvent, state: OrderState) -> str:
        if state.updated_at is None:
            newly = delete_order(
                self.dynamodb,
                self.settings.orders_table,
                state.order_id,
                deleted_at=event.triggered_at,
                event_id=event.event_id,
            )
            return "tombstoned" if newly else "duplicate"
        marks = conversion_marks(
            self.settings.abandoned_carts_table,
            state.order_id,
            state.attributes,
            updated_at=state.updated_at,
            ttl_days=self.settings.cart_ttl_days,
        )
        result = write_order(
            self.dynamodb,
            self.settings.orders_table,
            state.order_id,
            state.attributes,
            SourceVersion.of(state.updated_at, event.event_id),
            updated_at=state.updated_at,
            marks=marks,
        )
        return result.outcome.value


def build_processor(
    settings: Settings,
    *,
    s3: S3Client | None = None,
    dynamodb: DynamoDBClient | None = None,
    secretsmanager: SecretsManagerClient | None = None,
) -> Processor[OrderState]:
    """The processor of a deployed function; clients not given are ``common.aws``'s."""
    return Processor(
        lake=Lake(s3 or aws.s3(), settings.bucket),
        source=settings.event_source,
        entities={"orders"},
        prepare=prepare,
        store=OrderStore(settings, dynamodb or aws.dynamodb()),
        fetch=ResourceFetcher.of(settings, secretsmanager),
        keep_fetched=True,  # raw/shopify/fetched/orders/...: the Glue job reads a reduced payload's order there
    )


settings = load_settings(Settings)
processor = build_processor(settings)


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    return processor.process(event)
