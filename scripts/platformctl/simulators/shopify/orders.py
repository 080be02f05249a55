"""The simulated shop's data: orders, customers and products generated deterministically from a seed, and
the JSONL of a bulk result written from them (children interleaved as ``groupObjects: false`` allows).

Orders are spaced a minute apart and end at ``SHOP_ANCHOR``, so every one is in the past and a window of
``updated_at`` is a range of indexes. Customers are the ones the orders reference (with counts, amounts and
last orders that agree with the orders); products are the catalogue the line items name.
"""

from __future__ import annotations

import functools
import json
import math
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_SEED = 20260101
SHOP_ANCHOR = datetime(2025, 6, 1, tzinfo=UTC)
ORDER_SPACING_SECONDS = 60
CUSTOMER_SPACING_SECONDS = 180  # a third as many customers as orders, over the same period
PRODUCT_SPACING_SECONDS = 30 * 86400
BLOCK_ORDERS = 8  # roots whose lines are shuffled together (groupObjects: false)
CUSTOMER_BASE_ID = 7_000_000_000
PRODUCT_BASE_ID = 8_100_000_000


@dataclass
class ResultFile:
    path: Path
    size: int
    object_count: int
    root_object_count: int


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_PRODUCTS = (
    ("Classic Tee", "TEE-CL", "24.00"),
    ("Hoodie", "HD-01", "58.00"),
    ("Canvas Tote", "TOTE-C", "18.50"),
    ("Wool Beanie", "BN-WL", "22.00"),
    ("Running Socks (3 pack)", "SK-RN3", "15.00"),
    ("Rain Jacket", "JK-RN", "129.00"),
    ("Water Bottle", "BT-750", "27.90"),
)
_PLACES = (
    ("Ottawa", "Ontario", "ON", "Canada", "CA", "K2P 1L4"),
    ("Austin", "Texas", "TX", "United States", "US", "78701"),
    ("Portland", "Oregon", "OR", "United States", "US", "97205"),
    ("Leeds", "England", "ENG", "United Kingdom", "GB", "LS1 4AP"),
    ("Lyon", "Auvergne-Rhone-Alpes", "ARA", "France", "FR", "69002"),
)
_NAMES = ("Ada", "Bo", "Cleo", "Dev", "Eli", "Fen", "Gus", "Hana", "Ivo", "Jun")
_SURNAMES = ("Lovelace", "Ng", "Ortiz", "Patel", "Quinn", "Rossi", "Sato", "Tan")


def order_times(index: int, orders: int) -> tuple[datetime, datetime]:
    """(createdAt, updatedAt) of order ``index``: deterministic, in the past, and in index order (an
    order is updated less than a minute after it is created), so a window is a range of indexes."""
    created = SHOP_ANCHOR - timedelta(seconds=(orders - index) * ORDER_SPACING_SECONDS)
    updated = created + timedelta(seconds=5 * (index % 11))
    return created, updated


def _money(amount: float, currency: str) -> dict[str, Any]:
    text = f"{amount:.2f}"
    return {
        "shopMoney": {"amount": text, "currencyCode": currency},
        "presentmentMoney": {"amount": text, "currencyCode": currency},
    }


def _address(rng: random.Random, first: str, last: str) -> dict[str, Any]:
    city, province, code, country, country_code, zip_code = rng.choice(_PLACES)
    return {
        "firstName": first,
        "lastName": last,
        "address1": f"{rng.randint(1, 999)} {rng.choice(('Main', 'Elm', 'King', 'Queen'))} Street",
        "address2": None if rng.random() < 0.7 else f"Unit {rng.randint(1, 40)}",
        "city": city,
        "province": province,
        "provinceCode": code,
        "country": country,
        "countryCodeV2": country_code,
        "zip": zip_code,
        "phone": None,
    }


def order_lines(seed: int, index: int, orders: int) -> list[dict[str, Any]]:
    """Order ``index`` as bulk objects: the order (lists embedded) and its connection children."""
    rng = random.Random(seed * 1_000_003 + index)  # noqa: S311 - test data, not cryptography
    order_id = 450_000_000_000 + index
    order_gid = f"gid://shopify/Order/{order_id}"
    created, updated = order_times(index, orders)
    currency = "USD"
    first, last = rng.choice(_NAMES), rng.choice(_SURNAMES)
    children: list[dict[str, Any]] = []
    subtotal = 0.0
    for position in range(1 + rng.randrange(4)):
        title, sku, price = rng.choice(_PRODUCTS)
        quantity = 1 + rng.randrange(3)
        amount = float(price) * quantity
        subtotal += amount
        product = PRODUCT_BASE_ID + _PRODUCTS.index((title, sku, price))
        children.append(
            {
                "__typename": "LineItem",
                "id": f"gid://shopify/LineItem/{13_000_000_000_000 + index * 8 + position}",
                "name": title,
                "title": title,
                "sku": f"{sku}-{rng.choice('SML')}",
                "quantity": quantity,
                "currentQuantity": quantity,
                "variant": {"id": f"gid://shopify/ProductVariant/{product * 10 + rng.randrange(3)}"},
                "product": {"id": f"gid://shopify/Product/{product}"},
                "originalUnitPriceSet": _money(float(price), currency),
                "discountedTotalSet": _money(amount, currency),
                "taxable": True,
                "requiresShipping": True,
                "__parentId": order_gid,
            }
        )
    discount = 0.0
    if rng.random() < 0.3:
        percentage = rng.choice((10.0, 15.0, 20.0))
        discount = round(subtotal * percentage / 100, 2)
        children.append(
            {
                "__typename": "DiscountCodeApplication",
                "allocationMethod": "ACROSS",
                "targetSelection": "ALL",
                "targetType": "LINE_ITEM",
                "value": {"__typename": "PricingPercentageValue", "percentage": percentage},
                "code": rng.choice(("WELCOME10", "SPRING15", "VIP20")),
                "__parentId": order_gid,
            }
        )
    elif rng.random() < 0.15:
        discount = 5.0
        children.append(
            {
                "__typename": "AutomaticDiscountApplication",
                "allocationMethod": "ACROSS",
                "targetSelection": "ALL",
                "targetType": "SHIPPING_LINE",
                "value": {"__typename": "MoneyV2", "amount": "5.00", "currencyCode": currency},
                "title": "Free shipping over 50",
                "__parentId": order_gid,
            }
        )
    shipping = 0.0 if subtotal > 50 else 6.5
    tax = round((subtotal - discount) * 0.08, 2)
    total = round(subtotal - discount + shipping + tax, 2)
    processed = created + timedelta(seconds=rng.randint(1, 30))
    transactions = [
        {
            "id": f"gid://shopify/OrderTransaction/{9_000_000_000_000 + index * 4}",
            "kind": "SALE",
            "status": "SUCCESS",
            "gateway": rng.choice(("shopify_payments", "paypal")),
            "amountSet": _money(total, currency),
            "processedAt": iso(processed),
            "parentTransaction": None,
        }
    ]
    refunds = []
    financial = "PAID"
    if rng.random() < 0.1:
        refunded = round(total * rng.choice((0.25, 0.5, 1.0)), 2)
        refund_at = processed + timedelta(days=rng.randint(1, 20))
        financial = "REFUNDED" if refunded == total else "PARTIALLY_REFUNDED"
        refunds.append(
            {
                "id": f"gid://shopify/Refund/{700_000_000_000 + index}",
                "createdAt": iso(refund_at),
                "note": rng.choice((None, "damaged in transit", "wrong size")),
                "totalRefundedSet": _money(refunded, currency),
            }
        )
        transactions.append(
            {
                "id": f"gid://shopify/OrderTransaction/{9_000_000_000_000 + index * 4 + 1}",
                "kind": "REFUND",
                "status": "SUCCESS",
                "gateway": transactions[0]["gateway"],
                "amountSet": _money(refunded, currency),
                "processedAt": iso(refund_at),
                "parentTransaction": {"id": transactions[0]["id"]},
            }
        )
    fulfillments = []
    fulfilment_status = "UNFULFILLED"
    if rng.random() < 0.75:
        fulfilment_status = "FULFILLED"
        fulfillments.append(
            {
                "id": f"gid://shopify/Fulfillment/{5_500_000_000_000 + index}",
                "status": "SUCCESS",
                "createdAt": iso(processed + timedelta(hours=rng.randint(2, 72))),
                "updatedAt": iso(updated),
                "trackingInfo": [
                    {
                        "company": rng.choice(("UPS", "Canada Post", "DHL Express")),
                        "number": f"1Z{rng.randrange(10**12):012d}",
                        "url": "https://www.ups.com/track?tracknum=" + str(rng.randrange(10**12)),
                    }
                ],
            }
        )
    customer = (
        None
        if rng.random() < 0.08
        else {"id": f"gid://shopify/Customer/{CUSTOMER_BASE_ID + rng.randrange(customer_count(orders))}"}
    )
    shipping_address = _address(rng, first, last)
    order: dict[str, Any] = {
        "__typename": "Order",
        "id": order_gid,
        "name": f"#{1001 + index}",
        "email": f"{first.lower()}.{last.lower()}{index % 97}@example.com",
        "createdAt": iso(created),
        "updatedAt": iso(updated),
        "processedAt": iso(processed),
        "cancelledAt": None,
        "closedAt": None,
        "currencyCode": currency,
        "displayFinancialStatus": financial,
        "displayFulfillmentStatus": fulfilment_status,
        "subtotalPriceSet": _money(subtotal, currency),
        "totalDiscountsSet": _money(discount, currency),
        "totalShippingPriceSet": _money(shipping, currency),
        "totalTaxSet": _money(tax, currency),
        "totalPriceSet": _money(total, currency),
        "discountCodes": [c["code"] for c in children if c["__typename"] == "DiscountCodeApplication"],
        "tags": rng.sample(["wholesale", "gift", "vip", "first-order", "subscription"], rng.randrange(3)),
        "customer": customer,
        "shippingAddress": shipping_address,
        "billingAddress": shipping_address if rng.random() < 0.8 else _address(rng, first, last),
        "refunds": refunds,
        "fulfillments": fulfillments,
        "transactions": transactions,
    }
    # Drawn last, so the fields above stay what they were before these were added.
    refunded = sum(float(_amount(r["totalRefundedSet"])) for r in refunds)
    order.update(
        {
            "cancelReason": None,
            "presentmentCurrencyCode": currency,
            "test": rng.random() < 0.02,
            "sourceName": rng.choice(("web", "web", "web", "pos", "shopify_draft_order")),
            "checkoutToken": f"{rng.getrandbits(128):032x}",
            "cartToken": f"{rng.getrandbits(96):024x}",
            "currentTotalPriceSet": _money(total - refunded, currency),
            "totalRefundedSet": _money(refunded, currency),
        }
    )
    return [order, *children]


def _amount(money: Any) -> str:
    return str(money["shopMoney"]["amount"])


def customer_count(orders: int) -> int:
    """Customers of a shop of ``orders`` orders: ids ``CUSTOMER_BASE_ID`` + [0, count); orders name them."""
    return orders // 3 + 1


def customer_times(index: int, customers: int) -> tuple[datetime, datetime]:
    """(createdAt, updatedAt) of customer ``index``: in the past and growing with the index."""
    created = SHOP_ANCHOR - timedelta(seconds=(customers - index) * CUSTOMER_SPACING_SECONDS + 86400)
    return created, created + timedelta(seconds=60 + 7 * (index % 5))  # after its consents (< a minute in)


def product_times(index: int, products: int) -> tuple[datetime, datetime]:
    """(createdAt, updatedAt) of product ``index``: in the past and growing with the index."""
    created = SHOP_ANCHOR - timedelta(seconds=(products - index) * PRODUCT_SPACING_SECONDS)
    return created, created + timedelta(hours=index + 1)


@dataclass(frozen=True)
class CustomerOrders:
    count: int = 0
    spent: float = 0.0
    last_order: str | None = None


@functools.lru_cache(maxsize=8)
def customer_orders(seed: int, orders: int) -> dict[int, CustomerOrders]:
    """Per customer index, what the shop's orders say: how many, the amount spent, the newest order."""
    found: dict[int, CustomerOrders] = {}
    for index in range(orders):
        order = order_lines(seed, index, orders)[0]
        if order["customer"] is None:
            continue
        customer = int(order["customer"]["id"].rsplit("/", 1)[1]) - CUSTOMER_BASE_ID
        seen = found.get(customer, CustomerOrders())
        total = float(order["totalPriceSet"]["shopMoney"]["amount"])
        found[customer] = CustomerOrders(seen.count + 1, seen.spent + total, order["id"])  # index order: newest last
    return found


def customer_lines(seed: int, index: int, orders: int) -> list[dict[str, Any]]:
    """Customer ``index`` as a bulk object (no contact details: the export does not ask for them)."""
    rng = random.Random(seed * 2_000_003 + index)  # noqa: S311 - test data, not cryptography
    created, updated = customer_times(index, customer_count(orders))
    history = customer_orders(seed, orders).get(index, CustomerOrders())
    _, _, province, _, country, _ = rng.choice(_PLACES)
    consented = iso(created + timedelta(seconds=rng.randint(1, 60)))
    sms = None
    if rng.random() < 0.4:
        sms = {
            "marketingState": rng.choice(("SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED")),
            "marketingOptInLevel": "SINGLE_OPT_IN",
            "consentUpdatedAt": consented,
            "consentCollectedFrom": "SHOPIFY",
        }
    return [
        {
            "__typename": "Customer",
            "id": f"gid://shopify/Customer/{CUSTOMER_BASE_ID + index}",
            "createdAt": iso(created),
            "updatedAt": iso(updated),
            "state": "ENABLED" if rng.random() < 0.7 else "DISABLED",
            "verifiedEmail": rng.random() < 0.9,
            "taxExempt": rng.random() < 0.05,
            "tags": rng.sample(["wholesale", "vip", "newsletter", "returning"], rng.randrange(3)),
            "numberOfOrders": str(history.count),
            "amountSpent": {"amount": f"{history.spent:.2f}", "currencyCode": "USD"},
            "lastOrder": {"id": history.last_order} if history.last_order else None,
            "emailMarketingConsent": {
                "marketingState": rng.choice(("SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED")),
                "marketingOptInLevel": rng.choice(("SINGLE_OPT_IN", "CONFIRMED_OPT_IN")),
                "consentUpdatedAt": consented,
            },
            "smsMarketingConsent": sms,
            "defaultAddress": {"countryCodeV2": country, "provinceCode": province},
        }
    ]


def product_lines(index: int) -> list[dict[str, Any]]:
    """Product ``index`` of the catalogue (the products the line items name) and its three variants,
    whose ids are the ones line items name (``<product id> * 10 + 0..2``)."""
    title, sku, price = _PRODUCTS[index]
    product = PRODUCT_BASE_ID + index
    gid = f"gid://shopify/Product/{product}"
    created, updated = product_times(index, len(_PRODUCTS))
    lines: list[dict[str, Any]] = [
        {
            "__typename": "Product",
            "id": gid,
            "title": title,
            "handle": re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-"),
            "vendor": "Local Outfitters",
            "productType": sku.split("-", 1)[0],
            "status": "ACTIVE" if index % 5 else "DRAFT",
            "createdAt": iso(created),
            "updatedAt": iso(updated),
            "publishedAt": iso(created) if index % 5 else None,
            "tags": ["apparel"] if index % 2 else [],
        }
    ]
    for position, size in enumerate("SML"):
        variant = product * 10 + position
        lines.append(
            {
                "__typename": "ProductVariant",
                "id": f"gid://shopify/ProductVariant/{variant}",
                "title": size,
                "sku": f"{sku}-{size}",
                "price": price,
                "inventoryItem": {"id": f"gid://shopify/InventoryItem/{variant + 40_000_000_000}"},
                "__parentId": gid,
            }
        )
    return lines


def resource_count(resource: str, orders: int) -> int:
    """How many root objects of ``resource`` a shop of ``orders`` orders has."""
    return {"orders": orders, "customers": customer_count(orders), "products": len(_PRODUCTS)}[resource]


def resource_lines(resource: str, seed: int, index: int, orders: int) -> list[dict[str, Any]]:
    if resource == "customers":
        return customer_lines(seed, index, orders)
    if resource == "products":
        return product_lines(index)
    return order_lines(seed, index, orders)


RESOURCE_TIMES: dict[str, Callable[[int, int], tuple[datetime, datetime]]] = {
    "orders": order_times,
    "customers": customer_times,
    "products": product_times,
}


def iter_result_lines(
    seed: int, first: int, last: int, *, orders: int, escape: bool, resource: str = "orders"
) -> Iterator[tuple[bytes, bool]]:
    """(line, is_root) of the result for the resource's objects [first, last), block by block, children
    shuffled in."""
    for block_start in range(first, last, BLOCK_ORDERS):
        objects: list[dict[str, Any]] = []
        for index in range(block_start, min(last, block_start + BLOCK_ORDERS)):
            objects.extend(resource_lines(resource, seed, index, orders))
        random.Random(seed ^ (block_start * 7919)).shuffle(objects)  # noqa: S311 - test data
        for obj in objects:
            text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
            if escape:
                text = text.replace("/", "\\/")
            yield text.encode("utf-8"), "__parentId" not in obj


def write_result(
    path: Path,
    *,
    seed: int,
    orders: int,
    first: int,
    last: int,
    fraction: float = 1.0,
    escape: bool = True,
    resource: str = "orders",
) -> ResultFile:
    """Write the result JSONL for the resource's objects [first, last) of a shop of ``orders`` orders (a
    partial result keeps the first blocks)."""
    if fraction < 1.0:
        blocks = math.ceil((last - first) / BLOCK_ORDERS)
        last = min(last, first + max(1, int(blocks * fraction)) * BLOCK_ORDERS)
    objects = roots = 0
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb", buffering=1024 * 1024) as out:
        for line, is_root in iter_result_lines(seed, first, last, orders=orders, escape=escape, resource=resource):
            out.write(line)
            out.write(b"\n")
            objects += 1
            roots += is_root
    tmp.replace(path)
    return ResultFile(path, path.stat().st_size, objects, roots)


def orders_for_bytes(target_bytes: int, *, seed: int = DEFAULT_SEED, sample: int = 400) -> int:
    """How many orders make a result of about ``target_bytes`` (from the size of a sample)."""
    size = sum(len(line) + 1 for line, _ in iter_result_lines(seed, 0, sample, orders=sample, escape=True))
    return max(1, round(target_bytes / (size / sample)))
