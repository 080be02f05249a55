"""The Shopify envelope: headers in every casing, identity fallbacks, reduced payloads, bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from common.errors import BadInput
from common.shopify import events as se
from common.shopify import values as check
from tests.unit.shopify import support


def test_classic_headers_are_read() -> None:
    event = se.parse_event(
        support.envelope("orders/updated", {"id": 1, "updated_at": "2024-01-01T00:00:00Z", "x": 1}, event_id="e-1")
    )
    assert (event.topic, event.entity, event.action) == ("orders/updated", "orders", se.Action.STATE)
    assert event.event_id == "e-1"
    assert event.shop_domain == support.SHOP
    assert event.api_version == "2026-10"
    # nanoseconds in the header are truncated to microseconds, in UTC
    assert event.triggered_at == datetime(2024, 9, 26, 6, 51, 35, 781200, tzinfo=UTC)
    assert event.lake_key() == "raw/shopify/webhooks/orders/topic=orders_updated/dt=2024-09-26/e-1.json"
    assert not event.reduced


def test_events_system_headers_lower_case_without_prefix_are_read() -> None:
    classic = se.parse_event(support.envelope("customers/update", {"id": 5, "a": 1}, event_id="same"))
    modern = se.parse_event(support.envelope("customers/update", {"id": 5, "a": 1}, event_id="same", lowercase=True))
    assert modern.headers["shopify-topic"] == "customers/update"
    assert (modern.topic, modern.event_id, modern.triggered_at, modern.shop_domain) == (
        classic.topic,
        classic.event_id,
        classic.triggered_at,
        classic.shop_domain,
    )


def test_mixed_header_casing_is_read() -> None:
    raw = support.envelope("products/update", {"id": 9, "updated_at": "2024-01-01T00:00:00Z"})
    metadata = raw["detail"]["metadata"]
    metadata["x-shopify-topic"] = metadata.pop("X-Shopify-Topic")
    metadata["SHOPIFY-EVENT-ID"] = metadata.pop("X-Shopify-Event-Id")
    event = se.parse_event(raw)
    assert event.topic == "products/update"
    assert event.event_id == metadata["SHOPIFY-EVENT-ID"]


def test_without_event_id_the_webhook_id_identifies_the_event() -> None:
    raw = support.envelope("orders/create", {"id": 1}, webhook_id="wh-42")
    del raw["detail"]["metadata"]["X-Shopify-Event-Id"]
    assert se.parse_event(raw).event_id == "wh-42"


def test_without_any_id_header_the_same_body_gets_the_same_digest() -> None:
    def bare(payload: dict[str, Any], envelope_id: str) -> dict[str, Any]:
        raw = support.envelope("products/update", payload)
        raw["id"] = envelope_id
        for name in ("X-Shopify-Event-Id", "X-Shopify-Webhook-Id"):
            del raw["detail"]["metadata"][name]
        return raw

    payload = {"id": 7, "title": "Shirt", "updated_at": "2024-01-01T00:00:00Z"}
    first = se.parse_event(bare(payload, "envelope-a"))
    redelivered = se.parse_event(bare(dict(payload), "envelope-b"))
    changed = se.parse_event(bare(dict(payload, title="Shirt 2"), "envelope-a"))
    assert first.event_id.startswith("h-")
    assert first.event_id == redelivered.event_id
    assert first.event_id != changed.event_id


def test_triggered_at_falls_back_to_updated_at_then_envelope_time() -> None:
    raw = support.envelope("orders/create", {"id": 1, "updated_at": "2023-05-01T10:00:00-04:00"})
    del raw["detail"]["metadata"]["X-Shopify-Triggered-At"]
    assert se.parse_event(raw).triggered_at == datetime(2023, 5, 1, 14, tzinfo=UTC)
    del raw["detail"]["payload"]["updated_at"]
    assert se.parse_event(raw).triggered_at == datetime(2024, 9, 26, 6, 51, 36, tzinfo=UTC)


@pytest.mark.parametrize(
    ("topic", "payload", "reduced"),
    [
        ("orders/updated", {"id": 820982911946154508}, True),
        ("orders/updated", {"id": 1, "admin_graphql_api_id": "gid://shopify/Order/1"}, True),
        ("orders/updated", {"id": 1, "name": "#1"}, False),
        ("orders/delete", {"id": 1}, False),  # a delete carries only the id by design
        ("products/delete", {"id": 1}, False),
        ("customers_marketing_consent/update", {"id": 1}, False),
        ("fulfillment_events/create", {"id": 1}, False),  # kept raw only; nothing to fetch
    ],
)
def test_reduced_payload_detection(topic: str, payload: dict[str, Any], reduced: bool) -> None:
    assert se.parse_event(support.envelope(topic, payload)).reduced is reduced


def _without_metadata() -> dict[str, Any]:
    raw = support.envelope("orders/create", {"id": 1})
    raw["detail"] = {"X-Shopify-Topic": "orders/create", "payload": {"id": 1}}  # headers flat in detail
    return raw


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("not json at all", "not-an-object"),
        (["a", "list"], "not-an-object"),
        ({"id": "x"}, "missing-detail"),
        ({"detail": "text"}, "missing-detail"),
        (_without_metadata(), "missing-metadata"),
        ({"detail": {"metadata": {"X-Shopify-Shop-Domain": "a"}, "payload": {}}}, "missing-topic"),
        (support.envelope("orders/exploded", {"id": 1}), "unknown-topic"),
        (support.envelope("bulk_operations/finish", {"admin_graphql_api_id": "x"}), "unknown-topic"),
        (support.envelope("ORDERS CREATE", {"id": 1}), "unknown-topic"),
        (support.envelope("orders/create", ["not", "an", "object"]), "missing-payload"),
        (support.envelope("orders/create", {"id": 1}, event_id="../../etc/passwd"), "bad-event-id"),
        (support.envelope("orders/create", {"id": 1}, triggered_at="yesterday"), "bad-timestamp"),
    ],
)
def test_bad_input_names_its_reason(event: Any, reason: str) -> None:
    with pytest.raises(BadInput) as caught:
        se.parse_event(event)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (820982911946154508, "820982911946154508"),
        ("820982911946154508", "820982911946154508"),
        ("gid://shopify/Order/820982911946154508", "820982911946154508"),
        (2**63 - 1, str(2**63 - 1)),
    ],
)
def test_ids_become_exact_strings(value: Any, expected: str) -> None:
    assert check.shopify_id(value) == expected


@pytest.mark.parametrize("value", [None, True, 0, -5, 1.5, "abc", "12a", "", 2**63, "gid://shopify/Order/x", {}])
def test_things_that_are_not_ids_are_bad_input(value: Any) -> None:
    with pytest.raises(BadInput) as caught:
        check.shopify_id(value)
    assert caught.value.reason == "bad-id"


def test_money_is_exact_and_prefers_shop_money() -> None:
    payload = {
        "total_price": "403.00",
        "total_price_set": {"shop_money": {"amount": "403.10", "currency_code": "CAD"}},
        "subtotal_price": 0.1,
    }
    assert check.money(payload, "total_price", "USD") == {"amount": Decimal("403.10"), "currency": "CAD"}
    assert check.money(payload, "subtotal_price", "USD") == {"amount": Decimal("0.1"), "currency": "USD"}
    assert check.money(payload, "total_tax", "USD") is None
    with pytest.raises(BadInput):
        check.money({"total_price": "free"}, "total_price", "USD")
    with pytest.raises(BadInput):
        check.money({"total_price": "NaN"}, "total_price", "USD")


def test_topic_table_and_rule_prefixes_agree() -> None:
    """Every topic a processor handles is one its rule routes to it, and no rule routes a foreign topic."""
    for topic, (entity, _) in se.TOPICS.items():
        owner = "carts" if entity in ("carts", "checkouts") else entity
        prefixes = se.PROCESSOR_TOPIC_PREFIXES[owner]
        assert topic.startswith(prefixes), topic
        others = [p for o, ps in se.PROCESSOR_TOPIC_PREFIXES.items() if o != owner for p in ps]
        assert not topic.startswith(tuple(others)), topic
