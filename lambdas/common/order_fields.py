"""The fields of a Shopify order, declared once: the Lambdas and the Glue jobs derive their code from them.

One row per order-level field: its REST key (the webhook's and ``common.shopify.resources``' shape), its
GraphQL field on ``Order`` and that field's shape, the kind of value it holds, and where it goes: the
orders hot-store attribute (``common.shopify.order_attributes``) and the ``orders_enriched`` column
(``glue-scripts/orders_enriched.py``). Derived from the table: the order-level selection of the bulk
export (``common.shopify.bulk_queries.ORDERS_QUERY``), ``order_from_graphql``'s mapping, the REST
extraction of the hot-store item, and the Glue transforms' 1:1 columns and JSON schemas. A field whose
conversion is more than its kind (line items, refunds, fulfilments, the order number) is declared here
with ``code=True`` and converted by field-specific code in each consumer, which reads its names from here.

Imported by the Lambdas as ``common.order_fields`` and by the Glue scripts as ``order_fields``
(``glue-scripts/order_fields.py`` is a link to this file, as ``commerce_rules.py`` is). Standard library
only: Glue loads it as a loose file. tests/unit/test_order_fields.py ties the consumers to the table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final


class Shape(enum.Enum):
    """How the GraphQL field holds the value (and so how its REST form is made)."""

    SCALAR = "scalar"  # a leaf (String, DateTime, Boolean...): the same value in REST
    ENUM = "enum"  # an enum leaf (UPPER_CASE); REST's value is derived by ``status``
    GID = "gid"  # the order's own id: a gid in GraphQL, its number in REST
    MONEY_SET = "money set"  # a MoneyBag ``...Set``; REST has ``<key>`` (the shop amount) and ``<key>_set``
    REFERENCE = "reference"  # another node by its id (``customer { id }``); REST: ``{"id": <number>}``
    LIST = "list"  # a list of scalars or small objects, inside the order's own line
    OBJECT = "object"  # one nested object
    CONNECTION = "connection"  # edges/node; a bulk export writes the nodes as lines of their own


class Kind(enum.Enum):
    """What the value is, and so how it is checked and stored."""

    TEXT = "text"  # a short string, cut at ``limit``
    MONEY = "money"  # an exact decimal with its currency
    TIMESTAMP = "timestamp"  # ISO 8601, stored in UTC
    ID = "id"  # a Shopify numeric id (a number, its digits or a gid)
    TOKEN = "token"  # a cart or checkout token  # noqa: S105 - a kind's name, not a secret
    BOOLEAN = "boolean"
    TAGS = "tags"  # REST: one comma-separated string; GraphQL: a list
    CODES = "codes"  # discount codes; REST: [{"code": ...}]; GraphQL: a list of strings
    NUMBER = "number"  # the order number (REST only; derived from the name in GraphQL)
    RECORDS = "records"  # nested records (line items, refunds, fulfilments, transactions...)
    CONTACT = "contact"  # personal data: the lake's raw lines only, never normalised or stored


class Status(enum.Enum):
    """How an ENUM field's REST value derives from GraphQL's."""

    LOWER = "lower"  # the value in lower case (``PAID`` -> ``paid``)
    FULFILLMENT = "fulfillment"  # ``commerce_rules.fulfillment_status`` (REST counts fulfilled items)


@dataclass(frozen=True)
class OrderField:
    rest: str  # the key in the REST payload
    graphql: str | None  # the field on Order; None for REST-only (the order number, read from the name)
    shape: Shape
    kind: Kind
    limit: int | None = None  # TEXT: at most this many characters are stored
    status: Status | None = None  # ENUM only
    stored: str | None = None  # the orders hot-store attribute it is stored as
    column: str | None = None  # the orders_enriched column it feeds
    more_stored: tuple[str, ...] = ()  # further attributes field-specific code derives from it
    more_columns: tuple[str, ...] = ()  # further columns field-specific code derives from it
    index_key: bool = False  # a GSI key attribute: left out of the item when null
    normalised: bool = True  # order_from_graphql gives it in the REST shape (False: the lake's lines only)
    code: bool = False  # converted by field-specific code in each consumer, not by its kind


_S, _E, _G, _M, _R = Shape.SCALAR, Shape.ENUM, Shape.GID, Shape.MONEY_SET, Shape.REFERENCE

# The stored fields are in the order the hot-store item is built and checked (which check fails first on a
# payload with several bad fields). ORDERS_QUERY selects the fields in this order.
ORDER_FIELDS: Final[tuple[OrderField, ...]] = (
    # The item's key and version (not attributes), first as in every export's lines.
    OrderField("id", "id", _G, Kind.ID, column="order_id"),
    OrderField("updated_at", "updatedAt", _S, Kind.TIMESTAMP, column="updated_at"),
    OrderField("name", "name", _S, Kind.TEXT, limit=64, stored="name", column="order_name"),
    OrderField("order_number", None, _S, Kind.NUMBER, stored="order_number", column="order_number", code=True),
    OrderField("currency", "currencyCode", _S, Kind.TEXT, limit=8, stored="currency", column="currency"),
    OrderField(
        "presentment_currency", "presentmentCurrencyCode", _S, Kind.TEXT, limit=8, stored="presentment_currency",
    ),
    OrderField("total_price", "totalPriceSet", _M, Kind.MONEY, stored="total_price", column="total_price"),
    OrderField("subtotal_price", "subtotalPriceSet", _M, Kind.MONEY, stored="subtotal_price", column="subtotal_price"),
    OrderField("total_tax", "totalTaxSet", _M, Kind.MONEY, stored="total_tax", column="total_tax"),
    OrderField(
        "total_discounts", "totalDiscountsSet", _M, Kind.MONEY, stored="total_discounts", column="total_discounts",
    ),
    OrderField("current_total_price", "currentTotalPriceSet", _M, Kind.MONEY, stored="current_total_price"),
    OrderField(
        "financial_status", "displayFinancialStatus", _E, Kind.TEXT, limit=64, status=Status.LOWER,
        stored="financial_status", column="financial_status",
    ),
    OrderField(
        "fulfillment_status", "displayFulfillmentStatus", _E, Kind.TEXT, limit=64, status=Status.FULFILLMENT,
        stored="fulfillment_status", column="fulfillment_status",
    ),
    OrderField("processed_at", "processedAt", _S, Kind.TIMESTAMP, stored="processed_at", column="processed_at"),
    OrderField("closed_at", "closedAt", _S, Kind.TIMESTAMP, stored="closed_at", column="closed_at"),
    OrderField(
        "cancelled_at", "cancelledAt", _S, Kind.TIMESTAMP, stored="cancelled_at", column="cancelled_at",
        more_stored=("cancelled",),
    ),
    OrderField("cancel_reason", "cancelReason", _E, Kind.TEXT, limit=64, status=Status.LOWER, stored="cancel_reason"),
    OrderField(
        "refunds", "refunds", Shape.LIST, Kind.RECORDS, more_stored=("refund_count",), more_columns=("refund_count",),
        code=True,
    ),
    # Not a REST field: REST sums refunds[].transactions; an order from GraphQL carries total_refunded_set.
    OrderField(
        "total_refunded", "totalRefundedSet", _M, Kind.MONEY, stored="total_refunded", column="total_refunded",
        code=True,
    ),
    OrderField("checkout_token", "checkoutToken", _S, Kind.TOKEN, stored="checkout_token"),
    OrderField("cart_token", "cartToken", _S, Kind.TOKEN, stored="cart_token"),
    OrderField(
        "line_items", "lineItems", Shape.CONNECTION, Kind.RECORDS, stored="line_items",
        more_stored=("line_item_count", "total_quantity"), more_columns=("line_item_count", "total_quantity"),
        code=True,
    ),
    OrderField("test", "test", _S, Kind.BOOLEAN, stored="test", column="test"),
    OrderField("source_name", "sourceName", _S, Kind.TEXT, limit=64, stored="source_name", column="source_name"),
    OrderField("tags", "tags", Shape.LIST, Kind.TAGS, stored="tags", column="tags"),
    OrderField("customer", "customer", _R, Kind.ID, stored="customer_id", column="customer_id", index_key=True),
    OrderField("created_at", "createdAt", _S, Kind.TIMESTAMP, stored="created_at", column="created_at", index_key=True),
    # Read by the Glue job only.
    OrderField("discount_codes", "discountCodes", Shape.LIST, Kind.CODES, column="discount_codes"),
    OrderField(
        "fulfillments", "fulfillments", Shape.LIST, Kind.RECORDS,
        more_columns=("fulfillment_count", "first_fulfilled_at"), code=True,
    ),
    # The lake's bulk lines only: order_from_graphql leaves them out, nothing stores them.
    OrderField("email", "email", _S, Kind.CONTACT, normalised=False),
    OrderField("total_shipping_price", "totalShippingPriceSet", _M, Kind.MONEY, normalised=False),
    OrderField("shipping_address", "shippingAddress", Shape.OBJECT, Kind.CONTACT, normalised=False),
    OrderField("billing_address", "billingAddress", Shape.OBJECT, Kind.CONTACT, normalised=False),
    OrderField("transactions", "transactions", Shape.LIST, Kind.RECORDS, normalised=False),
    OrderField("discount_applications", "discountApplications", Shape.CONNECTION, Kind.RECORDS, normalised=False),
)  # fmt: skip

BY_REST: Final = {f.rest: f for f in ORDER_FIELDS}
# Converted by their kind everywhere (every other field has code of its own in each consumer).
TABLE_DRIVEN: Final = tuple(f for f in ORDER_FIELDS if not f.code)


def field(rest: str) -> OrderField:
    """The field with this REST key (a KeyError names a field the table does not declare)."""
    return BY_REST[rest]


def attribute_names() -> frozenset[str]:
    """Every attribute of the order's hot-store item (beside its key and version)."""
    return frozenset(name for f in ORDER_FIELDS for name in (f.stored, *f.more_stored) if name is not None)


def column_names() -> frozenset[str]:
    """Every orders_enriched version column that a field of the order feeds."""
    return frozenset(name for f in ORDER_FIELDS for name in (f.column, *f.more_columns) if name is not None)


def column_fields() -> tuple[OrderField, ...]:
    """The fields converted by their kind alone that feed an orders_enriched column."""
    return tuple(f for f in TABLE_DRIVEN if f.column is not None)
