"""The simulator's ``export_stored`` behaviour: the orders a test or the demo stored (REST-shaped, as
their webhooks carried them) are in the bulk export of their window, as Shopify writes bulk lines, and
the reconciliation's normaliser reads them back as the processors read the webhook."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import platformctl.simulators.shopify_resources  # noqa: F401 - registers STORED_NODES
from common.shopify.bulk_queries import bulk_query
from common.shopify.order_attributes import order_attributes
from common.shopify.resources import order_from_graphql
from platformctl.manifest import REPO_ROOT
from platformctl.simulators.shopify_admin import SimulatorState, bulk_objects

SINCE = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = datetime(2026, 3, 2, tzinfo=UTC)


def rest_order(order_id: int, updated_at: str) -> dict[str, Any]:
    path = REPO_ROOT / "tests" / "fixtures" / "shopify" / "order__shopify-python-api.json"
    order = copy.deepcopy(json.loads(path.read_text(encoding="utf-8"))["order"])
    order.update(id=order_id, updated_at=updated_at, financial_status="paid", cart_token="cart-1")
    order["line_items"] = [dict(order["line_items"][0], id=order_id * 10 + i, quantity=i + 1) for i in range(2)]
    return dict(order)


def export(state: SimulatorState, query: str) -> list[dict[str, Any]]:
    operation = state.new_operation(query, "orders")
    assert operation.ready.wait(10)
    assert operation.result is not None, operation.result_error
    lines = operation.result.path.read_bytes().splitlines()
    assert operation.result.object_count == len(lines)
    return [json.loads(line) for line in lines]


def test_stored_orders_in_the_window_are_exported_with_their_line_items_as_children() -> None:
    state = SimulatorState({"orders": 16, "export_stored": True})
    try:
        inside, outside = (
            rest_order(5_600_000_001, "2026-03-01T10:00:00.000Z"),
            rest_order(5_600_000_002, "2026-03-03T00:00:00Z"),
        )
        state.add_resources("orders", [inside, outside])
        objects = export(state, bulk_query("orders", SINCE, UNTIL))
        roots = [o for o in objects if "__parentId" not in o]
        assert [r["id"] for r in roots] == ["gid://shopify/Order/5600000001"]  # the generated shop is older
        children = [o for o in objects if "__parentId" in o]
        assert [c["id"] for c in children] == [
            "gid://shopify/LineItem/56000000010",
            "gid://shopify/LineItem/56000000011",
        ]
        assert {c["__parentId"] for c in children} == {roots[0]["id"]}
        assert "lineItems" not in roots[0]  # projected onto the query: connections are lines of their own
        assert "legacyResourceId" not in roots[0]

        # What the reconciliation does with the lines: the same order item as the webhook's payload.
        node = dict(roots[0], lineItems=children)
        assert order_attributes(order_from_graphql(_with_legacy_ids(node))) == order_attributes(inside)
    finally:
        state.cleanup()


def test_without_the_behaviour_or_outside_the_window_nothing_stored_is_exported() -> None:
    state = SimulatorState({"orders": 16})
    try:
        state.add_resources("orders", rest_order(5_600_000_001, "2026-03-01T10:00:00Z"))
        generated = export(state, bulk_query("orders", None, UNTIL))
        assert len([o for o in generated if "__parentId" not in o]) == 16
        state.configure(export_stored=True)
        assert len([o for o in export(state, bulk_query("orders", None, UNTIL)) if "__parentId" not in o]) == 17
        assert export(state, bulk_query("orders", UNTIL, datetime(2026, 3, 3, tzinfo=UTC))) == []
    finally:
        state.cleanup()


def test_bulk_objects_follow_the_query_selection() -> None:
    node = {"__typename": "Order", "id": "gid://shopify/Order/1", "name": "#1", "extra": 1, "lineItems": {"nodes": []}}
    query = '{ orders(query: "x") { edges { node { __typename id name lineItems { edges { node { id } } } } } } }'
    assert bulk_objects(node, query) == [{"__typename": "Order", "id": "gid://shopify/Order/1", "name": "#1"}]


def _with_legacy_ids(node: Any) -> Any:
    from common.shopify.reconcile import _with_legacy_ids as add

    return add(node)
