"""A reduced payload's fetched order (``raw/shopify/fetched/orders/...``, written by the order processor) is
indexed under the person's subjects like the webhook it completes, so the privacy workflow, which finds what
to erase through the index, covers it; and it holds nothing to redact (the Admin API query asks for no
contact details)."""

from __future__ import annotations

import copy
import json
from typing import Any

import platformctl.simulators.shopify_resources as simulated
from common.privacy.person import Person
from common.privacy.redact import redact_object
from common.shopify import events as se
from common.shopify.resources import order_from_graphql
from platformctl.manifest import REPO_ROOT

from .conftest import s3_event

ORDER = json.loads((REPO_ROOT / "tests" / "fixtures" / "shopify" / "order__shopify-python-api.json").read_text())[
    "order"
] | {"checkout_token": "b1946ac92492d2347c6235b4d2611184"}
REDUCED = {
    "version": "0",
    "id": "0f2a6a33-reduced",
    "detail-type": "shopifyWebhook",
    "source": "aws.partner/shopify.com/1234567/acme-local",
    "account": "123456789012",
    "time": "2026-12-05T12:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {
        "metadata": {
            "X-Shopify-Topic": "orders/updated",
            "X-Shopify-Event-Id": "evt-reduced",
            "X-Shopify-Triggered-At": "2026-12-05T11:59:59Z",
            "X-Shopify-Shop-Domain": "example.myshopify.com",
        },
        "payload": {"id": ORDER["id"]},
    },
}


def _fetched() -> tuple[str, bytes]:
    """The key and body the order processor writes for REDUCED, by its own code."""
    event = se.parse_event(REDUCED).with_payload(order_from_graphql(simulated.order_node(copy.deepcopy(ORDER))))
    return event.fetched_key(), se.verbatim(event.completed())


def test_a_fetched_order_is_indexed_under_the_orders_customers_and_checkouts_subjects(
    lake: Any, make_indexer: Any
) -> None:
    key, body = _fetched()
    assert key == "raw/shopify/fetched/orders/topic=orders_updated/dt=2026-12-05/evt-reduced.json"
    lake.put(key, body)

    outcome = make_indexer().handle(s3_event(key))

    assert outcome["status"] == "indexed"
    assert lake.subjects_of(key) == {
        f"shopify-order:{ORDER['id']}",
        f"shopify-customer:{ORDER['customer']['id']}",
        f"checkout:{ORDER['cart_token']}",
        f"checkout:{ORDER['checkout_token']}",
    }


def test_a_fetched_order_holds_nothing_to_redact(digester: Any) -> None:
    key, body = _fetched()
    person = Person(subjects={f"shopify-customer:{ORDER['customer']['id']}", f"shopify-order:{ORDER['id']}"})
    redacted, redaction = redact_object(key, body, person, digester)
    assert (redacted, redaction.changed) == (body, False)
    for personal in (ORDER["email"], ORDER["billing_address"]["address1"], ORDER["customer"]["first_name"]):
        assert personal.encode() not in body
