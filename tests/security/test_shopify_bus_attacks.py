"""Hostile input on the Shopify event bus: foreign sources, spoofed topics, malformed envelopes, oversized
details. On a custom bus any principal with ``events:PutEvents`` can put an event; on AWS's partner bus only
Shopify can use the partner source, but a processor can also be invoked directly (redrive, replay, a role
with ``lambda:InvokeFunction``). Two layers answer: the rules match only the configured partner event
source, and a processor quarantines whatever reaches it from anywhere else.

Each attack asserts its status (the rule does not route it, or the processor quarantines it with the
reason), that no state changed (hot stores and raw lake exactly as before; the only new object is the
verbatim quarantine copy), and that the legitimate traffic sent around it was all processed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto.events.models import EventPattern

from common.shopify import events as se
from platformctl.manifest import REPO_ROOT
from platformctl.templates import load_template
from tests.unit.shopify import support

ORDER_ID = 450789469
CUSTOMER_ID = 207119551
TEMPLATE = REPO_ROOT / "infrastructure" / "shopify" / "eventbridge-rules.yaml"
RULE_OF = {"order": "OrdersRule", "customer": "CustomersRule", "cart": "CartsRule"}


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[support.CachedSession]:
    with support.moto_shop(monkeypatch) as session:
        yield session


def deliver(name: str, event: Any) -> dict[str, str]:
    """A processor's handler as Lambda invokes it (JSON in, JSON out)."""
    result = support.processor(name).handler(json.loads(json.dumps(event)), support.Context())
    return dict(result)


def rule_routes(processor: str, event: Any) -> bool:
    """Whether the deployed rule of ``processor`` (local parameters) would deliver ``event``."""
    pattern = load_template(TEMPLATE)["Resources"][RULE_OF[processor]]["Properties"]["EventPattern"]
    text = json.dumps(pattern).replace(json.dumps({"Ref": "PartnerEventSourceName"}), json.dumps(support.EVENT_SOURCE))
    return isinstance(event, dict) and bool(EventPattern.load(text).matches_event(event))


def _order(**changes: Any) -> dict[str, Any]:
    order = copy.deepcopy(support.copied_fixture("order__shopify-python-api.json")["order"])
    order.update(id=ORDER_ID, cart_token=None, checkout_token=None, **changes)
    return order


def _state(session: Any) -> dict[str, Any]:
    """Everything an event could change: the three tables and the raw lake (quarantine apart)."""
    objects = support.lake_objects(session)
    return {
        "tables": {t: support.table_items(session, t) for t in support.TABLES},
        "raw": {k: v for k, v in objects.items() if not k.startswith("quarantine/")},
    }


def _quarantined(session: Any) -> dict[str, bytes]:
    return support.lake_objects(session, "quarantine/shopify/")


@dataclass(frozen=True)
class Attack:
    processor: str
    reason: str
    event: Callable[[], Any]
    routed: bool = False  # whether the rule would deliver it (same source; the processor must refuse it)


def _foreign(topic: str, payload: dict[str, Any], source: Any) -> Callable[[], Any]:
    def build() -> Any:
        event = support.envelope(topic, payload, triggered_at="2030-01-01T00:00:00Z")
        if source is _MISSING:
            del event["source"]
        else:
            event["source"] = source
        return event

    return build


def _spoof(topic: str, payload: Any, **change: Any) -> Callable[[], Any]:
    def build() -> Any:
        event = support.envelope(topic, payload, triggered_at="2030-01-01T00:00:00Z")
        for path, value in change.items():
            target = event
            *parents, last = path.split("__")
            for part in parents:
                target = target[part]
            if value is _MISSING:
                del target[last]
            else:
                target[last] = value
        return event

    return build


_MISSING = object()
DELETE = {"id": ORDER_ID}
HUGE = "x" * (se.MAX_EVENT_BYTES + 1)

ATTACKS: dict[str, Attack] = {
    # -- foreign sources: never routed, and quarantined if invoked directly (no tombstone)
    "delete-from-another-partner-app": Attack(
        "order", "foreign-source", _foreign("orders/delete", DELETE, "aws.partner/shopify.com/7654321/other-app")
    ),
    "delete-from-a-longer-source": Attack(
        "order", "foreign-source", _foreign("orders/delete", DELETE, support.EVENT_SOURCE + "-evil")
    ),
    "delete-from-an-upper-cased-source": Attack(
        "order", "foreign-source", _foreign("orders/delete", DELETE, support.EVENT_SOURCE.upper())
    ),
    "delete-without-a-source": Attack("order", "foreign-source", _foreign("orders/delete", DELETE, _MISSING)),
    # PutEvents takes only a string source; a direct invocation can send a list, which an EventBridge
    # pattern (and moto's) matches element-wise: only the processor's exact comparison stops it.
    "delete-with-the-source-in-a-list": Attack(
        "order", "foreign-source", _foreign("orders/delete", DELETE, [support.EVENT_SOURCE]), routed=True
    ),
    "delete-with-a-null-source": Attack("order", "foreign-source", _foreign("orders/delete", DELETE, None)),
    "newer-order-from-a-custom-source": Attack(
        "order",
        "foreign-source",
        _foreign("orders/updated", _order(updated_at="2030-01-01T00:00:00Z", total_price="0.01"), "custom.attacker"),
    ),
    "customer-delete-from-a-custom-source": Attack(
        "customer", "foreign-source", _foreign("customers/delete", {"id": CUSTOMER_ID}, "shopify.com/webhooks")
    ),
    "checkout-delete-from-a-custom-source": Attack(
        "cart", "foreign-source", _foreign("checkouts/delete", {"id": 1, "token": "abc"}, "aws.events")
    ),
    # -- spoofed topics, with the right source
    "delete-sent-to-the-customer-processor": Attack(
        "customer", "unexpected-topic", _spoof("orders/delete", DELETE), routed=False
    ),
    "upper-cased-topic": Attack("order", "unknown-topic", _spoof("Orders/Delete", DELETE), routed=False),
    "topic-with-a-path": Attack("order", "unknown-topic", _spoof("orders/../delete", DELETE), routed=True),
    "two-spellings-of-the-topic-header": Attack(
        "order",
        "conflicting-headers",
        _spoof("orders/updated", _order(), **{"detail__metadata__shopify-topic": "orders/delete"}),
        routed=True,
    ),
    "event-id-naming-another-object": Attack(
        "order",
        "bad-event-id",
        _spoof("orders/delete", DELETE, **{"detail__metadata__X-Shopify-Event-Id": "../../orders/evt-create"}),
        routed=True,
    ),
    "order-id-that-is-not-an-id": Attack("order", "bad-id", _spoof("orders/delete", {"id": "450789469 OR 1=1"}), True),
    # -- malformed envelopes
    "event-that-is-a-list": Attack("order", "not-an-object", lambda: [support.envelope("orders/delete", DELETE)]),
    "detail-that-is-a-string": Attack("order", "missing-detail", _spoof("orders/delete", DELETE, detail="{}")),
    "no-metadata": Attack("order", "missing-metadata", _spoof("orders/delete", DELETE, detail__metadata=_MISSING)),
    "payload-that-is-a-list": Attack(
        "order", "missing-payload", _spoof("orders/delete", DELETE, detail__payload=[DELETE]), routed=True
    ),
    "triggered-at-that-is-not-a-time": Attack(
        "order",
        "bad-timestamp",
        _spoof("orders/delete", DELETE, **{"detail__metadata__X-Shopify-Triggered-At": "yesterday"}),
        routed=True,
    ),
    # -- oversized details: larger than EventBridge delivers, so not from the bus
    "oversized-order": Attack(
        "order", "oversized-event", _spoof("orders/updated", _order(note=HUGE, updated_at="2030-01-01T00:00:00Z")), True
    ),
    "oversized-metadata": Attack(
        "order", "oversized-event", _spoof("orders/delete", DELETE, **{"detail__metadata__X-Padding": HUGE}), True
    ),
}


def _legit_before() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("order", support.envelope("orders/create", _order(), event_id="legit-create")),
        (
            "customer",
            support.envelope(
                "customers/create", support.copied_fixture("customer__shopify-python-api.json")["customer"]
            ),
        ),
    ]


def _legit_after() -> list[tuple[str, dict[str, Any]]]:
    later = _order(updated_at="2012-09-01T00:00:00-04:00", financial_status="refunded")
    return [("order", support.envelope("orders/updated", later, event_id="legit-update"))]


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_an_attack_on_the_bus_changes_nothing_and_legitimate_traffic_flows(
    shop: support.CachedSession, name: str
) -> None:
    attack = ATTACKS[name]
    for processor, event in _legit_before():
        assert deliver(processor, event)["outcome"] == "written"
    before = _state(shop)

    event = attack.event()
    assert rule_routes(attack.processor, event) is attack.routed, "the rule's verdict"
    result = deliver(attack.processor, event)

    assert (result["outcome"], result.get("reason")) == ("quarantined", attack.reason), result
    assert _state(shop) == before, "no table item and no raw object changed"
    [(key, body)] = _quarantined(shop).items()
    assert f"/{attack.reason}/" in key
    assert json.loads(body) == json.loads(json.dumps(event)), "kept verbatim for inspection"

    for processor, legit in _legit_after():
        assert deliver(processor, legit)["outcome"] == "written"
    [order] = [i for i in support.table_items(shop, "orders") if i["record"] == "ORDER"]
    assert order["financial_status"] == "refunded"
    assert "deleted" not in order, "nothing but Shopify's own orders/delete tombstones an order"
    assert order["source_event_id"] == "legit-update"
    assert len(support.lake_objects(shop, "raw/shopify/webhooks/")) == 3, "every legitimate event is in raw"


def test_the_rules_route_the_legitimate_events_of_the_attacks() -> None:
    """The positive control of rule_routes: the same envelopes from the configured source are routed."""
    for processor, event in [*_legit_before(), *_legit_after()]:
        assert rule_routes(processor, event)
    assert rule_routes("order", support.envelope("orders/delete", DELETE))


def test_only_the_partner_source_tombstones_and_a_later_update_does_not_revive(shop: support.CachedSession) -> None:
    """Shopify never undeletes an order: after its orders/delete the tombstone stays whatever follows. A
    later version is still applied under it (a late delivery of an earlier version must converge to the
    same item as in-order delivery), and stays raw in the lake."""
    assert deliver("order", support.envelope("orders/create", _order(), event_id="c"))["outcome"] == "written"
    foreign = support.envelope("orders/delete", DELETE, source="custom.attacker")
    assert deliver("order", foreign)["reason"] == "foreign-source"
    [order] = support.table_items(shop, "orders")
    assert "deleted" not in order
    delete = support.envelope("orders/delete", DELETE, event_id="d", triggered_at="2012-09-01T00:00:00Z")
    assert deliver("order", delete)["outcome"] == "tombstoned"
    newer = _order(updated_at="2013-01-01T00:00:00Z", financial_status="paid")
    assert deliver("order", support.envelope("orders/updated", newer, event_id="u"))["outcome"] == "written"
    [order] = support.table_items(shop, "orders")
    assert (order["deleted"], order["deleted_by_event_id"]) == (True, "d"), "the tombstone stays"
    assert order["source_event_id"] == "u"
    assert any(k.endswith("/u.json") for k in support.lake_objects(shop, "raw/shopify/webhooks/orders/"))
