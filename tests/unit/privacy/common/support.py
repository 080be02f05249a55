"""Helpers of the privacy library's tests: the real payloads (copied MIT ones from tests/fixtures, the
others read from ../shared and skipped without it), envelopes, and what a document says about a person."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from common.privacy.digest import SubjectDigester
from tests.conftest import COPIED_FIXTURES, load_shared_json

DIGESTER = SubjectDigester(b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
OTHER_DIGESTER = SubjectDigester(b"another-key-another-key-another-key-another-key-another-key-1234")


def copied(relative: str) -> Any:
    """A file of tests/fixtures (MIT / MIT-0, copied byte for byte from ../shared)."""
    return json.loads((COPIED_FIXTURES / relative).read_text(encoding="utf-8"))


def shared(relative: str) -> Any:
    """A file of ../shared/fixtures/real that may not be copied (licence): skipped when absent."""
    return load_shared_json(relative)


def envelope(topic: str, payload: Any, *, event_id: str = "e5b7a6f2-0000-4000-8000-000000000001") -> dict[str, Any]:
    """An EventBridge event as Shopify's partner event source delivers a webhook."""
    return {
        "version": "0",
        "id": f"envelope-{event_id}",
        "detail-type": "shopifyWebhook",
        "source": "aws.partner/shopify.com/1234567/acme",
        "account": "123456789012",
        "time": "2024-09-26T06:51:35Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "metadata": {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Shop-Domain": "acme.myshopify.com",
                "X-Shopify-API-Version": "2026-01",
                "X-Shopify-Webhook-Id": f"wh-{event_id}",
                "X-Shopify-Event-Id": event_id,
                "X-Shopify-Triggered-At": "2024-09-26T06:51:35.781200288Z",
            },
            "payload": payload,
        },
    }


def email(value: str) -> str:
    subject = DIGESTER.email(value)
    assert subject is not None
    return subject


def phone(value: str) -> str:
    subject = DIGESTER.phone(value)
    assert subject is not None
    return subject


# What a document says about people, to search for after redaction (the merchant's own places aside).
PERSONAL_LEAVES = frozenset(
    {
        "first_name", "last_name", "firstName", "lastName", "email", "contact_email", "customer_email",
        "emailAddress", "email_address", "phone", "phoneNumber", "sms_marketing_phone", "address1", "address2",
        "zip", "displayName",
    }
)  # fmt: skip
ADDRESS_OBJECTS = frozenset({"billing_address", "shipping_address", "default_address", "destination"})
MERCHANT = frozenset({"origin_address", "assignedLocation"})


def personal_values(doc: Any) -> set[str]:
    """Every name, e-mail, phone, street and zip in the document, and the full names."""
    found: set[str] = set()

    def visit(node: Any, in_address: bool) -> None:
        if isinstance(node, dict):
            first, last = node.get("first_name") or node.get("firstName"), node.get("last_name") or node.get("lastName")
            if isinstance(first, str) and isinstance(last, str):
                found.add(f"{first} {last}")
            for key, value in node.items():
                if key in MERCHANT:
                    continue
                if isinstance(value, str | int) and not isinstance(value, bool) and key in PERSONAL_LEAVES:
                    found.add(str(value))
                elif in_address and key == "name" and isinstance(value, str):
                    found.add(value)
                else:
                    visit(value, key in ADDRESS_OBJECTS or key in {"addresses", "shippingAddress", "billingAddress"})
        elif isinstance(node, list):
            for item in node:
                visit(item, in_address)

    visit(doc, False)
    return {value.strip() for value in found if len(value.strip()) >= 3}


MONEY_AND_STATE = frozenset(
    {
        "id", "order_id", "customer_id", "product_id", "variant_id", "admin_graphql_api_id", "__parentId",
        "total_price", "subtotal_price", "total_tax", "total_discounts", "total_line_items_price", "price",
        "amount", "currency_code", "currencyCode", "currency", "financial_status", "fulfillment_status", "status",
        "displayFinancialStatus", "displayFulfillmentStatus", "created_at", "createdAt", "updated_at",
        "processed_at", "cancelled_at", "title", "quantity", "sku", "order_number", "token", "cart_token",
        "checkout_token", "external_customer_id", "external_order_id", "ecommerce", "tags",
    }
)  # fmt: skip


def kept_leaves(doc: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every id, money, status, date and product field outside the address objects and
    the note attributes (free text, emptied), the root's ``name`` (``#1001``) and every line item's ``name``."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            here = f"{path}.{key}" if path else key
            if key == "note_attributes":
                continue
            if key in ADDRESS_OBJECTS or key in {"addresses", "shippingAddress", "billingAddress", "customer"}:
                if key == "customer" and isinstance(value, dict):
                    yield f"{here}.id", value.get("id")
                continue
            if key in MONEY_AND_STATE or key.endswith(("_set", "Set")) or (key == "name" and "address" not in here):
                yield here, value
            else:
                yield from kept_leaves(value, here)
    elif isinstance(doc, list):
        for index, item in enumerate(doc):
            yield from kept_leaves(item, f"{path}[{index}]")


def text(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False).lower()
