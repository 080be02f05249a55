"""orders/* webhooks from the Shopify event bus: raw lake, orders hot store, converted carts.

Every event is first written verbatim to ``raw/shopify/webhooks/orders/...``. State topics (create,
updated, paid, cancelled, fulfilled, partially_fulfilled) replace the order item (``record = ORDER``)
when their ``updated_at`` is newer than the stored one, so duplicates, Shopify's retries and late
deliveries leave the newest state. ``orders/delete`` marks the item deleted (a tombstone that keeps
what was known, and that later state writes keep: Shopify never undeletes an order, so a newer
``orders/updated`` after the delete updates the attributes under the tombstone and never revives the
order). Only events from the partner event source get here (``se.check_source``). An order whose cart
or checkout token matches an abandoned-carts item marks that item converted with the order id, so a
recovered cart is never reported as abandoned.

Stored: ids as strings, ``order_number`` as a string, money as exact decimals with their currency,
statuses, customer id, tokens, a line-item summary and the cancel/refund state. Contact details
(e-mail, phone, addresses, names) stay in the raw lake only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from common import shopify_events as se
from common.aws import dynamodb, s3
from common.config import env_field, load_settings
from common.hotstore import Outcome, Replaced, SourceVersion, replace_if_newer, set_if_absent
from common.lake import Lake
from common.observability import logger, metrics, tracer
from common.shopify_resources import ResourceFetcher
from common.timeutil import iso_utc

ORDER_RECORD = "ORDER"
TOMBSTONE = ("deleted", "deleted_at", "deleted_by_event_id")  # set by orders/delete, kept by state writes
MAX_LINE_ITEMS = 500  # keeps an item far below DynamoDB's 400 KB; the lake has every line


@dataclass(frozen=True)
class Settings:
    data_lake_bucket: str = env_field("DATA_LAKE_BUCKET_NAME")
    event_source: str = env_field("SHOPIFY_EVENT_SOURCE")  # the partner event source; others are quarantined
    orders_table: str = env_field("ORDERS_TABLE_NAME")
    abandoned_carts_table: str = env_field("ABANDONED_CARTS_TABLE_NAME")
    cart_ttl_days: int = env_field("CART_TTL_DAYS")
    shopify_secret_arn: str = env_field("SHOPIFY_ADMIN_API_SECRET_ARN")
    shopify_api_version: str = env_field("SHOPIFY_API_VERSION")
    shopify_admin_base_url: str = env_field("SHOPIFY_ADMIN_BASE_URL", default="")


@dataclass(frozen=True)
class OrderState:
    order_id: str
    updated_at: datetime | None  # None for a delete
    attributes: dict[str, Any]
    cart_keys: tuple[str, ...]  # abandoned-carts items this order converts
    created_at: datetime | None


def _line_items(payload: Mapping[str, Any], currency: str | None) -> tuple[list[dict[str, Any]], int, int]:
    items = se.sequence(payload.get("line_items"), "line_items")
    summary: list[dict[str, Any]] = []
    total_quantity = 0
    for index, raw in enumerate(items):
        item = se.mapping(raw, f"line_items[{index}]")
        quantity = se.integer(item.get("quantity", 0), f"line_items[{index}].quantity")
        total_quantity += quantity
        if len(summary) >= MAX_LINE_ITEMS:
            continue
        price = se.money(item, "price", currency)
        summary.append(
            {
                "line_item_id": se.optional_id(item.get("id"), "line item id"),
                "product_id": se.optional_id(item.get("product_id"), "product id"),
                "variant_id": se.optional_id(item.get("variant_id"), "variant id"),
                "sku": se.text(item.get("sku"), "sku", limit=255),
                "title": se.text(item.get("title"), "title", limit=255),
                "quantity": quantity,
                "price": price,
            }
        )
    return summary, len(items), total_quantity


def _refunds(payload: Mapping[str, Any], currency: str | None) -> tuple[int, dict[str, Any] | None]:
    refunds = se.sequence(payload.get("refunds"), "refunds")
    given = se.money(payload, "total_refunded", currency)  # present when the order came from GraphQL
    if given is not None:
        return len(refunds), given
    total = Decimal(0)
    for index, raw in enumerate(refunds):
        refund = se.mapping(raw, f"refunds[{index}]")
        for position, raw_tx in enumerate(se.sequence(refund.get("transactions"), "refund transactions")):
            tx = se.mapping(raw_tx, f"refunds[{index}].transactions[{position}]")
            if tx.get("kind") == "refund" and tx.get("status") in (None, "success"):
                total += se.decimal(tx.get("amount"), "refund amount")
    return len(refunds), {"amount": total, "currency": currency}


def _order_number(payload: Mapping[str, Any]) -> str | None:
    if payload.get("order_number") not in (None, ""):
        return str(se.integer(payload["order_number"], "order_number"))
    name = payload.get("name")
    match = re.fullmatch(r"#?([0-9]{1,19})", name) if isinstance(name, str) else None
    return match.group(1) if match else None


def order_attributes(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The order item's attributes (without the key); every field is checked, none is PII."""
    currency = se.text(payload.get("currency"), "currency", limit=8)
    customer = se.optional_mapping(payload.get("customer"), "customer")
    line_items, line_count, total_quantity = _line_items(payload, currency)
    refund_count, refunded = _refunds(payload, currency)
    cancelled_at = se.optional_timestamp(payload.get("cancelled_at"), "cancelled_at")
    attributes: dict[str, Any] = {
        "name": se.text(payload.get("name"), "name", limit=64),
        "order_number": _order_number(payload),
        "currency": currency,
        "presentment_currency": se.text(payload.get("presentment_currency"), "presentment_currency", limit=8),
        "total_price": se.money(payload, "total_price", currency),
        "subtotal_price": se.money(payload, "subtotal_price", currency),
        "total_tax": se.money(payload, "total_tax", currency),
        "total_discounts": se.money(payload, "total_discounts", currency),
        "current_total_price": se.money(payload, "current_total_price", currency),
        "financial_status": se.text(payload.get("financial_status"), "financial_status", limit=64),
        "fulfillment_status": se.text(payload.get("fulfillment_status"), "fulfillment_status", limit=64),
        "processed_at": _iso(se.optional_timestamp(payload.get("processed_at"), "processed_at")),
        "closed_at": _iso(se.optional_timestamp(payload.get("closed_at"), "closed_at")),
        "cancelled": cancelled_at is not None,
        "cancelled_at": _iso(cancelled_at),
        "cancel_reason": se.text(payload.get("cancel_reason"), "cancel_reason", limit=64),
        "refund_count": refund_count,
        "total_refunded": refunded,
        "checkout_token": se.optional_token(payload.get("checkout_token"), "checkout_token"),
        "cart_token": se.optional_token(payload.get("cart_token"), "cart_token"),
        "line_items": line_items,
        "line_item_count": line_count,
        "total_quantity": total_quantity,
        "test": bool(payload.get("test", False)),
        "source_name": se.text(payload.get("source_name"), "source_name", limit=64),
        "tags": se.tags(payload.get("tags")),
    }
    # Index keys (GSI by-customer) may not be NULL: they are left out when unknown.
    customer_id = se.optional_id(customer.get("id"), "customer id") if customer else None
    if customer_id is not None:
        attributes["customer_id"] = customer_id
    created_at = se.optional_timestamp(payload.get("created_at"), "created_at")
    if created_at is not None:
        attributes["created_at"] = iso_utc(created_at)
    return attributes


def _iso(moment: datetime | None) -> str | None:
    return iso_utc(moment) if moment is not None else None


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


def store(event: se.ShopifyEvent, state: OrderState) -> str:
    key = {"order_id": state.order_id, "record": ORDER_RECORD}
    if state.updated_at is None:
        tombstone = dict(zip(TOMBSTONE, (True, iso_utc(event.triggered_at), event.event_id), strict=True))
        newly = set_if_absent(DYNAMODB, SETTINGS.orders_table, key, tombstone)
        return "tombstoned" if newly else "duplicate"
    result = replace_if_newer(
        DYNAMODB,
        SETTINGS.orders_table,
        key,
        state.attributes,
        SourceVersion.of(state.updated_at, event.event_id),
        updated_at=state.updated_at,
        keep=TOMBSTONE,
    )
    if carts_to_mark(result, state):
        mark_converted(state, state.created_at or state.updated_at)
    return result.outcome.value


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


def mark_converted(state: OrderState, converted_at: datetime) -> None:
    for cart_key in state.cart_keys:
        newly = set_if_absent(
            DYNAMODB,
            SETTINGS.abandoned_carts_table,
            {"cart_token": cart_key},
            {
                "converted_order_id": state.order_id,
                "converted_at": iso_utc(converted_at),
                "expires_at": se.cart_expiry(converted_at, SETTINGS.cart_ttl_days),
            },
        )
        if newly:
            logger.info("cart marked converted", extra={"order_id": state.order_id})


SETTINGS = load_settings(Settings)
DYNAMODB = dynamodb()
PROCESSOR = se.Processor(
    lake=Lake(s3(), SETTINGS.data_lake_bucket),
    source=SETTINGS.event_source,
    entities={"orders"},
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
