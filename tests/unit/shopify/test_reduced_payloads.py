"""Reduced payloads: the full resource fetched from the (simulated) Admin GraphQL API with the token from
ShopifyAdminApiSecret, normalised to the REST shape, and stored exactly as the full webhook would be."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

import platformctl.simulators.shopify_resources as simulated
from common.errors import TransientError
from common.shopify import events as se
from common.shopify import resources
from platformctl.simulators.shopify_admin import ShopifyAdminSimulator
from tests.unit.shopify import support


def _rest(name: str) -> dict[str, Any]:
    data = support.copied_fixture(f"{name}__shopify-python-api.json")
    return copy.deepcopy(data[name])


# (processor, REST fixture, simulator resource type, topic, normaliser of the GraphQL answer, REST -> GraphQL)
KINDS = {
    "order": ("order", "orders", "orders/updated", resources.order_from_graphql, simulated.order_node),
    "customer": ("customer", "customers", "customers/update", resources.customer_from_graphql, simulated.customer_node),
    "product": ("product", "products", "products/update", resources.product_from_graphql, simulated.product_node),
    "fulfillment": (
        "fulfillment",
        "fulfillments",
        "fulfillments/update",
        resources.fulfillment_from_graphql,
        simulated.fulfillment_node,
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_graphql_normalisation_prepares_the_same_state_as_rest(
    aws: Any, processors: Callable[[str], support.Function], kind: str
) -> None:
    """REST sample -> simulator's GraphQL shape -> the client's REST shape: the processor stores the same."""
    name, _, topic, normalise, to_graphql = KINDS[kind]
    rest = _rest(name)
    module = processors(kind)
    direct = module.prepare(se.parse_event(support.envelope(topic, rest, event_id="e")))
    fetched = module.prepare(se.parse_event(support.envelope(topic, normalise(to_graphql(rest)), event_id="e")))
    assert fetched == direct


@pytest.mark.parametrize(
    ("display_status", "rest_status"),
    [
        ("FULFILLED", "fulfilled"),
        ("PARTIALLY_FULFILLED", "partial"),
        ("RESTOCKED", "restocked"),
        ("UNFULFILLED", None),
        ("FULFILLMENT_NOT_REQUIRED", None),  # 2026-10: cancelled or refunded before anything shipped
        ("IN_PROGRESS", None),
        ("ON_HOLD", None),
        ("REQUEST_DECLINED", None),
    ],
)
def test_an_orders_fulfillment_status_reads_as_the_webhook_has_it(display_status: str, rest_status: str | None) -> None:
    node = simulated.order_node(_rest("order"))
    node["displayFulfillmentStatus"] = display_status
    assert resources.order_from_graphql(node)["fulfillment_status"] == rest_status


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_reduced_payload_is_fetched_and_stored_like_the_full_one(
    aws: Any, simulator: ShopifyAdminSimulator, deliver: Callable[[str, Any], dict[str, str]], kind: str
) -> None:
    name, resource_type, topic, _, _ = KINDS[kind]
    rest = _rest(name)
    simulator.state.add_resources(resource_type, rest)
    reduced = support.envelope(topic, {"id": rest["id"]}, event_id="evt-reduced")

    assert deliver(kind, reduced)["outcome"] in {"written", "snapshot"}
    assert simulator.state.counters[f"lookup:{resource_type}"] == 1
    # the lake keeps the event as it came (reduced); the store holds the full resource
    [raw_key] = support.lake_objects(aws, "raw/shopify/webhooks/")
    assert json.loads(support.lake_objects(aws, "raw/shopify/webhooks/")[raw_key]) == reduced
    if kind == "order":
        [item] = support.table_items(aws, "orders")
        assert (item["order_id"], item["order_number"], item["customer_id"]) == ("450789469", "1001", "207119551")
        assert item["cart_token"] == "68778783ad298f1c80c3bafcddeea02f"
        assert item["source_event_id"] == "evt-reduced"


def test_a_resource_the_api_no_longer_has_is_quarantined(
    aws: Any, simulator: ShopifyAdminSimulator, deliver: Callable[[str, Any], dict[str, str]]
) -> None:
    result = deliver("order", support.envelope("orders/updated", {"id": 999}))
    assert (result["outcome"], result["reason"]) == ("quarantined", "resource-not-found")
    assert support.table_items(aws, "orders") == []


def test_an_event_of_another_shop_is_quarantined(
    aws: Any, simulator: ShopifyAdminSimulator, deliver: Callable[[str, Any], dict[str, str]]
) -> None:
    result = deliver("order", support.envelope("orders/updated", {"id": 1}, shop="other.myshopify.com"))
    assert (result["outcome"], result["reason"]) == ("quarantined", "unknown-shop")


def test_shopify_failing_raises_a_transient_error_for_lambda_to_retry(
    aws: Any, simulator: ShopifyAdminSimulator, processors: Callable[[str], support.Function]
) -> None:
    simulator.state.add_resources("orders", _rest("order"))
    simulator.state.configure(http_error={"status": 503, "times": 10})
    event = support.envelope("orders/updated", {"id": 450789469}, event_id="evt-503")
    with pytest.raises(TransientError):
        processors("order").handler(event, support.Context())
    assert support.table_items(aws, "orders") == []
    assert len(support.lake_objects(aws, "raw/")) == 1  # kept before the fetch; the retry rewrites it
    simulator.state.configure(http_error=None)
    assert processors("order").handler(event, support.Context())["outcome"] == "written"


def test_the_token_comes_from_the_secret(
    aws: Any, simulator: ShopifyAdminSimulator, deliver: Callable[[str, Any], dict[str, str]]
) -> None:
    simulator.state.access_tokens.clear()
    simulator.state.access_tokens.add("another-token")
    simulator.state.add_resources("orders", _rest("order"))
    with pytest.raises(Exception, match="refused the access token"):
        deliver("order", support.envelope("orders/updated", {"id": 450789469}))
