"""Full Shopify resources from the Admin GraphQL API, in the REST shape the webhook processors read.

EventBridge delivers a webhook whose payload is larger than its limit reduced to ``{"id": ...}``; the
processors then read the resource here. Each kind has one query (the fields the processors store and,
for an order, the Glue job reads from the fetched order the order processor keeps in the lake; no
contact details) and one normaliser from GraphQL's shape to the webhook's REST shape: ``id`` as a
number, snake_case keys, lower-case enum values, money as ``<field>_set.shop_money``. A resource the
API no longer has (deleted since the webhook) is bad input: retrying cannot bring it back, and its
delete webhook follows.

``checkoutToken``/``cartToken`` on ``Order`` exist from API version 2026-07; the stacks default to a
newer version. ``ResourceFetcher`` is what a processor plugs into ``common.shopify.processor.Processor``: it
reads the token from ``ShopifyAdminApiSecret`` (cached) and imports the HTTP stack on first use only,
so a processor's cold start does not pay for a path most events never take.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from common import commerce_rules as rules
from common.errors import BadInput
from common.order_fields import ORDER_FIELDS, Kind, OrderField, Shape, Status, field
from common.shopify.events import ShopifyEvent
from common.shopify.values import shopify_id

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from common.secret_cache import CachedSecret
    from common.settings import ShopifyAdminSettings
    from common.shopify.admin import ShopifyAdminClient

MONEY = "shopMoney { amount currencyCode }"

ORDER_QUERY = f"""query OrderForWebhook($id: ID!) {{
  order(id: $id) {{
    id legacyResourceId name createdAt updatedAt processedAt cancelledAt cancelReason closedAt
    currencyCode presentmentCurrencyCode displayFinancialStatus displayFulfillmentStatus
    test sourceName tags checkoutToken cartToken discountCodes
    customer {{ legacyResourceId }}
    totalPriceSet {{ {MONEY} }}
    subtotalPriceSet {{ {MONEY} }}
    totalTaxSet {{ {MONEY} }}
    totalDiscountsSet {{ {MONEY} }}
    currentTotalPriceSet {{ {MONEY} }}
    totalRefundedSet {{ {MONEY} }}
    refunds(first: 250) {{ legacyResourceId createdAt }}
    fulfillments {{ legacyResourceId status createdAt }}
    lineItems(first: 250) {{
      nodes {{
        id quantity sku name title
        variant {{ legacyResourceId }}
        product {{ legacyResourceId }}
        originalUnitPriceSet {{ {MONEY} }}
      }}
    }}
  }}
}}"""

CUSTOMER_QUERY = """query CustomerForWebhook($id: ID!) {
  customer(id: $id) {
    id legacyResourceId createdAt updatedAt state verifiedEmail taxExempt tags numberOfOrders
    amountSpent { amount currencyCode }
    lastOrder { legacyResourceId }
    emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
    smsMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt consentCollectedFrom }
    defaultAddress { countryCodeV2 provinceCode }
  }
}"""

PRODUCT_QUERY = """query ProductForWebhook($id: ID!) {
  product(id: $id) {
    id legacyResourceId title handle vendor productType status createdAt updatedAt publishedAt tags
    variants(first: 250) {
      nodes { legacyResourceId title sku price inventoryItem { legacyResourceId } }
    }
  }
}"""

FULFILLMENT_QUERY = """query FulfillmentForWebhook($id: ID!) {
  fulfillment(id: $id) {
    id legacyResourceId name status displayStatus createdAt updatedAt
    order { legacyResourceId }
    location { legacyResourceId }
    service { serviceName }
    trackingInfo { company number url }
    fulfillmentLineItems(first: 250) { nodes { quantity lineItem { id } } }
  }
}"""

# REST's fulfillment_status counts fulfilled line items: fulfilled, partial, restocked, or null when none
# is. Every other displayFulfillmentStatus (UNFULFILLED, OPEN, IN_PROGRESS, ON_HOLD, SCHEDULED,
# PENDING_FULFILLMENT, REQUEST_DECLINED, and from 2026-10 FULFILLMENT_NOT_REQUIRED for an order cancelled
# or refunded before it shipped) fulfilled nothing: null, as the webhook of the same order says. The map
# is the one the Glue jobs use (common.commerce_rules).
# REST's shipment_status values; GraphQL's displayStatus has more, which REST leaves null.
_SHIPMENT = {
    "LABEL_PRINTED", "LABEL_PURCHASED", "ATTEMPTED_DELIVERY", "READY_FOR_PICKUP", "CONFIRMED",
    "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED", "FAILURE",
}  # fmt: skip


_NAME, _ORDER_NUMBER = field("name"), field("order_number")
_TOTAL_REFUNDED, _LINE_ITEMS = field("total_refunded"), field("line_items")
_REFUNDS, _FULFILLMENTS = field("refunds"), field("fulfillments")


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _legacy_id(node: Any) -> int | None:
    if isinstance(node, Mapping) and node.get("legacyResourceId") not in (None, ""):
        return int(shopify_id(node["legacyResourceId"], "legacyResourceId"))
    return None


def _gid_number(node: Any, what: str) -> int | None:
    """The numeric id in a node's ``id`` (a GID): for types such as LineItem that have no legacyResourceId."""
    if isinstance(node, Mapping) and node.get("id") not in (None, ""):
        return int(shopify_id(node["id"], what))
    return None


def _money_set(node: Any) -> dict[str, Any] | None:
    if not isinstance(node, Mapping) or not isinstance(node.get("shopMoney"), Mapping):
        return None
    shop = node["shopMoney"]
    return {"shop_money": {"amount": shop.get("amount"), "currency_code": shop.get("currencyCode")}}


def _nodes(connection: Any) -> list[Mapping[str, Any]]:
    if isinstance(connection, Mapping):
        items = connection.get("nodes")
        if items is None and isinstance(connection.get("edges"), list):
            items = [edge.get("node") for edge in connection["edges"] if isinstance(edge, Mapping)]
        return [n for n in items or [] if isinstance(n, Mapping)]
    if isinstance(connection, list):
        return [n for n in connection if isinstance(n, Mapping)]
    return []


def _tags(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value or "")


def _from_graphql(order_field: OrderField, node: Mapping[str, Any], order: dict[str, Any]) -> None:
    """Set a field converted by its shape and kind alone in the REST-shaped ``order``."""
    rest, value = order_field.rest, node.get(order_field.graphql or "")
    if order_field.shape is Shape.GID:
        order[rest] = _legacy_id(node)
        order["admin_graphql_api_id"] = value
    elif order_field.shape is Shape.MONEY_SET:
        money = _money_set(value)
        order[f"{rest}_set"] = money
        order[rest] = money["shop_money"]["amount"] if money else None
    elif order_field.shape is Shape.REFERENCE:
        order[rest] = {"id": _legacy_id(value)} if isinstance(value, Mapping) else None
    elif order_field.status is not None:
        order[rest] = rules.fulfillment_status(value) if order_field.status is Status.FULFILLMENT else _lower(value)
    elif order_field.kind is Kind.TAGS:
        order[rest] = _tags(value)
    elif order_field.kind is Kind.CODES:
        order[rest] = [{"code": code} for code in value or [] if isinstance(code, str)]
    else:
        order[rest] = value


# The order's fields order_from_graphql converts by their shape alone (the others have code below).
_BY_SHAPE = tuple(f for f in ORDER_FIELDS if f.normalised and not f.code)


def order_from_graphql(node: Mapping[str, Any]) -> dict[str, Any]:
    """An Order node (a lookup's or a bulk line's, with legacy ids) in the REST shape of its webhook."""
    order: dict[str, Any] = {}
    for order_field in _BY_SHAPE:
        _from_graphql(order_field, node, order)
    name = order.get(_NAME.rest)
    number = re.fullmatch(r"#?([0-9]{1,19})", name) if isinstance(name, str) else None
    order[_ORDER_NUMBER.rest] = int(number.group(1)) if number else None
    # not a REST field: REST sums refunds[].transactions (common.order_fields)
    order[f"{_TOTAL_REFUNDED.rest}_set"] = _money_set(node.get(_TOTAL_REFUNDED.graphql or ""))
    order[_LINE_ITEMS.rest] = [_line_item(item) for item in _nodes(node.get(_LINE_ITEMS.graphql or ""))]
    order[_REFUNDS.rest] = [
        {"id": _legacy_id(refund), "created_at": refund.get("createdAt")}
        for refund in _nodes(node.get(_REFUNDS.graphql or ""))
    ]
    # read by the Glue job from the fetched order kept in the lake (raw/shopify/fetched/orders/)
    order[_FULFILLMENTS.rest] = [
        {"id": _legacy_id(f), "status": _lower(f.get("status")), "created_at": f.get("createdAt")}
        for f in _nodes(node.get(_FULFILLMENTS.graphql or ""))
    ]
    return order


def _line_item(item: Mapping[str, Any]) -> dict[str, Any]:
    price = _money_set(item.get("originalUnitPriceSet"))
    return {
        "id": _gid_number(item, "line item id"),
        "quantity": item.get("quantity"),
        "sku": item.get("sku"),
        "title": item.get("title"),
        "name": item.get("name"),
        "variant_id": _legacy_id(item.get("variant")),
        "product_id": _legacy_id(item.get("product")),
        "price": price["shop_money"]["amount"] if price else None,
        "price_set": price,
    }


def _consent(node: Any, *, sms: bool) -> dict[str, Any] | None:
    if not isinstance(node, Mapping):
        return None
    consent = {
        "state": _lower(node.get("marketingState")),
        "opt_in_level": _lower(node.get("marketingOptInLevel")),
        "consent_updated_at": node.get("consentUpdatedAt"),
    }
    if sms:
        consent["consent_collected_from"] = node.get("consentCollectedFrom")
    return consent


def customer_from_graphql(node: Mapping[str, Any]) -> dict[str, Any]:
    spent_node = node.get("amountSpent")
    spent: Mapping[str, Any] = spent_node if isinstance(spent_node, Mapping) else {}
    address = node.get("defaultAddress")
    return {
        "id": _legacy_id(node),
        "admin_graphql_api_id": node.get("id"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "state": _lower(node.get("state")),
        "verified_email": node.get("verifiedEmail"),
        "tax_exempt": node.get("taxExempt"),
        "tags": _tags(node.get("tags")),
        "orders_count": int(node["numberOfOrders"]) if node.get("numberOfOrders") not in (None, "") else None,
        "total_spent": spent.get("amount"),
        "currency": spent.get("currencyCode"),
        "last_order_id": _legacy_id(node.get("lastOrder")),
        "email_marketing_consent": _consent(node.get("emailMarketingConsent"), sms=False),
        "sms_marketing_consent": _consent(node.get("smsMarketingConsent"), sms=True),
        "default_address": {
            "country_code": address.get("countryCodeV2"),
            "province_code": address.get("provinceCode"),
        }
        if isinstance(address, Mapping)
        else None,
    }


def product_from_graphql(node: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": _legacy_id(node),
        "admin_graphql_api_id": node.get("id"),
        "title": node.get("title"),
        "handle": node.get("handle"),
        "vendor": node.get("vendor"),
        "product_type": node.get("productType"),
        "status": _lower(node.get("status")),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "published_at": node.get("publishedAt"),
        "tags": _tags(node.get("tags")),
        "variants": [
            {
                "id": _legacy_id(variant),
                "title": variant.get("title"),
                "sku": variant.get("sku"),
                "price": variant.get("price"),
                "inventory_item_id": _legacy_id(variant.get("inventoryItem")),
            }
            for variant in _nodes(node.get("variants"))
        ],
    }


def fulfillment_from_graphql(node: Mapping[str, Any]) -> dict[str, Any]:
    tracking = [t for t in node.get("trackingInfo") or [] if isinstance(t, Mapping)]
    numbers = [t["number"] for t in tracking if t.get("number")]
    display = node.get("displayStatus")
    service = node.get("service")
    return {
        "id": _legacy_id(node),
        "admin_graphql_api_id": node.get("id"),
        "order_id": _legacy_id(node.get("order")),
        "name": node.get("name"),
        "status": _lower(node.get("status")),
        "shipment_status": display.lower() if display in _SHIPMENT else None,
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "location_id": _legacy_id(node.get("location")),
        "service": service.get("serviceName") if isinstance(service, Mapping) else None,
        "tracking_company": next((t["company"] for t in tracking if t.get("company")), None),
        "tracking_number": numbers[0] if numbers else None,
        "tracking_numbers": numbers,
        "tracking_urls": [t["url"] for t in tracking if t.get("url")],
        "line_items": [
            {"id": _gid_number(item.get("lineItem"), "fulfillment line item id"), "quantity": item.get("quantity")}
            for item in _nodes(node.get("fulfillmentLineItems"))
        ],
    }


# entity of the raw key -> (GraphQL type for the gid, query, top-level field, normaliser)
KINDS: dict[str, tuple[str, str, str, Callable[[Mapping[str, Any]], dict[str, Any]]]] = {
    "orders": ("Order", ORDER_QUERY, "order", order_from_graphql),
    "customers": ("Customer", CUSTOMER_QUERY, "customer", customer_from_graphql),
    "products": ("Product", PRODUCT_QUERY, "product", product_from_graphql),
    "fulfillments": ("Fulfillment", FULFILLMENT_QUERY, "fulfillment", fulfillment_from_graphql),
}


def fetch_resource(client: ShopifyAdminClient, entity: str, resource_id: str) -> dict[str, Any]:
    """The resource ``resource_id`` of ``entity`` in REST shape; a missing one is ``BadInput``."""
    if entity not in KINDS:
        raise BadInput("reduced-payload-unsupported", f"the Admin API has no lookup for {entity}")
    type_name, query, field_name, normalise = KINDS[entity]
    data = client.execute(query, {"id": f"gid://shopify/{type_name}/{resource_id}"})
    node = data.get(field_name)
    if not isinstance(node, Mapping):
        raise BadInput("resource-not-found", f"the Admin API has no {type_name} {resource_id} (deleted since?)")
    return normalise(node)


class ResourceFetcher:
    """``Fetch`` for ``common.shopify.processor.Processor``: the shop's token from Secrets Manager, cached."""

    def __init__(
        self,
        *,
        secret_arn: str,
        api_version: str,
        base_url: str = "",
        secret: CachedSecret | None = None,
        max_throttle_wait_seconds: float = 10.0,
    ) -> None:
        self.secret_arn = secret_arn
        self.api_version = api_version
        self.base_url = base_url
        self._secret = secret
        self._max_wait = max_throttle_wait_seconds
        self._client: ShopifyAdminClient | None = None

    @classmethod
    def of(cls, settings: ShopifyAdminSettings, secretsmanager: SecretsManagerClient | None = None) -> ResourceFetcher:
        """The fetcher a function's settings describe; the secret read through ``secretsmanager`` when
        given, else through ``common.aws``'s client on first use."""
        secret = None
        if secretsmanager is not None:
            from common.secret_cache import CachedSecret

            secret = CachedSecret(secretsmanager, settings.secret_arn)
        return cls(
            secret_arn=settings.secret_arn,
            api_version=settings.api_version,
            base_url=settings.admin_base_url,
            secret=secret,
            max_throttle_wait_seconds=settings.max_throttle_wait_seconds,
        )

    def _cached_secret(self) -> CachedSecret:
        if self._secret is None:
            from common.aws import secretsmanager
            from common.secret_cache import CachedSecret

            self._secret = CachedSecret(secretsmanager(), self.secret_arn)
        return self._secret

    def client(self) -> ShopifyAdminClient:
        if self._client is None:
            from common.http_session import retrying_session
            from common.shopify.admin import ShopifyAdminClient, admin_api_url

            secret = self._cached_secret()
            # Few, short HTTP retries: Lambda's asynchronous retries (minutes apart) do the rest.
            self._client = ShopifyAdminClient(
                url=admin_api_url(self.shop_domain(), self.api_version, self.base_url or None),
                access_token=lambda: secret.key("access_token"),
                session=retrying_session(total=2, backoff_factor=0.5, retry_post=True, timeout=(3.05, 10.0)),
                max_throttle_wait_seconds=self._max_wait,
            )
        return self._client

    def shop_domain(self) -> str:
        return self._cached_secret().key("shop_domain")

    def __call__(self, event: ShopifyEvent) -> Mapping[str, Any]:
        shop = self.shop_domain()
        if event.shop_domain and event.shop_domain.lower() != shop.lower():
            raise BadInput("unknown-shop", f"the event is from {event.shop_domain}; the stored token is for {shop}")
        resource_id = shopify_id(event.payload.get("id"), f"{event.entity} id")
        return fetch_resource(self.client(), event.entity, resource_id)
