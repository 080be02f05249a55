"""Single-resource lookups of the local Shopify Admin API: ``order``, ``customer``, ``product`` and
``fulfillment`` by id (and the same types through ``node(id:)``).

The Shopify processors ask for these when EventBridge delivered a reduced payload. Tests and the demo
store REST-shaped resources with ``POST /_simulator/resources/<orders|customers|products|fulfillments>``
(``SimulatorState.resources``); a lookup answers them in the Admin GraphQL API's shape: global ids,
``legacyResourceId`` as text, camelCase fields, upper-case enums, ``*Set { shopMoney }`` money and
connections with ``nodes``. graphql-core completes the answer against the query's selection set.
An unknown id answers ``null``, as Shopify does for a deleted resource; a malformed one is an
``INVALID_GLOBAL_ID`` error.

Importing this module registers the resolvers in ``QUERY_FIELDS`` and ``NODE_TYPES``, and the same
renderings in ``STORED_NODES`` (the ``export_stored`` behaviour puts stored resources in bulk exports).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from platformctl.simulators.shopify.bulk import STORED_NODES
from platformctl.simulators.shopify.graphql import GraphQLError, field_arguments
from platformctl.simulators.shopify.resolvers import NODE_TYPES, QUERY_FIELDS
from platformctl.simulators.shopify.state import SimulatorState

_FULFILLMENT_STATUS = {None: "UNFULFILLED", "fulfilled": "FULFILLED", "partial": "PARTIALLY_FULFILLED"}


def _gid(kind: str, value: Any) -> str | None:
    return f"gid://shopify/{kind}/{value}" if value not in (None, "") else None


def _ref(kind: str, value: Any) -> dict[str, Any] | None:
    if value in (None, ""):
        return None
    return {"__typename": kind, "id": _gid(kind, value), "legacyResourceId": str(value)}


def _upper(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) and value else None


def _tags(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(t) for t in value]
    return [t.strip() for t in str(value or "").split(",") if t.strip()]


def _money(rest: Mapping[str, Any], field: str, currency: Any) -> dict[str, Any] | None:
    given = rest.get(f"{field}_set")
    if isinstance(given, Mapping) and isinstance(given.get("shop_money"), Mapping):
        shop = given["shop_money"]
        return {"shopMoney": {"amount": str(shop.get("amount")), "currencyCode": shop.get("currency_code")}}
    if rest.get(field) in (None, ""):
        return None
    return {"shopMoney": {"amount": str(rest[field]), "currencyCode": currency}}


def _refunded(rest: Mapping[str, Any]) -> Decimal:
    total = Decimal(0)
    refunds = [r for r in rest.get("refunds") or [] if isinstance(r, Mapping)]
    for tx in (tx for refund in refunds for tx in refund.get("transactions") or []):
        if isinstance(tx, Mapping) and tx.get("kind") == "refund" and tx.get("status") in (None, "success"):
            total += Decimal(str(tx.get("amount")))
    return total


def order_node(rest: Mapping[str, Any]) -> dict[str, Any]:
    currency = rest.get("currency")
    customer = rest.get("customer") if isinstance(rest.get("customer"), Mapping) else None
    fulfillment = rest.get("fulfillment_status")
    return {
        "__typename": "Order",
        "id": _gid("Order", rest["id"]),
        "legacyResourceId": str(rest["id"]),
        "name": rest.get("name"),
        "createdAt": rest.get("created_at"),
        "updatedAt": rest.get("updated_at"),
        "processedAt": rest.get("processed_at"),
        "cancelledAt": rest.get("cancelled_at"),
        "cancelReason": _upper(rest.get("cancel_reason")),
        "closedAt": rest.get("closed_at"),
        "currencyCode": currency,
        "presentmentCurrencyCode": rest.get("presentment_currency"),
        "displayFinancialStatus": _upper(rest.get("financial_status")),
        "displayFulfillmentStatus": _FULFILLMENT_STATUS.get(fulfillment, _upper(fulfillment)),
        "test": bool(rest.get("test", False)),
        "sourceName": rest.get("source_name"),
        "tags": _tags(rest.get("tags")),
        "checkoutToken": rest.get("checkout_token"),
        "cartToken": rest.get("cart_token"),
        "customer": _ref("Customer", customer.get("id")) if customer else None,
        "totalPriceSet": _money(rest, "total_price", currency),
        "subtotalPriceSet": _money(rest, "subtotal_price", currency),
        "totalTaxSet": _money(rest, "total_tax", currency),
        "totalDiscountsSet": _money(rest, "total_discounts", currency),
        "currentTotalPriceSet": _money(rest, "current_total_price", currency),
        "totalRefundedSet": {"shopMoney": {"amount": str(_refunded(rest)), "currencyCode": currency}},
        "refunds": [
            {**(_ref("Refund", r.get("id")) or {}), "createdAt": r.get("created_at")}
            for r in rest.get("refunds") or []
            if isinstance(r, Mapping)
        ],
        "discountCodes": [d["code"] for d in rest.get("discount_codes") or [] if isinstance(d, Mapping)],
        "fulfillments": [
            {
                **(_ref("Fulfillment", f.get("id")) or {}),
                "status": _upper(f.get("status")),
                "createdAt": f.get("created_at"),
            }
            for f in rest.get("fulfillments") or []
            if isinstance(f, Mapping)
        ],
        "lineItems": {
            "nodes": [
                {
                    "__typename": "LineItem",
                    "id": _gid("LineItem", item.get("id")),
                    "quantity": item.get("quantity"),
                    "sku": item.get("sku"),
                    "name": item.get("name"),
                    "title": item.get("title"),
                    "variant": _ref("ProductVariant", item.get("variant_id")),
                    "product": _ref("Product", item.get("product_id")),
                    "originalUnitPriceSet": _money(item, "price", currency),
                }
                for item in rest.get("line_items") or []
                if isinstance(item, Mapping)
            ],
            "pageInfo": {"hasNextPage": False},
        },
    }


def _consent(rest: Any, *, sms: bool) -> dict[str, Any] | None:
    if not isinstance(rest, Mapping):
        return None
    consent = {
        "marketingState": _upper(rest.get("state")),
        "marketingOptInLevel": _upper(rest.get("opt_in_level")),
        "consentUpdatedAt": rest.get("consent_updated_at"),
    }
    if sms:
        consent["consentCollectedFrom"] = rest.get("consent_collected_from")
    return consent


def _legacy_consent(rest: Mapping[str, Any]) -> dict[str, Any] | None:
    """REST data from before API 2022-04 has ``accepts_marketing``; GraphQL answers it as a consent."""
    if not isinstance(rest.get("accepts_marketing"), bool):
        return None
    return {
        "marketingState": "SUBSCRIBED" if rest["accepts_marketing"] else "NOT_SUBSCRIBED",
        "marketingOptInLevel": _upper(rest.get("marketing_opt_in_level")),
        "consentUpdatedAt": rest.get("accepts_marketing_updated_at"),
    }


def customer_node(rest: Mapping[str, Any]) -> dict[str, Any]:
    address = rest.get("default_address") if isinstance(rest.get("default_address"), Mapping) else None
    return {
        "__typename": "Customer",
        "id": _gid("Customer", rest["id"]),
        "legacyResourceId": str(rest["id"]),
        "createdAt": rest.get("created_at"),
        "updatedAt": rest.get("updated_at"),
        "state": _upper(rest.get("state")),
        "verifiedEmail": rest.get("verified_email"),
        "taxExempt": rest.get("tax_exempt"),
        "tags": _tags(rest.get("tags")),
        "numberOfOrders": str(rest["orders_count"]) if rest.get("orders_count") is not None else None,
        "amountSpent": {"amount": str(rest["total_spent"]), "currencyCode": rest.get("currency")}
        if rest.get("total_spent") is not None
        else None,
        "lastOrder": _ref("Order", rest.get("last_order_id")),
        "emailMarketingConsent": _consent(rest.get("email_marketing_consent"), sms=False) or _legacy_consent(rest),
        "smsMarketingConsent": _consent(rest.get("sms_marketing_consent"), sms=True),
        "defaultAddress": {
            "countryCodeV2": address.get("country_code"),
            "provinceCode": address.get("province_code"),
        }
        if address
        else None,
    }


def product_node(rest: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "__typename": "Product",
        "id": _gid("Product", rest["id"]),
        "legacyResourceId": str(rest["id"]),
        "title": rest.get("title"),
        "handle": rest.get("handle"),
        "vendor": rest.get("vendor"),
        "productType": rest.get("product_type"),
        "status": _upper(rest.get("status")),
        "createdAt": rest.get("created_at"),
        "updatedAt": rest.get("updated_at"),
        "publishedAt": rest.get("published_at"),
        "tags": _tags(rest.get("tags")),
        "variants": {
            "nodes": [
                {
                    "__typename": "ProductVariant",
                    "id": _gid("ProductVariant", variant.get("id")),
                    "legacyResourceId": str(variant.get("id")),
                    "title": variant.get("title"),
                    "sku": variant.get("sku"),
                    "price": str(variant["price"]) if variant.get("price") is not None else None,
                    "inventoryItem": _ref("InventoryItem", variant.get("inventory_item_id")),
                }
                for variant in rest.get("variants") or []
                if isinstance(variant, Mapping)
            ],
            "pageInfo": {"hasNextPage": False},
        },
    }


def fulfillment_node(rest: Mapping[str, Any]) -> dict[str, Any]:
    numbers = list(rest.get("tracking_numbers") or ([rest["tracking_number"]] if rest.get("tracking_number") else []))
    urls = list(rest.get("tracking_urls") or ([rest["tracking_url"]] if rest.get("tracking_url") else []))
    tracking = [
        {"company": rest.get("tracking_company"), "number": number, "url": urls[i] if i < len(urls) else None}
        for i, number in enumerate(numbers)
    ]
    return {
        "__typename": "Fulfillment",
        "id": _gid("Fulfillment", rest["id"]),
        "legacyResourceId": str(rest["id"]),
        "name": rest.get("name"),
        "status": _upper(rest.get("status")),
        "displayStatus": _upper(rest.get("shipment_status")),
        "createdAt": rest.get("created_at"),
        "updatedAt": rest.get("updated_at"),
        "order": _ref("Order", rest.get("order_id")),
        "location": _ref("Location", rest.get("location_id")),
        "service": {"serviceName": rest["service"]} if rest.get("service") else None,
        "trackingInfo": tracking,
        "fulfillmentLineItems": {
            "nodes": [
                {"quantity": item.get("quantity"), "lineItem": _ref("LineItem", item.get("id"))}
                for item in rest.get("line_items") or []
                if isinstance(item, Mapping)
            ]
        },
    }


# GraphQL type -> (simulator resource type, field, REST -> GraphQL)
LOOKUPS: dict[str, tuple[str, str, Callable[[Mapping[str, Any]], dict[str, Any]]]] = {
    "Order": ("orders", "order", order_node),
    "Customer": ("customers", "customer", customer_node),
    "Product": ("products", "product", product_node),
    "Fulfillment": ("fulfillments", "fulfillment", fulfillment_node),
}


def _find(state: SimulatorState, type_name: str, gid: str) -> dict[str, Any] | None:
    kind, _, convert = LOOKUPS[type_name]
    match = re.fullmatch(rf"gid://shopify/{type_name}/(?P<id>[0-9]+)", gid)
    if match is None:
        raise GraphQLError(f"Invalid global id '{gid}'", code="INVALID_GLOBAL_ID")
    with state.lock:
        rest = state.resources.get(kind, {}).get(match["id"])
        state.counters[f"lookup:{kind}"] += 1
    return convert(rest) if rest is not None else None


def _resolver(type_name: str) -> Callable[[SimulatorState, dict[str, Any], str], Any]:
    field = LOOKUPS[type_name][1]

    def resolve(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
        return _find(state, type_name, str(field_arguments(query, variables, field).get("id", "")))

    return resolve


def _node_lookup(type_name: str) -> Callable[[SimulatorState, str], dict[str, Any] | None]:
    def lookup(state: SimulatorState, gid: str) -> dict[str, Any] | None:
        return _find(state, type_name, gid)

    return lookup


for _type_name, (_kind, _field, _convert) in LOOKUPS.items():
    QUERY_FIELDS[_field] = _resolver(_type_name)
    NODE_TYPES[_type_name] = _node_lookup(_type_name)
STORED_NODES.update(orders=order_node, customers=customer_node, products=product_node)
