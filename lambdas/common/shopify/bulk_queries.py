"""The bulk export's GraphQL queries, one per resource, and the window filter they take.

Each query asks for every field the webhook processors store and the Glue job reads, under the same
names as the single-resource lookups of ``common.shopify.resources`` (so a bulk line and a looked-up
resource have one shape), except that ids are gids only (``common.shopify.events.shopify_id`` reads
them; ``legacyResourceId`` would only repeat them). Every node asks for ``__typename`` first, so the
download routes a line by its first bytes. Lists stay inside their parent's line; connections
(``lineItems``, ``discountApplications``, ``variants``) become lines of their own with ``__parentId``.

Admin API versions: ``checkoutToken``/``cartToken`` on ``Order`` exist from 2026-07 (the template
accepts no older version); every other field exists from 2026-01.
"""

from __future__ import annotations

import textwrap
from datetime import datetime
from typing import Final

from common.order_fields import ORDER_FIELDS, Kind, OrderField, Shape
from common.shopify.bulk import iso_seconds

MONEY = "{ shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }"
ADDRESS = "{ firstName lastName address1 address2 city province provinceCode country countryCodeV2 zip phone }"

# The sub-selection of each order field that is neither a leaf, a money set nor a reference. The order's
# fields themselves, and their order, are common.order_fields' (every field it declares is selected).
_ORDER_SELECTIONS: Final = {
    "shippingAddress": ADDRESS,
    "billingAddress": ADDRESS,
    "refunds": f"{{ id createdAt note totalRefundedSet {MONEY} }}",
    "fulfillments": "{ id status createdAt updatedAt trackingInfo { company number url } }",
    "transactions": f"{{ id kind status gateway amountSet {MONEY} processedAt parentTransaction {{ id }} }}",
    "lineItems": f"""{{
  edges {{
    node {{
      __typename
      id
      name
      title
      sku
      quantity
      currentQuantity
      variant {{ id }}
      product {{ id }}
      originalUnitPriceSet {MONEY}
      discountedTotalSet {MONEY}
      taxable
      requiresShipping
    }}
  }}
}}""",
    "discountApplications": """{
  edges {
    node {
      __typename
      allocationMethod
      targetSelection
      targetType
      value {
        __typename
        ... on MoneyV2 { amount currencyCode }
        ... on PricingPercentageValue { percentage }
      }
      ... on DiscountCodeApplication { code }
      ... on AutomaticDiscountApplication { title }
      ... on ManualDiscountApplication { title }
      ... on ScriptDiscountApplication { title }
    }
  }
}""",
}


def _order_selection(name: str, order_field: OrderField) -> str:
    """One order field as the bulk query selects it (ids are gids: references select ``{ id }``)."""
    if order_field.shape in (Shape.SCALAR, Shape.ENUM, Shape.GID) or order_field.kind in (Kind.TAGS, Kind.CODES):
        return name
    if order_field.shape is Shape.MONEY_SET:
        return f"{name} {MONEY}"
    if order_field.shape is Shape.REFERENCE:
        return f"{name} {{ id }}"
    return f"{name} {_ORDER_SELECTIONS[name]}"


def _order_node() -> str:
    lines = ["__typename", *(_order_selection(f.graphql, f) for f in ORDER_FIELDS if f.graphql is not None)]
    return textwrap.indent("\n".join(lines), " " * 8)


# orders_enriched and the orders hot store (order_processor), and the lake's raw lines: every field of
# common.order_fields.ORDER_FIELDS; line items and discount applications are connections (lines of their own).
ORDERS_QUERY: Final = (
    '{\n  orders(query: "%(filter)s") {\n    edges {\n      node {\n' + _order_node() + "\n      }\n    }\n  }\n}"
)

# The customers hot store (customer_processor): the profile and both marketing consents. No names,
# e-mail addresses, phone numbers or street addresses: the processors never store them.
CUSTOMERS_QUERY: Final = """{
  customers(query: "%(filter)s") {
    edges {
      node {
        __typename
        id
        createdAt
        updatedAt
        state
        verifiedEmail
        taxExempt
        tags
        numberOfOrders
        amountSpent { amount currencyCode }
        lastOrder { id }
        emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
        smsMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt consentCollectedFrom }
        defaultAddress { countryCodeV2 provinceCode }
      }
    }
  }
}"""

# The product snapshots (product_processor); variants are a connection: lines with __parentId.
PRODUCTS_QUERY: Final = """{
  products(query: "%(filter)s") {
    edges {
      node {
        __typename
        id
        title
        handle
        vendor
        productType
        status
        createdAt
        updatedAt
        publishedAt
        tags
        variants {
          edges {
            node {
              __typename
              id
              title
              sku
              price
              inventoryItem { id }
            }
          }
        }
      }
    }
  }
}"""

QUERIES: Final = {"orders": ORDERS_QUERY, "customers": CUSTOMERS_QUERY, "products": PRODUCTS_QUERY}
# The __typename of each resource's root lines (children carry __parentId).
ROOT_TYPES: Final = {"orders": "Order", "customers": "Customer", "products": "Product"}


def window_filter(since: datetime | None, until: datetime) -> str:
    """Shopify search syntax for ``updated_at`` in ``[since, until)``."""
    conditions = []
    if since is not None:
        conditions.append(f"updated_at:>='{iso_seconds(since)}'")
    conditions.append(f"updated_at:<'{iso_seconds(until)}'")
    return " AND ".join(conditions)


def bulk_query(resource: str, since: datetime | None, until: datetime) -> str:
    """The bulk query of ``resource`` (a name ``common.shopify.bulk.resource_name`` accepted) for the window."""
    return QUERIES[resource] % {"filter": window_filter(since, until)}
