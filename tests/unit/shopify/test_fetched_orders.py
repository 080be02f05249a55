"""A reduced payload's order, fetched from the (simulated) Admin API, is kept in the lake beside its raw event
(``raw/shopify/fetched/orders/...``): the delivered event with the fetched order as its payload, one object
per event id whatever the redeliveries, written only when the order is accepted, allowed by the role."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

import platformctl.simulators.shopify_resources as simulated
from common.shopify import events as se
from common.shopify import resources
from platformctl.manifest import REPO_ROOT
from platformctl.simulators.shopify_admin import ShopifyAdminSimulator
from platformctl.templates import load_template
from tests.unit.shopify import support
from tests.unit.shopify.test_permissions import ROLES, Call, _allowed, recorded

ORDER_ID = 450789469
RAW = "raw/shopify/webhooks/orders/topic=orders_updated/dt=2024-09-26/evt-reduced.json"
FETCHED = "raw/shopify/fetched/orders/topic=orders_updated/dt=2024-09-26/evt-reduced.json"

Deliver = Callable[[str, Any], dict[str, str]]


def _order(**changes: Any) -> dict[str, Any]:
    rest: dict[str, Any] = copy.deepcopy(support.copied_fixture("order__shopify-python-api.json")["order"])
    return rest | changes


def _reduced(event_id: str = "evt-reduced", topic: str = "orders/updated") -> dict[str, Any]:
    return support.envelope(
        topic, {"id": ORDER_ID, "admin_graphql_api_id": f"gid://shopify/Order/{ORDER_ID}"}, event_id=event_id
    )


def _head(aws: Any, key: str) -> dict[str, Any]:
    return dict(aws.client("s3", region_name="us-east-1").head_object(Bucket=support.BUCKET, Key=key))


def test_the_key_is_the_raw_keys_beside_it() -> None:
    event = se.parse_event(_reduced())
    assert event.lake_key() == RAW
    assert event.fetched_key() == FETCHED


def test_the_fetched_order_is_kept_as_the_event_whole_beside_the_raw_event(
    aws: Any, simulator: ShopifyAdminSimulator, deliver: Deliver
) -> None:
    rest = _order()
    simulator.state.add_resources("orders", rest)
    reduced = _reduced()

    assert deliver("order", reduced)["outcome"] == "written"

    lake = support.lake_objects(aws, "raw/")
    assert sorted(lake) == [FETCHED, RAW]
    assert json.loads(lake[RAW]) == reduced  # the raw event stays as Shopify sent it
    kept = json.loads(lake[FETCHED])
    # the delivered envelope and headers, the order as the Admin API answered it (in the REST shape)
    assert {k: v for k, v in kept.items() if k != "detail"} == {k: v for k, v in reduced.items() if k != "detail"}
    assert kept["detail"]["metadata"] == reduced["detail"]["metadata"]
    assert kept["detail"]["payload"] == resources.order_from_graphql(simulated.order_node(rest))
    assert _head(aws, FETCHED)["Metadata"] == {"event-id": "evt-reduced", "payload": "fetched-admin-graphql"}
    # it is what the hot store was written from: the same event, whole, prepares the stored item
    module = support.processor("order")
    [item] = support.table_items(aws, "orders")
    prepared = module.prepare(se.parse_event(kept))
    assert {k: item[k] for k in ("financial_status", "order_number", "customer_id", "source_event_id")} == {
        "financial_status": prepared.attributes["financial_status"],
        "order_number": prepared.attributes["order_number"],
        "customer_id": prepared.attributes["customer_id"],
        "source_event_id": "evt-reduced",
    }


def test_a_redelivery_rewrites_its_own_object_with_what_the_api_answers_then(
    aws: Any, simulator: ShopifyAdminSimulator, deliver: Deliver
) -> None:
    simulator.state.add_resources("orders", _order(updated_at="2026-11-24T10:00:00Z", financial_status="pending"))
    deliver("order", _reduced())
    first = support.lake_objects(aws, "raw/shopify/fetched/")
    deliver("order", _reduced())  # the same delivery again (Shopify's retry, a replay)
    assert support.lake_objects(aws, "raw/shopify/fetched/") == first

    simulator.state.add_resources("orders", _order(updated_at="2026-11-24T11:00:00Z", financial_status="paid"))
    deliver("order", _reduced())  # redelivered after the order changed: the API answers the newer state
    again = support.lake_objects(aws, "raw/shopify/fetched/")
    assert list(again) == [FETCHED]  # nothing duplicated
    payload = json.loads(again[FETCHED])["detail"]["payload"]
    assert (payload["financial_status"], payload["updated_at"]) == ("paid", "2026-11-24T11:00:00Z")
    assert simulator.state.counters["lookup:orders"] == 3


def test_two_reduced_events_of_one_order_keep_one_object_each(
    aws: Any, simulator: ShopifyAdminSimulator, deliver: Deliver
) -> None:
    simulator.state.add_resources("orders", _order())
    deliver("order", _reduced("evt-a", "orders/paid"))
    deliver("order", _reduced("evt-b", "orders/updated"))
    assert sorted(support.lake_objects(aws, "raw/shopify/fetched/")) == [
        "raw/shopify/fetched/orders/topic=orders_paid/dt=2024-09-26/evt-a.json",
        "raw/shopify/fetched/orders/topic=orders_updated/dt=2024-09-26/evt-b.json",
    ]


def test_only_a_fetched_order_is_kept(aws: Any, simulator: ShopifyAdminSimulator, deliver: Deliver) -> None:
    deliver("order", support.envelope("orders/updated", _order(), event_id="evt-full"))
    deliver("order", support.envelope("orders/delete", {"id": ORDER_ID}, event_id="evt-delete"))
    simulator.state.add_resources("customers", support.copied_fixture("customer__shopify-python-api.json")["customer"])
    customer = support.copied_fixture("customer__shopify-python-api.json")["customer"]["id"]
    assert deliver("customer", support.envelope("customers/update", {"id": customer}))["outcome"] == "written"
    assert support.lake_objects(aws, "raw/shopify/fetched/") == {}  # the customer processor does not keep them
    assert simulator.state.counters["lookup:orders"] == 0


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        (None, "resource-not-found"),  # deleted since the webhook
        ({"line_items": [{"id": 1, "quantity": "lots"}]}, "bad-number"),  # the answer fails the order's checks
    ],
)
def test_nothing_is_kept_of_an_order_the_processor_refuses(
    aws: Any, simulator: ShopifyAdminSimulator, deliver: Deliver, stored: dict[str, Any] | None, reason: str
) -> None:
    if stored is not None:
        simulator.state.add_resources("orders", _order(**stored))
    result = deliver("order", _reduced())
    assert (result["outcome"], result["reason"]) == ("quarantined", reason)
    assert support.lake_objects(aws, "raw/shopify/fetched/") == {}
    assert support.table_items(aws, "orders") == []


def test_a_failed_store_is_retried_onto_the_same_object(
    aws: Any,
    simulator: ShopifyAdminSimulator,
    processors: Callable[[str], support.Function],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulator.state.add_resources("orders", _order())
    module = processors("order")
    event = _reduced()

    def throttled(*_: Any, **__: Any) -> str:
        raise RuntimeError("ProvisionedThroughputExceededException")

    with monkeypatch.context() as patched:
        patched.setattr(module.processor, "store", throttled)
        with pytest.raises(RuntimeError):
            module.handler(json.loads(json.dumps(event)), support.Context())
    assert list(support.lake_objects(aws, "raw/shopify/fetched/")) == [FETCHED]  # kept before the store
    assert module.handler(json.loads(json.dumps(event)), support.Context())["outcome"] == "written"
    assert list(support.lake_objects(aws, "raw/shopify/fetched/")) == [FETCHED]


def test_the_order_processors_role_allows_the_write(
    aws: Any, simulator: ShopifyAdminSimulator, processors: Callable[[str], support.Function]
) -> None:
    template = load_template(REPO_ROOT / "infrastructure" / "shopify" / "eventbridge-rules.yaml")
    simulator.state.add_resources("orders", _order())
    module = processors("order")
    calls: set[Call] = set()
    current = ["order"]
    with recorded(calls, current):
        module.handler(json.loads(json.dumps(_reduced())), support.Context())
    puts = {call for call in calls if call[1] == "s3:PutObject"}
    assert {arn.split(":::", 1)[1].split("/", 1)[1] for _, _, arn in puts} == {RAW, FETCHED}
    aws_calls = {call for call in calls if call[1].split(":")[0] in {"s3", "dynamodb"}}
    denied = sorted(call for call in aws_calls if not _allowed(template["Resources"][ROLES["order"]], *call[1:]))
    assert denied == []
