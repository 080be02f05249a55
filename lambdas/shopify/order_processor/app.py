"""orders/* webhooks from the Shopify event bus: raw lake, orders hot store, converted carts.

Every event is first written verbatim to ``raw/shopify/webhooks/orders/...``; a reduced payload's order,
fetched from the Admin API, is kept beside it at ``raw/shopify/fetched/orders/...``. State topics (create,
updated, paid, cancelled, fulfilled, partially_fulfilled) replace the order item (``record = ORDER``)
when their ``updated_at`` is newer than the stored one, so duplicates, Shopify's retries and late
deliveries leave the newest state. ``orders/delete`` marks the item deleted (a tombstone that keeps
what was known, and that later state writes keep: Shopify never undeletes an order, so a newer
``orders/updated`` after the delete updates the attributes under the tombstone and never revives the
order). Only events from the partner event source get here (``se.check_source``). An order whose cart
or checkout token matches an abandoned-carts item marks that item converted with the order id, so a
recovered cart is never reported as abandoned.

The item and its write are ``common.shopify_order_item``'s, shared with the bulk reconciliation, so an
order stores the same item whether a webhook or a bulk export line brought it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from common import aws
from common import shopify_events as se
from common.config import env_field, load_settings
from common.hotstore import Outcome, Replaced, SourceVersion, set_if_absent
from common.lake import Lake
from common.observability import lambda_entry, logger
from common.settings import ShopifyLookupSettings
from common.shopify_order_item import delete_order, order_attributes, write_order
from common.shopify_resources import ResourceFetcher
from common.timeutil import iso_utc

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
    cart_keys: tuple[str, ...]  # abandoned-carts items this order converts
    created_at: datetime | None


def prepare(event: se.ShopifyEvent) -> OrderState:
    payload = event.payload
    order_id = se.shopify_id(payload.get("id"), "order id")
    if event.action is se.Action.DELETE:
        return OrderState(order_id, None, {}, (), None)
    updated_at = se.version_time(payload, event)
    attributes = order_attributes(payload)
    carts = []
    if attributes["cart_token"]:
        carts.append(attributes["cart_token"])
    if attributes["checkout_token"]:
        carts.append(se.checkout_item_key(attributes["checkout_token"]))
    created_at = se.optional_timestamp(payload.get("created_at"), "created_at")
    return OrderState(order_id, updated_at, attributes, tuple(carts), created_at)


def carts_to_mark(result: Replaced, state: OrderState) -> bool:
    """Whether this event must mark the order's carts converted.

    Not when it replaced an older version carrying the same tokens: that version's event marked them,
    or failed before it could and is retried (a retry is stale or a duplicate by then, and marks). Every
    other outcome marks, so a crash between the order write and the marks never loses a mark. The mark
    is one-way and names only this order, so marking twice is harmless.
    """
    if not state.cart_keys:
        return False
    previous = result.previous
    if result.outcome is not Outcome.WRITTEN or previous is None:
        return True
    # Only a state write stores tokens (a tombstone does not), so equal tokens mean an older version.
    return any(previous.get(name) != state.attributes[name] for name in ("cart_token", "checkout_token"))


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
        result = write_order(
            self.dynamodb,
            self.settings.orders_table,
            state.order_id,
            state.attributes,
            SourceVersion.of(state.updated_at, event.event_id),
            updated_at=state.updated_at,
        )
        if carts_to_mark(result, state):
            self.mark_converted(state, state.created_at or state.updated_at)
        return result.outcome.value

    def mark_converted(self, state: OrderState, converted_at: datetime) -> None:
        for cart_key in state.cart_keys:
            newly = set_if_absent(
                self.dynamodb,
                self.settings.abandoned_carts_table,
                {"cart_token": cart_key},
                {
                    "converted_order_id": state.order_id,
                    "converted_at": iso_utc(converted_at),
                    "expires_at": se.cart_expiry(converted_at, self.settings.cart_ttl_days),
                },
            )
            if newly:
                logger.info("cart marked converted", extra={"order_id": state.order_id})


def build_processor(
    settings: Settings,
    *,
    s3: S3Client | None = None,
    dynamodb: DynamoDBClient | None = None,
    secretsmanager: SecretsManagerClient | None = None,
) -> se.Processor[OrderState]:
    """The processor of a deployed function; clients not given are ``common.aws``'s."""
    return se.Processor(
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
