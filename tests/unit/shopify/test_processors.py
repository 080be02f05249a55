"""The five processors against moto: what lands where, in which types, and what never lands."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.unit.shopify import support

Deliver = Callable[[str, Any], dict[str, str]]


def _order() -> dict[str, Any]:
    return copy.deepcopy(support.copied_fixture("order__shopify-python-api.json")["order"])


def _orders(aws: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["order_id"], i["record"]): i for i in support.table_items(aws, "orders")}


# ------------------------------------------------------------------------------------------- orders


def test_order_lands_in_raw_and_table_with_exact_types_and_no_contact_details(aws: Any, deliver: Deliver) -> None:
    event = support.envelope("orders/create", _order(), event_id="evt-order-1")
    assert deliver("order", event)["outcome"] == "written"

    raw = support.lake_objects(aws, "raw/")
    key = "raw/shopify/webhooks/orders/topic=orders_create/dt=2024-09-26/evt-order-1.json"
    assert list(raw) == [key]
    assert json.loads(raw[key]) == event  # verbatim

    item = _orders(aws)[("450789469", "ORDER")]
    assert item["order_number"] == "1001"
    assert item["name"] == "#1001"
    assert item["customer_id"] == "207119551"
    assert item["total_price"] == {"amount": Decimal("409.94"), "currency": "USD"}
    assert item["financial_status"] == "authorized"
    assert item["cart_token"] == "68778783ad298f1c80c3bafcddeea02f"
    assert item["created_at"] == "2008-01-10T16:00:00.000000Z"
    assert item["source_updated_at"] == "2008-01-10T16:00:00.000000Z"
    assert item["source_event_id"] == "evt-order-1"
    assert item["line_items"][0]["line_item_id"] == "466157049"
    assert item["line_items"][0]["price"] == {"amount": Decimal("199.00"), "currency": "USD"}
    assert item["cancelled"] is False
    stored = json.dumps(item, default=str)
    for private in ("bob.norman@hostmail.com", "Chestnut Street", "555-625-1199", "Norman"):
        assert private not in stored


def test_out_of_order_and_duplicate_orders_leave_the_newest_state(aws: Any, deliver: Deliver) -> None:
    old, new = _order(), _order()
    new["updated_at"] = "2008-01-11T09:00:00-05:00"
    new["financial_status"] = "paid"
    newer = support.envelope("orders/paid", new, event_id="evt-b")
    older = support.envelope("orders/updated", old, event_id="evt-a")
    outcomes = [deliver("order", e)["outcome"] for e in (newer, older, newer, older)]
    assert outcomes == ["written", "stale", "duplicate", "stale"]
    item = _orders(aws)[("450789469", "ORDER")]
    assert item["financial_status"] == "paid"
    assert item["source_event_id"] == "evt-b"
    assert len(support.lake_objects(aws, "raw/")) == 2  # one object per event id, redeliveries overwrite


def test_order_delete_is_a_tombstone_whatever_the_order(aws: Any, deliver: Deliver) -> None:
    delete = support.envelope(
        "orders/delete", {"id": 450789469}, event_id="evt-del", triggered_at="2008-02-01T00:00:00Z"
    )
    assert deliver("order", delete)["outcome"] == "tombstoned"
    assert deliver("order", support.envelope("orders/updated", _order(), event_id="evt-late"))["outcome"] == "written"
    assert deliver("order", delete)["outcome"] == "duplicate"
    item = _orders(aws)[("450789469", "ORDER")]
    assert item["deleted"] is True
    assert item["deleted_at"] == "2008-02-01T00:00:00.000000Z"
    assert item["order_number"] == "1001"  # what was known stays


def test_an_order_marks_its_cart_and_checkout_converted_in_either_order(aws: Any, deliver: Deliver) -> None:
    order = _order()
    order["checkout_token"] = "chk-1"
    cart_early = {"id": "cart-early", "token": "cart-early", "line_items": [], "updated_at": "2008-01-09T10:00:00Z"}
    checkout = {
        "id": 1,
        "token": "chk-1",
        "cart_token": "cart-early",
        "line_items": [],
        "updated_at": "2008-01-09T11:00:00Z",
    }
    assert deliver("cart", support.envelope("carts/create", cart_early))["outcome"] == "written"
    order["cart_token"] = "cart-early"
    deliver("order", support.envelope("orders/create", order))
    # the checkout arrives after the order: the conversion mark is already there and survives
    assert deliver("cart", support.envelope("checkouts/update", checkout))["outcome"] == "written"
    carts = {i["cart_token"]: i for i in support.table_items(aws, "abandoned_carts")}
    assert carts["cart-early"]["converted_order_id"] == "450789469"
    assert carts["checkout:chk-1"]["converted_order_id"] == "450789469"
    assert carts["checkout:chk-1"]["checkout_token"] == "chk-1"
    assert carts["checkout:chk-1"]["cart_ref"] == "cart-early"
    assert carts["cart-early"]["expires_at"] == 1199872800 + 30 * 86400  # the cart's updated_at + CART_TTL_DAYS


def test_a_customer_removed_from_an_order_leaves_no_customer_id_in_any_delivery_order(
    aws: Any, deliver: Deliver
) -> None:
    first, later = _order(), _order()
    later["updated_at"] = "2008-01-11T09:00:00Z"
    later["customer"] = None
    events = [
        support.envelope("orders/create", first, event_id="evt-1"),
        support.envelope("orders/updated", later, event_id="evt-2"),
    ]
    for delivery in (events, events[::-1]):
        for event in delivery:
            deliver("order", event)
        item = _orders(aws)[("450789469", "ORDER")]
        assert "customer_id" not in item  # the newest version has none; nothing stale is left behind
        assert item["source_event_id"] == "evt-2"
        aws.client("dynamodb").delete_item(
            TableName=support.TABLES["orders"], Key={"order_id": {"S": "450789469"}, "record": {"S": "ORDER"}}
        )


def test_a_crashed_order_write_stores_neither_the_order_nor_its_marks_and_a_later_version_stores_both(
    aws: Any, processors: Callable[[str], support.Function], deliver: Deliver, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = processors("order")
    first, later = _order(), _order()
    later["updated_at"] = "2008-01-11T09:00:00Z"
    crashed = support.envelope("orders/create", first, event_id="evt-1")
    with monkeypatch.context() as patch:

        def down(**kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "TransactWriteItems")

        patch.setattr(module.dynamodb, "transact_write_items", down)
        with pytest.raises(ClientError):
            module.handler(json.loads(json.dumps(crashed)), support.Context())
    assert (support.table_items(aws, "orders"), support.table_items(aws, "abandoned_carts")) == ([], [])
    assert deliver("order", support.envelope("orders/updated", later, event_id="evt-2"))["outcome"] == "written"
    assert deliver("order", crashed)["outcome"] == "stale"  # Lambda's retry of the crashed event
    carts = support.table_items(aws, "abandoned_carts")
    assert [(c["cart_token"], c["converted_order_id"]) for c in carts] == [(first["cart_token"], "450789469")]


def test_an_order_version_is_written_with_its_marks_in_one_request_and_a_redelivery_marks_nothing(
    aws: Any, processors: Callable[[str], support.Function], deliver: Deliver, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = processors("order")
    first, later = _order(), _order()
    later["updated_at"] = "2008-01-11T09:00:00Z"
    deliver("order", support.envelope("orders/create", first, event_id="evt-1"))
    marked = support.table_items(aws, "abandoned_carts")
    assert [c["converted_order_id"] for c in marked] == ["450789469"]
    calls: list[tuple[str, ...]] = []
    transact, update = module.dynamodb.transact_write_items, module.dynamodb.update_item

    def recorded_transaction(**kw: Any) -> Any:
        calls.append(tuple(next(iter(action.values()))["TableName"] for action in kw["TransactItems"]))
        return transact(**kw)

    def recorded_update(**kw: Any) -> Any:
        calls.append((kw["TableName"],))
        return update(**kw)

    monkeypatch.setattr(module.dynamodb, "transact_write_items", recorded_transaction)
    monkeypatch.setattr(module.dynamodb, "update_item", recorded_update)
    assert deliver("order", support.envelope("orders/updated", later, event_id="evt-2"))["outcome"] == "written"
    assert calls == [(support.TABLES["orders"], support.TABLES["abandoned_carts"])]
    assert deliver("order", support.envelope("orders/updated", later, event_id="evt-2"))["outcome"] == "duplicate"
    assert len(calls) == 2  # one request, cancelled whole: the stored version has its marks already
    assert support.table_items(aws, "abandoned_carts") == marked  # one-way: the first mark stays as it was


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda o: o.update(id="not-an-id"), "bad-id"),
        (lambda o: o.update(total_price="lots"), "bad-amount"),
        (lambda o: o.update(line_items="many"), "bad-field"),
        (lambda o: o.update(updated_at="last tuesday"), "bad-timestamp"),
        (lambda o: o["customer"].update(id=-1), "bad-id"),
    ],
)
def test_bad_orders_are_quarantined_verbatim_and_the_invocation_succeeds(
    aws: Any, deliver: Deliver, mutate: Callable[[dict[str, Any]], None], reason: str
) -> None:
    order = _order()
    mutate(order)
    event = support.envelope("orders/create", order)
    result = deliver("order", event)
    assert result["outcome"] == "quarantined"
    assert result["reason"] == reason
    objects = support.lake_objects(aws)
    [key] = objects
    assert key.startswith("quarantine/shopify/dt=")
    assert f"/{reason}/" in key
    assert json.loads(objects[key]) == event
    assert support.table_items(aws, "orders") == []


def test_a_topic_of_another_processor_is_quarantined(aws: Any, deliver: Deliver) -> None:
    result = deliver("order", support.envelope("customers/create", {"id": 5, "updated_at": "2024-01-01T00:00:00Z"}))
    assert (result["outcome"], result["reason"]) == ("quarantined", "unexpected-topic")


def test_orders_edited_is_kept_raw_only(aws: Any, deliver: Deliver) -> None:
    edit = {"order_edit": {"id": 1, "order_id": 450789469, "line_items": {"additions": [], "removals": []}}}
    assert deliver("order", support.envelope("orders/edited", edit))["outcome"] == "raw-only"
    assert len(support.lake_objects(aws, "raw/shopify/webhooks/orders/topic=orders_edited/")) == 1
    assert support.table_items(aws, "orders") == []


def test_a_transient_failure_raises_so_lambda_retries(
    aws: Any, processors: Callable[[str], support.Function], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = processors("order")

    def throttled(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, "PutItem")

    monkeypatch.setattr(module.dynamodb, "put_item", throttled)
    monkeypatch.setattr(module.dynamodb, "transact_write_items", throttled)  # an order with a cart token
    event = support.envelope("orders/create", _order(), event_id="evt-t")
    with pytest.raises(ClientError):
        module.handler(event, support.Context())
    # the raw event was kept first; a retry overwrites the same object
    assert list(support.lake_objects(aws)) == [
        "raw/shopify/webhooks/orders/topic=orders_create/dt=2024-09-26/evt-t.json"
    ]


def test_log_lines_carry_ids_and_never_the_payload(
    aws: Any, deliver: Deliver, capsys: pytest.CaptureFixture[str]
) -> None:
    from common.observability import logger

    level = logger.log_level
    logger.setLevel("INFO")
    try:
        deliver("order", support.envelope("orders/create", _order(), event_id="evt-log"))
        bad = _order()
        bad["id"] = "nope"
        deliver("order", support.envelope("orders/create", bad, event_id="evt-bad"))
    finally:
        logger.setLevel(level)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"level"')]
    processed = next(line for line in lines if line["message"] == "shopify event processed")
    assert (processed["topic"], processed["event_id"], processed["shop"]) == ("orders/create", "evt-log", support.SHOP)
    assert processed["outcome"] == "written"
    quarantined = next(line for line in lines if line["message"] == "shopify event quarantined")
    assert (quarantined["reason"], quarantined["event_id"]) == ("bad-id", "evt-bad")
    text = json.dumps(lines)
    assert "bob.norman@hostmail.com" not in text
    assert "Chestnut" not in text


# ------------------------------------------------------------------------------------- fulfillments


def test_fulfillments_become_items_of_their_order(aws: Any, deliver: Deliver) -> None:
    fulfillment = support.copied_fixture("fulfillment__shopify-python-api.json")["fulfillment"]
    later = dict(fulfillment, updated_at="2013-11-02T10:00:00-04:00", shipment_status="delivered", status="success")
    assert deliver("fulfillment", support.envelope("fulfillments/update", later))["outcome"] == "written"
    assert deliver("fulfillment", support.envelope("fulfillments/create", fulfillment))["outcome"] == "stale"
    item = _orders(aws)[("450789469", "FULFILLMENT#255858046")]
    assert (item["status"], item["shipment_status"]) == ("success", "delivered")
    assert item["tracking_numbers"] == ["1Z2345"]
    assert item["tracking_company"] == "null-company"
    assert "customer_id" not in item  # fulfillments stay out of the by-customer index


def test_fulfillment_events_are_kept_raw_only(aws: Any, deliver: Deliver) -> None:
    payload = {
        "id": 1,
        "fulfillment_id": 2,
        "order_id": 3,
        "status": "in_transit",
        "updated_at": "2024-01-01T00:00:00Z",
    }
    assert deliver("fulfillment", support.envelope("fulfillment_events/create", payload))["outcome"] == "raw-only"
    assert deliver("fulfillment", support.envelope("fulfillment_orders/cancelled", {"x": 1}))["outcome"] == "raw-only"
    assert support.table_items(aws, "orders") == []
    assert len(support.lake_objects(aws, "raw/shopify/webhooks/fulfillments/")) == 2


# ---------------------------------------------------------------------------------------- customers


def test_customer_profile_and_consents_are_versioned_apart(aws: Any, deliver: Deliver) -> None:
    customer = support.copied_fixture("customer__shopify-python-api.json")["customer"]
    customer = dict(
        customer,
        email_marketing_consent={
            "state": "not_subscribed",
            "opt_in_level": None,
            "consent_updated_at": "2015-05-01T00:00:00Z",
        },
    )
    consent = {
        "customer_id": 207119551,
        "email_address": "bob.norman@hostmail.com",
        "email_marketing_consent": {
            "state": "subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": "2015-06-01T00:00:00Z",
        },
    }
    # the consent change arrives first; the (older) profile update after it must not undo it
    assert (
        deliver("customer", support.envelope("customers_email_marketing_consent/update", consent))["outcome"]
        == "written"
    )
    assert deliver("customer", support.envelope("customers/update", customer))["outcome"] == "written"
    [item] = support.table_items(aws, "customers")
    assert item["customer_key"] == "shopify:207119551"
    assert item["shopify_customer_id"] == "207119551"
    assert item["email_marketing_consent"]["state"] == "subscribed"
    assert item["orders_count"] == 1
    assert item["total_spent"] == {"amount": Decimal("41.94"), "currency": None}  # the sample has no currency
    assert (item["country_code"], item["province_code"]) == ("US", "KY")
    stored = json.dumps(item, default=str)
    for private in ("bob.norman@hostmail.com", "Bob", "Chestnut", "555-625-1199"):
        assert private not in stored


def test_customer_delete_keeps_a_tombstone(aws: Any, deliver: Deliver) -> None:
    delete: dict[str, Any] = {"id": 207119551, "phone": None, "addresses": [], "email_marketing_consent": None}
    assert deliver("customer", support.envelope("customers/delete", delete))["outcome"] == "tombstoned"
    [item] = support.table_items(aws, "customers")
    assert item["deleted"] is True
    assert item["shopify_customer_id"] == "207119551"


def test_a_consent_event_without_a_consent_is_quarantined(aws: Any, deliver: Deliver) -> None:
    result = deliver("customer", support.envelope("customers_marketing_consent/update", {"id": 5, "phone": None}))
    assert (result["outcome"], result["reason"]) == ("quarantined", "missing-consent")


# ----------------------------------------------------------------------------------------- products


def test_products_write_versioned_snapshots(aws: Any, deliver: Deliver) -> None:
    product = support.copied_fixture("product__shopify-python-api.json")["product"]
    deliver("product", support.envelope("products/update", product, event_id="evt-p1"))
    deliver("product", support.envelope("products/update", product, event_id="evt-p1"))  # a redelivery
    deliver(
        "product",
        support.envelope("products/delete", {"id": 632910392}, event_id="evt-p2", triggered_at="2012-01-01T00:00:00Z"),
    )
    snapshots = support.lake_objects(aws, "processed/shopify/product_snapshots/")
    assert sorted(snapshots) == [
        "processed/shopify/product_snapshots/product_id=632910392/00001319133913000000-evt-p1.json",
        "processed/shopify/product_snapshots/product_id=632910392/00001325376000000000-evt-p2.json",
    ]
    first, last = (json.loads(snapshots[k]) for k in sorted(snapshots))
    assert first["title"] == "IPod Nano - 8GB"
    assert first["variants"][0] == {
        "variant_id": "808950810",
        "title": "Pink",
        "sku": "IPOD2008PINK",
        "price": "199.00",
        "inventory_item_id": None,
    }
    assert last["deleted"] is True
    assert support.table_items(aws, "orders") == []


# -------------------------------------------------------------------------------------------- carts


def test_carts_and_checkouts_have_a_ttl_and_reduced_ones_are_quarantined(aws: Any, deliver: Deliver) -> None:
    checkouts = support.copied_fixture("checkouts__shopify-python-api.json")["checkouts"]
    assert deliver("cart", support.envelope("checkouts/create", checkouts[0]))["outcome"] == "written"
    item = {i["cart_token"]: i for i in support.table_items(aws, "abandoned_carts")}[
        f"checkout:{checkouts[0]['token']}"
    ]
    assert item["total_price"] == {"amount": Decimal("409.94"), "currency": "USD"}
    assert item["expires_at"] == 1350039927 + 30 * 86400
    assert "email" not in json.dumps(item, default=str)
    reduced = deliver("cart", support.envelope("carts/update", {"id": "eeafa272cebfd4b22385bc4b645e762c"}))
    assert (reduced["outcome"], reduced["reason"]) == ("quarantined", "reduced-payload-unsupported")
    # the reduced event was still kept raw, as received
    assert len(support.lake_objects(aws, "raw/shopify/webhooks/carts/")) == 1
