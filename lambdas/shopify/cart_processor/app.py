"""carts/* and checkouts/* webhooks from the Shopify event bus: raw lake and abandoned carts.

Every event is first written verbatim to ``raw/shopify/webhooks/carts/...`` or ``.../checkouts/...``.
The abandoned-carts table holds one item per cart (``cart_token = <cart token>``) and one per
checkout (``cart_token = checkout:<checkout token>``, with ``checkout_token`` for the
``by-checkout-token`` index and the cart it came from as ``cart_ref``). Each is upserted when its
``updated_at`` is newer and expires ``CART_TTL_DAYS`` after its last update (``expires_at``).

Conversion is not decided here: the order processor marks the cart and checkout items of an order
(``converted_order_id``), a one-way mark these writes never touch, so a recovered cart is never
reported as abandoned whatever order the events arrive in. checkouts/delete marks the checkout item
deleted. E-mail, phone, addresses and recovery URLs stay in the raw lake only.

``prepare`` reads the event without side effects; ``CartStore`` writes (and sets the expiry, a policy
of the table); ``build_processor`` wires them to their clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from common import aws
from common.config import env_field, load_settings
from common.hotstore import SourceVersion, tombstone, upsert_if_newer
from common.lake import Lake
from common.observability import lambda_entry
from common.settings import ShopifyEventSettings
from common.shopify import events as se
from common.shopify import values as check
from common.shopify.carts import cart_expiry, checkout_item_key
from common.shopify.processor import Processor
from common.timeutil import iso_utc

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

MAX_LINE_ITEMS = 500


@dataclass(frozen=True, kw_only=True)
class Settings(ShopifyEventSettings):
    abandoned_carts_table: str = env_field("ABANDONED_CARTS_TABLE_NAME")
    cart_ttl_days: int = env_field("CART_TTL_DAYS")


@dataclass(frozen=True)
class CartState:
    item_key: str
    updated_at: datetime | None  # None: a delete mark
    attributes: dict[str, Any]


def _line_items(payload: Mapping[str, Any], currency: str | None) -> tuple[list[dict[str, Any]], int, Decimal]:
    summary: list[dict[str, Any]] = []
    quantity_total = 0
    value_total = Decimal(0)
    for index, raw in enumerate(check.sequence(payload.get("line_items"), "line_items")):
        item = check.mapping(raw, f"line_items[{index}]")
        quantity = check.integer(item.get("quantity", 0), f"line_items[{index}].quantity")
        line_price = check.money(item, "line_price", currency)
        quantity_total += quantity
        if line_price is not None:
            value_total += line_price["amount"]
        if len(summary) < MAX_LINE_ITEMS:
            summary.append(
                {
                    "product_id": check.optional_id(item.get("product_id"), "product id"),
                    "variant_id": check.optional_id(item.get("variant_id"), "variant id"),
                    "sku": check.text(item.get("sku"), "sku", limit=255),
                    "quantity": quantity,
                    "line_price": line_price,
                }
            )
    return summary, quantity_total, value_total


def _currency(payload: Mapping[str, Any]) -> str | None:
    currency = check.text(payload.get("currency"), "currency", limit=8)
    if currency:
        return currency
    # Cart payloads carry no currency of their own; their money sets do.
    for raw in check.sequence(payload.get("line_items"), "line_items"):
        if isinstance(raw, Mapping):
            money_set = raw.get("line_price_set") or raw.get("price_set")
            if isinstance(money_set, Mapping) and isinstance(money_set.get("shop_money"), Mapping):
                return check.text(money_set["shop_money"].get("currency_code"), "currency_code", limit=8)
    return None


def cart_attributes(payload: Mapping[str, Any]) -> dict[str, Any]:
    currency = _currency(payload)
    line_items, quantity, value = _line_items(payload, currency)
    created_at = check.optional_timestamp(payload.get("created_at"), "created_at")
    return {
        "kind": "cart",
        "created_at": iso_utc(created_at) if created_at else None,
        "line_items": line_items,
        "item_count": quantity,
        "value": {"amount": value, "currency": currency},
    }


def checkout_attributes(checkout_token: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    currency = _currency(payload)
    line_items, quantity, _ = _line_items(payload, currency)
    customer = check.optional_mapping(payload.get("customer"), "customer")
    created_at = check.optional_timestamp(payload.get("created_at"), "created_at")
    completed_at = check.optional_timestamp(payload.get("completed_at"), "completed_at")
    return {
        "kind": "checkout",
        "checkout_token": checkout_token,
        "checkout_id": check.optional_id(payload.get("id"), "checkout id"),
        "cart_ref": check.optional_token(payload.get("cart_token"), "cart_token"),
        "customer_id": check.optional_id(customer.get("id"), "customer id") if customer else None,
        "created_at": iso_utc(created_at) if created_at else None,
        "completed_at": iso_utc(completed_at) if completed_at else None,
        "line_items": line_items,
        "item_count": quantity,
        "total_price": check.money(payload, "total_price", currency),
        "subtotal_price": check.money(payload, "subtotal_price", currency),
    }


def prepare(event: se.ShopifyEvent) -> CartState:
    payload = event.payload
    if event.entity == "carts":
        cart_token = check.token(payload.get("token") or payload.get("id"), "cart token")
        updated_at = se.version_time(payload, event)
        return CartState(cart_token, updated_at, cart_attributes(payload))
    if event.action is se.Action.DELETE:
        # A checkout delete may carry only the numeric id: without its token there is no item to mark.
        checkout_token = check.optional_token(payload.get("token"), "checkout token")
        return CartState(checkout_item_key(checkout_token) if checkout_token else "", None, {})
    checkout_token = check.token(payload.get("token"), "checkout token")
    updated_at = se.version_time(payload, event)
    return CartState(checkout_item_key(checkout_token), updated_at, checkout_attributes(checkout_token, payload))


class CartStore:
    """The cart's or checkout's item on the abandoned-carts table, expiring ``cart_ttl_days`` after its
    last update."""

    def __init__(self, settings: Settings, dynamodb: DynamoDBClient) -> None:
        self.settings = settings
        self.dynamodb = dynamodb

    def __call__(self, event: se.ShopifyEvent, state: CartState) -> str:
        table = self.settings.abandoned_carts_table
        if state.updated_at is None:
            if not state.item_key:
                return "raw-only"
            key = {"cart_token": state.item_key}
            newly = tombstone(self.dynamodb, table, key, deleted_at=event.triggered_at, event_id=event.event_id)
            return "tombstoned" if newly else "duplicate"
        outcome = upsert_if_newer(
            self.dynamodb,
            table,
            {"cart_token": state.item_key},
            {**state.attributes, "expires_at": cart_expiry(state.updated_at, self.settings.cart_ttl_days)},
            SourceVersion.of(state.updated_at, event.event_id),
            updated_at=state.updated_at,
        )
        return outcome.value


def build_processor(
    settings: Settings, *, s3: S3Client | None = None, dynamodb: DynamoDBClient | None = None
) -> Processor[CartState]:
    """The processor of a deployed function; clients not given are ``common.aws``'s.

    No Admin API lookup: carts exist only in the Storefront API, and a checkout's webhook token does not
    name an AbandonedCheckout. A reduced cart or checkout payload is quarantined (its raw event is kept).
    """
    return Processor(
        lake=Lake(s3 or aws.s3(), settings.bucket),
        source=settings.event_source,
        entities={"carts", "checkouts"},
        prepare=prepare,
        store=CartStore(settings, dynamodb or aws.dynamodb()),
    )


settings = load_settings(Settings)
processor = build_processor(settings)


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    return processor.process(event)
