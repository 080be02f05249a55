"""The orders hot-store item of an order (``record = ORDER``) and its one newest-wins write.

Shared by every writer of an order's state: the order processor (webhooks, and reduced payloads
completed from the Admin API) and the bulk reconciliation (bulk export lines, ``common.shopify.reconcile``).
Each turns its input into the REST shape of an order, ``common.shopify.order_attributes.order_attributes``
makes the item's attributes from it, and ``write_order`` stores it with ``common.hotstore.replace_if_newer``:
so a webhook and a bulk line of the same order version store the same item, and whichever is newer wins
whatever order they arrive in.

An order's cart and checkout (abandoned-carts items ``<cart token>`` and ``checkout:<checkout token>``)
are marked converted by it, so marketing never chases a customer who bought whichever of them brought
the order. The order processor writes each version with its marks (``conversion_marks``) in one
transaction (``write_order(..., marks=...)``): a stored version has its marks, so a redelivery or a late
version has nothing left to mark. The bulk reconciliation marks after its write
(``mark_carts_converted``), which also counts the carts each order converted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from common.hotstore import (
    TOMBSTONE,
    Mark,
    Outcome,
    Replaced,
    SourceVersion,
    replace_if_newer,
    set_if_absent_before,
    tombstone,
)
from common.shopify.carts import cart_expiry, checkout_item_key
from common.timeutil import iso_utc, parse_timestamp

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ORDER_RECORD = "ORDER"
CONVERTED_ORDER_ID = "converted_order_id"
_TOKENS = ("cart_token", "checkout_token")


def order_key(order_id: str) -> dict[str, str]:
    return {"order_id": order_id, "record": ORDER_RECORD}


def write_order(
    client: DynamoDBClient,
    table: str,
    order_id: str,
    attributes: Mapping[str, Any],
    version: SourceVersion,
    *,
    updated_at: datetime,
    marks: Sequence[Mark] = (),
) -> Replaced:
    """Replace the order's item with this version unless the stored one is at least as new; an
    ``orders/delete`` tombstone on the item stays. ``marks`` (``conversion_marks``) are written with
    the version, in one transaction, or not at all."""
    return replace_if_newer(
        client, table, order_key(order_id), attributes, version, updated_at=updated_at, keep=TOMBSTONE, marks=marks
    )


def delete_order(client: DynamoDBClient, table: str, order_id: str, *, deleted_at: datetime, event_id: str) -> bool:
    """orders/delete: the tombstone on the order's item (what was known stays, and state writes keep it).
    True when newly marked."""
    return tombstone(client, table, order_key(order_id), deleted_at=deleted_at, event_id=event_id)


# ------------------------------------------------------------------------------- converted carts


def cart_keys(attributes: Mapping[str, Any]) -> tuple[str, ...]:
    """The abandoned-carts items (``cart_token`` keys) an order with these attributes converts."""
    keys = []
    if attributes.get("cart_token"):
        keys.append(str(attributes["cart_token"]))
    if attributes.get("checkout_token"):
        keys.append(checkout_item_key(str(attributes["checkout_token"])))
    return tuple(keys)


def carts_to_mark(result: Replaced, attributes: Mapping[str, Any]) -> bool:
    """Whether the order write ``result`` of ``attributes`` must be followed by the conversion marks.

    Not when it replaced an older version carrying the same tokens: that version's writer marked them,
    or failed before it could and is retried (a retry is stale or a duplicate by then, and marks). Every
    other outcome marks, so a crash between the order write and the marks never loses a mark. The mark
    is one-way and names only this order, so marking twice is harmless.
    """
    if not cart_keys(attributes):
        return False
    previous = result.previous
    if result.outcome is not Outcome.WRITTEN or previous is None:
        return True
    # Only a state write stores tokens (a tombstone does not), so equal tokens mean an older version.
    return any(previous.get(name) != attributes.get(name) for name in _TOKENS)


@dataclass(frozen=True)
class CartMarks:
    """What ``mark_carts_converted`` did."""

    requests: int = 0  # conditional UpdateItems on the abandoned-carts table
    converted: int = 0  # carts that name this order as theirs now (marked now, or earlier by this order)
    newly: int = 0  # of those, marked by this call


NO_MARKS = CartMarks()


def _conversion(
    order_id: str, attributes: Mapping[str, Any], *, updated_at: datetime, ttl_days: int, now: datetime | None
) -> dict[str, Any] | None:
    """The conversion mark of an order's carts (``converted_order_id``, ``converted_at``: the order's
    creation, else ``updated_at``; ``expires_at``), or None when the order is older than the carts' time
    to live (given ``now``): its cart has expired from the table (DynamoDB's TTL), and a mark would only
    write an item that is already expired (a backfill of years of orders would write two each)."""
    created = attributes.get("created_at")
    converted_at = parse_timestamp(created) if created else updated_at
    expires_at = cart_expiry(converted_at, ttl_days)
    if now is not None and expires_at <= int(now.timestamp()):
        return None
    return {CONVERTED_ORDER_ID: order_id, "converted_at": iso_utc(converted_at), "expires_at": expires_at}


def conversion_marks(
    table: str,
    order_id: str,
    attributes: Mapping[str, Any],
    *,
    updated_at: datetime,
    ttl_days: int,
    now: datetime | None = None,
) -> tuple[Mark, ...]:
    """The marks to write with a version of the order (``write_order(..., marks=...)``): its cart and
    checkout converted by it, one-way (a cart another order converted first keeps that order)."""
    keys = cart_keys(attributes)
    mark = _conversion(order_id, attributes, updated_at=updated_at, ttl_days=ttl_days, now=now) if keys else None
    return tuple(Mark(table, {"cart_token": key}, mark) for key in keys) if mark else ()


def mark_carts_converted(
    client: DynamoDBClient,
    table: str,
    order_id: str,
    attributes: Mapping[str, Any],
    result: Replaced,
    *,
    updated_at: datetime,
    ttl_days: int,
    now: datetime | None = None,
) -> CartMarks:
    """After the order write ``result`` (made without marks): mark the order's cart and checkout
    converted by it, unless ``carts_to_mark`` says a previous write did. One-way (``set_if_absent``): a
    cart another order converted first keeps that order, and a repeat changes nothing. Given ``now``, an
    order older than the carts' time to live marks nothing (``_conversion``)."""
    if not carts_to_mark(result, attributes):
        return NO_MARKS
    mark = _conversion(order_id, attributes, updated_at=updated_at, ttl_days=ttl_days, now=now)
    if mark is None:
        return NO_MARKS
    keys = cart_keys(attributes)
    converted = newly = 0
    for key in keys:
        before = set_if_absent_before(client, table, {"cart_token": key}, mark)
        holder = before.get(CONVERTED_ORDER_ID)
        converted += holder in (None, order_id)
        newly += holder is None
    return CartMarks(requests=len(keys), converted=converted, newly=newly)
