"""A small shop's order and customer versions, as webhooks (REST payloads) and as bulk export lines.

One model, two renderings: ``order_payload`` is what an ``orders/updated`` webhook carries and
``order_lines`` what the bulk export writes for the same version (the order's line with gids, its line
items as lines of their own with ``__parentId``), so a test can check that both store the same item.
``put_run`` writes a complete run into a bucket as the download does: parts per type (children shuffled
across parents and parts) and a manifest.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
STATUSES = ("PENDING", "AUTHORIZED", "PAID", "PARTIALLY_REFUNDED", "REFUNDED")


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class OrderVersion:
    order_id: int
    version: int
    updated_at: datetime
    status: str
    quantities: tuple[int, ...]
    customer_id: int | None
    cancelled: bool = False
    cart_token: str | None = None
    checkout_token: str | None = None
    created_at: str = "2025-03-01T08:00:00Z"

    @property
    def total(self) -> str:
        return f"{sum(q * (10 + i) for i, q in enumerate(self.quantities))}.50"

    @property
    def refunded(self) -> str:
        return "5.00" if "REFUNDED" in self.status else "0.00"


def order_history(order_id: int, versions: int, rng: random.Random, start: datetime = START) -> list[OrderVersion]:
    moment = start + timedelta(minutes=order_id % 97)
    quantities = tuple(rng.randint(1, 3) for _ in range(rng.randint(1, 3)))
    customer = rng.choice([None, 7000 + order_id % 5])
    history = []
    for number in range(versions):
        moment += timedelta(seconds=rng.randint(1, 3600))
        if rng.random() < 0.3:
            quantities = (*quantities, rng.randint(1, 2))
        history.append(
            OrderVersion(order_id, number, moment, STATUSES[min(number, len(STATUSES) - 1)], quantities, customer)
        )
    return history


def _line_item_id(order_id: int, index: int) -> int:
    return order_id * 100 + index + 1


def order_payload(v: OrderVersion) -> dict[str, Any]:
    """The REST order an orders/updated webhook carries for this version."""
    refunds = []
    if v.refunded != "0.00":
        refunds = [
            {"id": v.order_id * 10 + 1, "transactions": [{"kind": "refund", "status": "success", "amount": v.refunded}]}
        ]
    return {
        "id": v.order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{v.order_id}",
        "name": f"#{v.order_id}",
        "order_number": v.order_id,
        "email": "someone@example.com",
        "created_at": v.created_at,
        "updated_at": iso(v.updated_at),
        "processed_at": "2025-03-01T08:00:00Z",
        "cancelled_at": iso(v.updated_at) if v.cancelled else None,
        "cancel_reason": "customer" if v.cancelled else None,
        "closed_at": None,
        "currency": "EUR",
        "presentment_currency": "EUR",
        "total_price": v.total,
        "subtotal_price": v.total,
        "total_tax": "0.00",
        "total_discounts": "0.00",
        "current_total_price": v.total,
        "financial_status": v.status.lower(),
        "fulfillment_status": None,
        "test": False,
        "source_name": "web",
        "tags": "vip, repeat" if v.version % 2 else "",
        "checkout_token": v.checkout_token,
        "cart_token": v.cart_token,
        "customer": {"id": v.customer_id} if v.customer_id else None,
        "refunds": refunds,
        "line_items": [
            {
                "id": _line_item_id(v.order_id, i),
                "product_id": 900 + i,
                "variant_id": 9000 + i,
                "sku": f"SKU-{i}",
                "title": f"Thing {i}",
                "name": f"Thing {i} - M",
                "quantity": q,
                "price": f"{10 + i}.00",
            }
            for i, q in enumerate(v.quantities)
        ],
    }


def _money(amount: str) -> dict[str, Any]:
    value = {"amount": amount, "currencyCode": "EUR"}
    return {"shopMoney": value, "presentmentMoney": value}


def _dump(node: dict[str, Any]) -> bytes:
    # Shopify's JSONL escapes "/" as "\/"; the reconciliation must read both.
    return json.dumps(node, separators=(",", ":")).replace("/", "\\/").encode() + b"\n"


def order_lines(v: OrderVersion) -> tuple[bytes, list[bytes]]:
    """The bulk export's order line and its line-item lines for this version."""
    gid = f"gid://shopify/Order/{v.order_id}"
    refunds = []
    if v.refunded != "0.00":
        refunds = [{"id": f"gid://shopify/Refund/{v.order_id * 10 + 1}", "createdAt": iso(v.updated_at), "note": None,
                    "totalRefundedSet": _money(v.refunded)}]  # fmt: skip
    order = {
        "__typename": "Order",
        "id": gid,
        "name": f"#{v.order_id}",
        "email": "someone@example.com",
        "createdAt": v.created_at,
        "updatedAt": iso(v.updated_at),
        "processedAt": "2025-03-01T08:00:00Z",
        "cancelledAt": iso(v.updated_at) if v.cancelled else None,
        "cancelReason": "CUSTOMER" if v.cancelled else None,
        "closedAt": None,
        "currencyCode": "EUR",
        "presentmentCurrencyCode": "EUR",
        "displayFinancialStatus": v.status,
        "displayFulfillmentStatus": "UNFULFILLED",
        "test": False,
        "sourceName": "web",
        "checkoutToken": v.checkout_token,
        "cartToken": v.cart_token,
        "subtotalPriceSet": _money(v.total),
        "totalDiscountsSet": _money("0.00"),
        "totalShippingPriceSet": _money("0.00"),
        "totalTaxSet": _money("0.00"),
        "totalPriceSet": _money(v.total),
        "currentTotalPriceSet": _money(v.total),
        "totalRefundedSet": _money(v.refunded),
        "discountCodes": [],
        "tags": ["vip", "repeat"] if v.version % 2 else [],
        "customer": {"id": f"gid://shopify/Customer/{v.customer_id}"} if v.customer_id else None,
        "refunds": refunds,
        "fulfillments": [],
        "transactions": [],
    }
    items = [
        _dump(
            {
                "__typename": "LineItem",
                "id": f"gid://shopify/LineItem/{_line_item_id(v.order_id, i)}",
                "name": f"Thing {i} - M",
                "title": f"Thing {i}",
                "sku": f"SKU-{i}",
                "quantity": q,
                "currentQuantity": q,
                "variant": {"id": f"gid://shopify/ProductVariant/{9000 + i}"},
                "product": {"id": f"gid://shopify/Product/{900 + i}"},
                "originalUnitPriceSet": _money(f"{10 + i}.00"),
                "discountedTotalSet": _money(f"{(10 + i) * q}.00"),
                "taxable": True,
                "requiresShipping": True,
                "__parentId": gid,
            }
        )
        for i, q in enumerate(v.quantities)
    ]
    return _dump(order), items


@dataclass(frozen=True)
class CustomerVersion:
    customer_id: int
    version: int
    updated_at: datetime
    orders: int
    subscribed: bool


def customer_payload(v: CustomerVersion) -> dict[str, Any]:
    return {
        "id": v.customer_id,
        "email": "someone@example.com",
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": iso(v.updated_at),
        "state": "enabled",
        "verified_email": True,
        "tax_exempt": False,
        "tags": "",
        "orders_count": v.orders,
        "total_spent": f"{v.orders * 10}.00",
        "currency": "EUR",
        "last_order_id": 100 + v.orders if v.orders else None,
        "default_address": {"country_code": "DE", "province_code": None, "address1": "secret street"},
        "email_marketing_consent": {
            "state": "subscribed" if v.subscribed else "not_subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": iso(v.updated_at),
        },
        "sms_marketing_consent": None,
    }


def customer_line(v: CustomerVersion) -> bytes:
    return _dump(
        {
            "__typename": "Customer",
            "id": f"gid://shopify/Customer/{v.customer_id}",
            "createdAt": "2025-01-01T00:00:00Z",
            "updatedAt": iso(v.updated_at),
            "state": "ENABLED",
            "verifiedEmail": True,
            "taxExempt": False,
            "tags": [],
            "numberOfOrders": str(v.orders),
            "amountSpent": {"amount": f"{v.orders * 10}.00", "currencyCode": "EUR"},
            "lastOrder": {"id": f"gid://shopify/Order/{100 + v.orders}"} if v.orders else None,
            "emailMarketingConsent": {
                "marketingState": "SUBSCRIBED" if v.subscribed else "NOT_SUBSCRIBED",
                "marketingOptInLevel": "SINGLE_OPT_IN",
                "consentUpdatedAt": iso(v.updated_at),
            },
            "smsMarketingConsent": None,
            "defaultAddress": {"countryCodeV2": "DE", "provinceCode": None},
        }
    )


def _gzip_part(lines: list[bytes]) -> bytes:
    # several gzip members, as the download writes them
    half = len(lines) // 2
    return gzip.compress(b"".join(lines[:half])) + gzip.compress(b"".join(lines[half:]))


def put_run(
    s3: Any,
    bucket: str,
    run_id: str,
    lines: dict[str, list[bytes]],
    *,
    since: datetime | None,
    until: datetime,
    resource: str = "orders",
    rng: random.Random | None = None,
    complete: bool = True,
) -> dict[str, Any]:
    """A downloaded run: per folder (``order``, ``line_item``, ``customer``) two parts of shuffled lines."""
    rng = rng or random.Random(0)
    types: dict[str, Any] = {}
    for folder, folder_lines in lines.items():
        shuffled = list(folder_lines)
        if folder != "order" and folder != "customer":
            rng.shuffle(shuffled)  # children before, after and far from their parents, and out of order
        parts = []
        for number, chunk in enumerate((shuffled[: len(shuffled) // 2], shuffled[len(shuffled) // 2 :]), start=1):
            key = f"raw/shopify/bulk/{folder}/run={run_id}/part-{number:05d}.jsonl.gz"
            body = _gzip_part(chunk)
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            parts.append({"key": key, "objects": len(chunk), "bytes": len(body)})
        type_name = "".join(word.capitalize() for word in folder.split("_"))
        types[type_name] = {
            "folder": folder,
            "prefix": f"raw/shopify/bulk/{folder}/run={run_id}/",
            "objects": len(folder_lines),
            "parts": parts,
        }
    manifest = {
        "run_id": run_id,
        "resource": resource,
        "complete": complete,
        "partial": not complete,
        "window": {"since": iso(since) if since else None, "until": iso(until)},
        "types": types,
    }
    s3.put_object(
        Bucket=bucket, Key=f"metadata/shopify/bulk/run={run_id}/manifest.json", Body=json.dumps(manifest).encode()
    )
    return manifest


def run_lines(versions: list[OrderVersion]) -> dict[str, list[bytes]]:
    lines: dict[str, list[bytes]] = {"order": [], "line_item": []}
    for v in versions:
        order, items = order_lines(v)
        lines["order"].append(order)
        lines["line_item"].extend(items)
    return lines
