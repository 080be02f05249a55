"""Every real Shopify sample (../shared/fixtures/real/shopify, and the copies in tests/fixtures/shopify)
through the processor that owns it, with the outcome each one must have."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from common.errors import BadInput
from common.shopify import events as se
from tests.conftest import load_shared_json
from tests.unit.shopify import support

Deliver = Callable[[str, Any], dict[str, str]]
PROCESSOR_OF = {
    "orders": "order",
    "fulfillments": "fulfillment",
    "customers": "customer",
    "products": "product",
    "carts": "cart",
    "checkouts": "cart",
}

# shopify/eventbridge/: complete EventBridge events -> (processor, outcome, quarantine reason or None)
EVENTBRIDGE = {
    "fulfillment_events_create__synqsell.json": ("fulfillment", "raw-only", None),
    "fulfillment_orders_order_routing_complete__synqsell.json": ("fulfillment", "raw-only", None),
    # mislabelled at the source: the topic header says fulfillment_events/create, so it is kept raw
    "fulfillments_create__synqsell.json": ("fulfillment", "raw-only", None),
    "fulfillments_update__synqsell.json": ("fulfillment", "written", None),
    # headers flat in detail, no detail.metadata: not Shopify's envelope
    "orders_cancelled__synqsell.json": ("order", "quarantined", "missing-metadata"),
    "products_delete__synqsell.json": ("product", "quarantined", "missing-metadata"),
    "products_update__aws-quickstart.json": ("product", "snapshot", None),
}
# shopify/webhooks/: REST bodies -> the topic they are delivered under and the expected outcome
WEBHOOKS = {
    "orders_create__hassantahir-2022-04.json": ("orders/create", "written"),
    "customers_create__hassantahir-2022-04.json": ("customers/create", "written"),
    "fulfillments_create__hassantahir-2022-04.json": ("fulfillments/create", "written"),
    "products_update__hassantahir-2022-04.json": ("products/update", "snapshot"),
    "carts_create__hassantahir-2022-04.json": ("carts/create", "written"),
    "checkouts_create__hassantahir-2022-04.json": ("checkouts/create", "written"),
}
# shopify/rest/ (copied: MIT): REST responses wrapped in their resource key
REST = {
    "order__shopify-python-api.json": ("order", "orders/updated"),
    "customer__shopify-python-api.json": ("customer", "customers/update"),
    "fulfillment__shopify-python-api.json": ("fulfillment", "fulfillments/update"),
    "product__shopify-python-api.json": ("product", "products/update"),
}


def test_the_expectations_cover_every_shared_sample() -> None:
    from tests.conftest import SHARED_FIXTURES

    root = SHARED_FIXTURES / "shopify"
    if not root.is_dir():
        pytest.skip("../shared/fixtures/real is not present")
    assert sorted(p.name for p in (root / "eventbridge").glob("*.json")) == sorted(EVENTBRIDGE)
    covered = set(WEBHOOKS) | {"bulk_operations_finish__shopify-docs.json"}
    assert sorted(p.name for p in (root / "webhooks").glob("*.json")) == sorted(covered)
    assert sorted(p.name for p in (root / "rest").glob("*.json")) == sorted(
        [*REST, "checkouts__shopify-python-api.json"]
    )


@pytest.mark.parametrize("name", sorted(EVENTBRIDGE))
def test_eventbridge_samples(aws: Any, deliver: Deliver, name: str) -> None:
    processor, outcome, reason = EVENTBRIDGE[name]
    if name == "products_update__aws-quickstart.json":
        event = support.copied_fixture(name)  # MIT-0: copied into the repository
    else:
        event = load_shared_json(f"shopify/eventbridge/{name}")
    # Each sample names its own app's source (aws.partner/shopify.com/0000000/..., or a made-up one):
    # as it came, it is foreign to this stack; on this stack's bus it would carry the configured source.
    assert deliver(processor, event) == {**deliver(processor, event), "reason": "foreign-source"}
    event = {**event, "source": support.EVENT_SOURCE}
    support.clear_lake(aws)
    result = deliver(processor, event)
    assert result["outcome"] == outcome, result
    objects = support.lake_objects(aws)
    if reason is not None:
        assert result["reason"] == reason
        [key] = objects
        assert key.startswith("quarantine/shopify/")
        assert f"/{reason}/" in key
        assert json.loads(objects[key]) == event
        return
    raw = [k for k in objects if k.startswith("raw/shopify/webhooks/")]
    assert len(raw) == 1
    assert json.loads(objects[raw[0]]) == event
    assert raw[0].endswith(f"/{result['event_id']}.json")


def test_a_sample_without_event_or_webhook_id_is_still_keyed_deterministically(aws: Any, deliver: Deliver) -> None:
    event = {**support.copied_fixture("products_update__aws-quickstart.json"), "source": support.EVENT_SOURCE}
    first = deliver("product", event)
    again = deliver("product", json.loads(json.dumps(event)))
    assert first["event_id"] == again["event_id"]
    assert first["event_id"].startswith("h-")
    # no X-Shopify-Triggered-At: the partition is the product's updated_at date
    [key] = support.lake_objects(aws, "raw/")
    assert "/topic=products_update/dt=2020-06-10/" in key


@pytest.mark.parametrize("name", sorted(WEBHOOKS))
def test_webhook_bodies(aws: Any, deliver: Deliver, name: str) -> None:
    topic, outcome = WEBHOOKS[name]
    payload = load_shared_json(f"shopify/webhooks/{name}")
    entity = se.topic_info(topic)[0]
    result = deliver(PROCESSOR_OF[entity], support.envelope(topic, payload))
    assert result["outcome"] == outcome, result
    assert len(support.lake_objects(aws, f"raw/shopify/webhooks/{entity}/")) == 1


def test_webhook_sample_values(aws: Any, deliver: Deliver) -> None:
    """Spot checks on the richest sample: ids stay exact 18-digit strings, tokens and statuses kept."""
    order = load_shared_json("shopify/webhooks/orders_create__hassantahir-2022-04.json")
    deliver("order", support.envelope("orders/create", order))
    [item] = support.table_items(aws, "orders")
    assert item["order_id"] == "820982911946154508"
    assert item["customer_id"] == "115310627314723954"
    assert [li["line_item_id"] for li in item["line_items"]] == ["866550311766439020", "141249953214522974"]
    assert (item["cancelled"], item["cancel_reason"], item["financial_status"]) == (True, "customer", "voided")


def test_the_bulk_finish_webhook_is_no_processors_topic() -> None:
    payload = load_shared_json("shopify/webhooks/bulk_operations_finish__shopify-docs.json")
    with pytest.raises(BadInput) as caught:
        se.parse_event(support.envelope("bulk_operations/finish", payload))
    assert caught.value.reason == "unknown-topic"


@pytest.mark.parametrize("name", sorted(REST))
def test_rest_resources_in_an_envelope(aws: Any, deliver: Deliver, name: str) -> None:
    key, topic = REST[name]
    payload = support.copied_fixture(name)[key]
    entity = se.topic_info(topic)[0]
    result = deliver(PROCESSOR_OF[entity], support.envelope(topic, payload))
    assert result["outcome"] in {"written", "snapshot"}, result


def test_rest_checkouts(aws: Any, deliver: Deliver) -> None:
    checkouts = support.copied_fixture("checkouts__shopify-python-api.json")["checkouts"]
    outcomes = [deliver("cart", support.envelope("checkouts/update", c))["outcome"] for c in checkouts]
    assert outcomes == ["written"] * len(checkouts)
    tokens = {i["checkout_token"] for i in support.table_items(aws, "abandoned_carts")}
    assert tokens == {c["token"] for c in checkouts}
