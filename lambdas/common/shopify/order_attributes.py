"""The orders hot-store item's attributes from a REST-shaped order, driven by ``common.order_fields``.

A webhook's payload, an order fetched from the Admin API and a bulk export line (both through
``common.shopify.resources.order_from_graphql``) all reach ``order_attributes`` in the REST shape, so one
order version gives one item whichever way it came. Each field the table stores is checked and converted
by its kind; the fields with code of their own (the order number, refunds, line items) are converted
here by name. Stored: ids as strings, ``order_number`` as a string, money as exact decimals with their
currency, statuses, customer id, tokens, a line-item summary and the cancel/refund state. Contact
details (e-mail, phone, addresses, names) stay in the raw lake only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from common import commerce_rules as rules
from common.order_fields import ORDER_FIELDS, Kind, OrderField, Shape, field
from common.shopify import values as check
from common.timeutil import iso_utc

MAX_LINE_ITEMS = 500  # keeps an item far below DynamoDB's 400 KB; the lake has every line

_CURRENCY = field("currency")
_CUSTOMER = field("customer")
_CANCELLED_AT = field("cancelled_at")
_ORDER_NUMBER = field("order_number")
_NAME = field("name")
_LINE_ITEMS = field("line_items")
_REFUNDS = field("refunds")
_TOTAL_REFUNDED = field("total_refunded")


def _line_items(payload: Mapping[str, Any], currency: str | None) -> tuple[list[dict[str, Any]], int, int]:
    items = check.sequence(payload.get(_LINE_ITEMS.rest), "line_items")
    summary: list[dict[str, Any]] = []
    total_quantity = 0
    for index, raw in enumerate(items):
        item = check.mapping(raw, f"line_items[{index}]")
        quantity = check.integer(item.get("quantity", 0), f"line_items[{index}].quantity")
        total_quantity += quantity
        if len(summary) >= MAX_LINE_ITEMS:
            continue
        price = check.money(item, "price", currency)
        summary.append(
            {
                "line_item_id": check.optional_id(item.get("id"), "line item id"),
                "product_id": check.optional_id(item.get("product_id"), "product id"),
                "variant_id": check.optional_id(item.get("variant_id"), "variant id"),
                "sku": check.text(item.get("sku"), "sku", limit=255),
                "title": check.text(item.get("title"), "title", limit=255),
                "quantity": quantity,
                "price": price,
            }
        )
    return summary, len(items), total_quantity


def _refunds(payload: Mapping[str, Any], currency: str | None) -> tuple[int, dict[str, Any] | None]:
    refunds = check.sequence(payload.get(_REFUNDS.rest), "refunds")
    given = check.money(payload, _TOTAL_REFUNDED.rest, currency)  # present when the order came from GraphQL
    if given is not None:
        return len(refunds), given
    total = Decimal(0)
    for index, raw in enumerate(refunds):
        refund = check.mapping(raw, f"refunds[{index}]")
        for position, raw_tx in enumerate(check.sequence(refund.get("transactions"), "refund transactions")):
            tx = check.mapping(raw_tx, f"refunds[{index}].transactions[{position}]")
            if rules.counts_as_refund(tx.get("kind"), tx.get("status")):
                total += check.decimal(tx.get("amount"), "refund amount")
    return len(refunds), {"amount": total, "currency": currency}


def _order_number(payload: Mapping[str, Any]) -> str | None:
    number = payload.get(_ORDER_NUMBER.rest)
    if number not in (None, ""):
        number = str(check.integer(number, "order_number"))  # a malformed one is bad input, not a blank
    return rules.order_number(number, payload.get(_NAME.rest))


def _iso(moment: datetime | None) -> str | None:
    return iso_utc(moment) if moment is not None else None


@dataclass(frozen=True, slots=True)
class _First:
    """What is read and checked before the fields in the table's order (every version runs these checks
    first, so a payload with several bad fields fails on the same one whichever way it came)."""

    currency: str | None
    line_items: tuple[list[dict[str, Any]], int, int]
    refunds: tuple[int, dict[str, Any] | None]


_Read = Callable[[Mapping[str, Any], _First], Any]


# How a field is read by its kind alone: from its REST key, its kind and its text limit.
_KINDS: dict[Kind, Callable[[str, int], _Read]] = {
    Kind.TEXT: lambda name, limit: lambda payload, _: check.text(payload.get(name), name, limit=limit),
    Kind.MONEY: lambda name, _: lambda payload, first: check.money(payload, name, first.currency),
    Kind.TIMESTAMP: lambda name, _: lambda payload, __: _iso(check.optional_timestamp(payload.get(name), name)),
    Kind.TOKEN: lambda name, _: lambda payload, __: check.optional_token(payload.get(name), name),
    Kind.BOOLEAN: lambda name, _: lambda payload, __: bool(payload.get(name, False)),
    Kind.TAGS: lambda name, _: lambda payload, __: check.tags(payload.get(name)),
    Kind.ID: lambda name, _: lambda payload, __: _reference_id(payload, name),  # the REFERENCE shape
}


def _by_kind(order_field: OrderField) -> _Read:
    """The stored value of a field converted by its kind alone."""
    name, kind = order_field.rest, order_field.kind
    if kind not in _KINDS or (kind is Kind.ID and order_field.shape is not Shape.REFERENCE):
        raise NotImplementedError(f"{name}: no stored form for a {kind.value} field without code of its own")
    return _KINDS[kind](name, order_field.limit or 1024)


def _reference_id(payload: Mapping[str, Any], name: str) -> str | None:
    node = check.optional_mapping(payload.get(name), name)
    return check.optional_id(node.get("id"), f"{name} id") if node else None


def _line_items_part(index: int) -> _Read:
    return lambda _, first: first.line_items[index]


# The fields with code of their own that store something: a reading for each attribute they store, their
# own first, then ``more_stored``.
_BY_CODE: dict[str, tuple[_Read, ...]] = {
    _ORDER_NUMBER.rest: (lambda payload, _: _order_number(payload),),
    _REFUNDS.rest: (lambda _, first: first.refunds[0],),
    _TOTAL_REFUNDED.rest: (lambda _, first: first.refunds[1],),
    _LINE_ITEMS.rest: tuple(_line_items_part(i) for i in range(3)),  # the summary, its count, the quantity
}


def _plan() -> tuple[tuple[str, _Read, bool], ...]:
    """Each attribute in the table's order: its name, its reading, and whether a null leaves it out
    (index keys: GSI keys may not be NULL)."""
    plan: list[tuple[str, _Read, bool]] = []
    for order_field in ORDER_FIELDS:
        names = (*filter(None, (order_field.stored,)), *order_field.more_stored)
        if order_field.code:
            plan += [(name, read, False) for name, read in zip(names, _BY_CODE.get(order_field.rest, ()), strict=True)]
        elif order_field.stored is not None:
            plan.append((order_field.stored, _by_kind(order_field), order_field.index_key))
    return tuple(plan)


_PLAN = _plan()  # "cancelled" (more_stored of cancelled_at) is set by order_attributes


def order_attributes(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The order item's attributes (without the key) from a REST-shaped order; every field is checked,
    none is PII."""
    currency = check.text(payload.get(_CURRENCY.rest), _CURRENCY.rest, limit=_CURRENCY.limit or 1024)
    check.optional_mapping(payload.get(_CUSTOMER.rest), _CUSTOMER.rest)
    first = _First(currency, _line_items(payload, currency), _refunds(payload, currency))
    cancelled_at = check.optional_timestamp(payload.get(_CANCELLED_AT.rest), _CANCELLED_AT.rest)
    attributes: dict[str, Any] = {}
    for name, read, index_key in _PLAN:
        value = read(payload, first)
        if value is not None or not index_key:
            attributes[name] = value
    attributes[_CANCELLED_AT.more_stored[0]] = cancelled_at is not None
    return attributes
