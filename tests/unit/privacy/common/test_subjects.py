"""Which subjects come out of each source's real payload shapes (Shopify EventBridge envelopes and webhook
bodies, REST API responses, GraphQL bulk lines, Recharge resources), and of lake objects."""

from __future__ import annotations

import copy
import gzip
import json
from typing import Any

import pytest

from common.privacy.subjects import (
    checkout,
    document_subjects,
    is_subject,
    line_subjects,
    object_subjects,
    request_subjects,
    shopify_customer,
    shopify_order,
    subject_kind,
)
from tests.conftest import shared_fixture_path
from tests.unit.privacy.common.support import DIGESTER, copied, email, envelope, phone, shared

CUSTOMER_115 = "shopify-customer:115310627314723954"
ORDER_820 = "shopify-order:820982911946154508"


def subjects(doc: Any) -> frozenset[str]:
    return document_subjects(doc, DIGESTER)


# ----------------------------------------------------------------------------------- Shopify webhooks


def test_an_order_webhook_in_its_envelope() -> None:
    order = shared("shopify/webhooks/orders_create__hassantahir-2022-04.json")
    expected = {
        ORDER_820,
        CUSTOMER_115,  # customer.id, customer.default_address.customer_id and the customer's gid
        email("jon@doe.ca"),  # email, contact_email
        email("john@test.com"),  # customer.email
        phone("555-555-BILL"),  # billing and shipping phones (both 555555 once normalised)
        phone("123-123-1234"),  # the customer's default address
    }
    assert subjects(envelope("orders/create", order)) == expected
    assert subjects(order) == expected, "the bare payload: an order by its shape"
    line_ids = {f"shopify-order:{item['id']}" for item in order["line_items"]}
    assert line_ids.isdisjoint(subjects(order)), "a line item's id is not an order id"


def test_the_nonstandard_envelope_with_flat_headers() -> None:
    event = shared("shopify/eventbridge/orders_cancelled__synqsell.json")
    assert subjects(event) == {
        ORDER_820,
        CUSTOMER_115,
        email("jon@example.com"),
        email("john@example.com"),
        phone("555-555-SHIP"),
        phone("123-123-1234"),
    }


def test_a_checkout_is_found_by_its_token_and_its_cart_token_not_by_its_id() -> None:
    payload = shared("shopify/webhooks/checkouts_create__hassantahir-2022-04.json")
    expected = {
        "checkout:123123123",
        "checkout:eeafa272cebfd4b22385bc4b645e762c",
        "shopify-customer:603851970716743426",
        email("example@email.com"),
        email("john@test.com"),
        phone("555-555-BILL"),
        phone("123-123-1234"),
    }
    assert subjects(envelope("checkouts/create", payload)) == expected
    assert subjects(payload) == expected
    assert f"shopify-order:{payload['id']}" not in subjects(payload)


def test_a_cart_is_found_by_its_token() -> None:
    payload = shared("shopify/webhooks/carts_create__hassantahir-2022-04.json")
    assert subjects(envelope("carts/create", payload)) == {"checkout:eeafa272cebfd4b22385bc4b645e762c"}
    assert subjects(payload) == {"checkout:eeafa272cebfd4b22385bc4b645e762c"}


def test_a_customer_webhook() -> None:
    payload = shared("shopify/webhooks/customers_create__hassantahir-2022-04.json")
    expected = {"shopify-customer:706405506930370084", email("bob@biller.com")}
    assert subjects(envelope("customers/create", payload)) == expected
    without_gid = {k: v for k, v in payload.items() if k != "admin_graphql_api_id"}
    assert subjects(envelope("customers/update", without_gid)) == expected, "the topic says it is a customer"
    assert subjects(without_gid) == expected, "so does its shape"


def test_fulfillments_name_their_order_not_themselves() -> None:
    payload = shared("shopify/webhooks/fulfillments_create__hassantahir-2022-04.json")
    assert subjects(envelope("fulfillments/create", payload)) == {
        ORDER_820,
        email("jon@doe.ca"),
        phone("555-555-SHIP"),  # the destination's phone
    }
    update = shared("shopify/eventbridge/fulfillments_update__synqsell.json")
    assert subjects(update) == {"shopify-order:5082368540706", email("ayumu.hirano@example.com")}
    events = shared("shopify/eventbridge/fulfillment_events_create__synqsell.json")
    assert subjects(events) == {ORDER_820}


def test_events_about_no_person_have_no_subjects() -> None:
    assert subjects(copied("shopify/products_update__aws-quickstart.json")) == frozenset()
    assert subjects(shared("shopify/eventbridge/products_delete__synqsell.json")) == frozenset()
    assert subjects(shared("shopify/eventbridge/fulfillment_orders_order_routing_complete__synqsell.json")) == set()
    assert subjects(shared("shopify/webhooks/bulk_operations_finish__shopify-docs.json")) == frozenset()


def test_rest_api_responses_in_their_resource_key() -> None:
    bob = {"shopify-customer:207119551", email("bob.norman@hostmail.com"), phone("555-625-1199")}
    assert subjects(copied("shopify/order__shopify-python-api.json")) == bob | {
        "shopify-order:450789469",
        "checkout:68778783ad298f1c80c3bafcddeea02f",
    }
    assert subjects(copied("shopify/checkouts__shopify-python-api.json")) == bob | {
        "checkout:2a1ace52255252df566af0faaedfbfa7",
        "checkout:68778783ad298f1c80c3bafcddeea02f",
    }
    customer = copied("shopify/customer__shopify-python-api.json")
    assert subjects(customer) == bob, "last_order_id is not a subject of the customer document"
    assert subjects(copied("shopify/fulfillment__shopify-python-api.json")) == {"shopify-order:450789469"}


def test_a_dlq_message_body_and_a_quarantined_body_are_the_envelope() -> None:
    order = copied("shopify/order__shopify-python-api.json")["order"]
    event = envelope("orders/updated", order)
    body = json.dumps(event)  # the message body of a Lambda asynchronous-invocation DLQ
    assert subjects(json.loads(body)) == subjects(event)
    key = "quarantine/shopify/dt=2024-09-26/foreign-source/" + "0" * 64 + ".json"
    assert object_subjects(key, body.encode(), DIGESTER) == subjects(event)


def test_the_topic_decides_whether_the_root_id_is_an_order() -> None:
    draft = {"id": 994118539, "line_items": [], "customer": {"id": 207119551}, "email": None}
    assert subjects(envelope("draft_orders/create", draft)) == {"shopify-customer:207119551"}
    edit = {"order_edit": {"id": 78912328, "order_id": 450789469, "line_items": {"additions": []}}}
    assert subjects(envelope("orders/edited", edit)) == {"shopify-order:450789469"}
    deleted = {"id": 450789469}
    assert subjects(envelope("orders/delete", deleted)) == {"shopify-order:450789469"}
    assert subjects(envelope("products/delete", deleted)) == frozenset()
    consent = {"id": 706405506930370084, "phone": "+16135550123", "sms_marketing_consent": {"state": "subscribed"}}
    assert subjects(envelope("customers_marketing_consent/update", consent)) == {
        "shopify-customer:706405506930370084",
        phone("+16135550123"),
    }
    email_consent = {"customer_id": 706405506930370084, "email_address": "bob@biller.com"}
    assert subjects(envelope("customers_email_marketing_consent/update", email_consent)) == {
        "shopify-customer:706405506930370084",
        email("bob@biller.com"),
    }


def test_the_shops_own_places_are_nobodys_contact() -> None:
    fulfillment = copy.deepcopy(copied("shopify/fulfillment__shopify-python-api.json"))
    fulfillment["fulfillment"]["origin_address"] = {"address1": "1 Warehouse Way", "phone": "+16135559999"}
    assert subjects(fulfillment) == {"shopify-order:450789469"}


def test_cart_tokens_lose_their_key_suffix() -> None:
    order = {"id": 1, "order_number": 1001, "cart_token": "Z2NwLXVzLWVhc3QxOjAxSDhY?key=5f2c", "checkout_token": " "}
    assert subjects(order) == {"shopify-order:1", "checkout:Z2NwLXVzLWVhc3QxOjAxSDhY"}


# --------------------------------------------------------------------------------------- GraphQL bulk


def _bulk_order(order_id: int, customer_id: int | None, mail: str) -> list[dict[str, Any]]:
    """An order as the bulk export's query returns it (lambdas/shopify/bulk_export): the order line with
    its lists embedded, and a LineItem child line."""
    gid = f"gid://shopify/Order/{order_id}"
    money = {"shopMoney": {"amount": "10.00", "currencyCode": "USD"}}
    address = {"firstName": "Ada", "lastName": "Byron", "address1": "12 King Street", "zip": "K1A 0B1"}
    return [
        {
            "__typename": "Order",
            "id": gid,
            "name": "#1001",
            "email": mail,
            "displayFinancialStatus": "PAID",
            "totalPriceSet": money,
            "customer": None if customer_id is None else {"id": f"gid://shopify/Customer/{customer_id}"},
            "shippingAddress": dict(address, phone="+1 613 555 0100"),
            "billingAddress": address,
            "transactions": [{"id": "gid://shopify/OrderTransaction/9", "amountSet": money}],
            "refunds": [{"id": "gid://shopify/Refund/7", "note": "damaged"}],
        },
        {
            "__typename": "LineItem",
            "id": "gid://shopify/LineItem/13000000000001",
            "name": "Socks",
            "variant": {"id": "gid://shopify/ProductVariant/81"},
            "originalUnitPriceSet": money,
            "__parentId": gid,
        },
    ]


def test_bulk_order_lines_by_gid() -> None:
    order, item = _bulk_order(450000000001, 7000000003, "ada@example.com")
    assert line_subjects(order, DIGESTER) == {
        "shopify-order:450000000001",
        "shopify-customer:7000000003",
        email("ada@example.com"),
        phone("+1 613 555 0100"),
    }
    assert line_subjects(item, DIGESTER) == {"shopify-order:450000000001"}, "a child line names its order"
    guest, _ = _bulk_order(450000000002, None, "guest@example.com")
    assert line_subjects(guest, DIGESTER) == {
        "shopify-order:450000000002",
        email("guest@example.com"),
        phone("+1 613 555 0100"),
    }


def test_a_bulk_customer_line() -> None:
    line = {
        "__typename": "Customer",
        "id": "gid://shopify/Customer/123",
        "legacyResourceId": "123",
        "displayName": "Ada Byron",
        "defaultEmailAddress": {"emailAddress": "Ada@Example.com", "marketingState": "SUBSCRIBED"},
        "defaultPhoneNumber": {"phoneNumber": "+16135550100"},
        "addresses": [{"id": "gid://shopify/MailingAddress/5?model_name=CustomerAddress", "city": "Ottawa"}],
    }
    assert line_subjects(line, DIGESTER) == {
        "shopify-customer:123",
        email("ada@example.com"),
        phone("+16135550100"),
    }
    assert line_subjects({"__typename": "Order", "legacyResourceId": "77"}, DIGESTER) == {"shopify-order:77"}


def test_real_bulk_files() -> None:
    path = shared_fixture_path("shopify/bulk/fulfillment_orders__airbyte.jsonl")
    key = "raw/shopify/bulk/Order/run=1/part-00001.jsonl.gz"
    assert object_subjects(key, gzip.compress(path.read_bytes()), DIGESTER) == {"shopify-order:1"}
    lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert [sorted(line_subjects(line, DIGESTER)) for line in lines] == [
        ["shopify-order:1"],  # the Order
        ["shopify-order:1"],  # its FulfillmentOrder (the assigned location's phone is the shop's)
        [],  # a FulfillmentOrderLineItem, child of the FulfillmentOrder
        [],
    ]
    for name in ("collections__airbyte", "inventory_levels__airbyte", "products_variants__shopify-docs"):
        body = shared_fixture_path(f"shopify/bulk/{name}.jsonl").read_bytes()
        assert object_subjects("raw/shopify/bulk/Product/run=1/part-00001.jsonl", body, DIGESTER) == frozenset()


@pytest.mark.parametrize(
    ("value", "customer", "order"),
    [
        ("gid://shopify/Customer/123", "shopify-customer:123", None),
        ("gid://shopify/Order/9?from=bulk", None, "shopify-order:9"),
        ("gid://shopify/CustomerAddress/123", None, None),
        ("gid://shopify/OrderTransaction/123", None, None),
        ("gid://shopify/Customer/0", None, None),
        ("https://example.com/gid://shopify/Customer/1", None, None),
        (123, "shopify-customer:123", "shopify-order:123"),
        ("123", "shopify-customer:123", "shopify-order:123"),
        (True, None, None),
        (-5, None, None),
        (1.5, None, None),
    ],
)
def test_ids_and_gids(value: Any, customer: str | None, order: str | None) -> None:
    assert shopify_customer(value) == customer
    assert shopify_order(value) == order
    from_gid = isinstance(value, str) and value.startswith("gid://")
    assert subjects({"note": value}) == {s for s in (customer, order) if s and from_gid}, (
        "a gid anywhere, no bare number"
    )


# ------------------------------------------------------------------------------------------- Recharge


KELLY = {
    "recharge-customer:64962974",
    "shopify-customer:5213433266347",
    email("kozakevich_k@example.com"),
    phone("+16145550188"),
}


@pytest.mark.parametrize("wrapped", [False, True])
def test_recharge_resources(wrapped: bool) -> None:
    def body(resource: str) -> Any:
        record = copied(f"recharge/{resource}__airbyte.json")
        return {resource: record} if wrapped else record

    assert subjects(body("customer")) == KELLY
    assert subjects(body("charge")) == KELLY | {"shopify-order:5006149877931"}
    assert subjects(body("order")) == KELLY | {"shopify-order:5006149877931"}
    assert subjects(body("address")) == {"recharge-customer:64962974", phone("+16145550188")}
    assert subjects(body("subscription")) == {"recharge-customer:64962974"}
    charge = copied("recharge/charge__airbyte.json")
    assert f"recharge-customer:{charge['id']}" not in subjects(charge)
    assert "shopify-order:534919106" not in subjects(body("order")), "a Recharge order's own id is Recharge's"


def test_the_lake_key_decides_the_dialect() -> None:
    body = json.dumps({"subscription": {"id": 1, "customer_id": 64962974, "status": "active"}}).encode()
    key = "raw/recharge/subscription/topic=subscription_updated/dt=2024-01-01/1-20240101T000000.000000Z.json"
    assert object_subjects(key, body, DIGESTER) == {"recharge-customer:64962974"}
    shopify_key = "raw/shopify/webhooks/customers/topic=customers_update/dt=2024-01-01/e.json"
    assert object_subjects(shopify_key, body, DIGESTER) == {"shopify-customer:64962974"}


def test_the_legacy_recharge_shape() -> None:
    charge = {
        "id": 1,
        "customer_id": 2,
        "shopify_customer_id": "3",
        "shopify_order_id": "4",
        "email": "a@b.c",
        "address_id": 5,
    }
    assert subjects({"charge": charge}) == {
        "recharge-customer:2",
        "shopify-customer:3",
        "shopify-order:4",
        email("a@b.c"),
    }


# -------------------------------------------------------------------------------------------- objects


def test_unreadable_objects_have_no_subjects() -> None:
    assert object_subjects("raw/x.json", b"not json", DIGESTER) == frozenset()
    assert object_subjects("raw/x.jsonl.gz", b"not gzip", DIGESTER) == frozenset()
    assert object_subjects("raw/x.json", b"\xff\xfe{", DIGESTER) == frozenset()
    deep = b"[" * 100_000 + b"]" * 100_000
    assert object_subjects("raw/x.json", deep, DIGESTER) == frozenset()


def test_a_deep_document_is_walked_without_recursion() -> None:
    depth = 800  # as deep as json.loads goes comfortably under pytest
    body = b'{"email": "a@b.c", "x": ' + b"[" * depth + b'"gid://shopify/Order/5"' + b"]" * depth + b"}"
    assert object_subjects("raw/x.json", body, DIGESTER) == {email("a@b.c"), "shopify-order:5"}


def test_jsonl_lines_that_are_not_objects_are_skipped() -> None:
    body = b'{"id":"gid://shopify/Order/5"}\n\nnot json\n[1]\r\n{"email":"x@y.z"}'
    assert object_subjects("raw/shopify/bulk/Order/run=1/part-00001.jsonl", body, DIGESTER) == {
        "shopify-order:5",
        email("x@y.z"),
    }


def test_subject_helpers() -> None:
    assert is_subject(email("a@b.c"))
    assert is_subject("checkout:eeafa272cebfd4b22385bc4b645e762c")
    assert not is_subject("email:" + "A" * 64)
    assert not is_subject("shopify-customer:0")
    assert not is_subject("customer:1")
    assert not is_subject(1)
    assert subject_kind("recharge-customer:1") == "recharge-customer"
    with pytest.raises(ValueError, match="not a privacy subject"):
        subject_kind("jon@doe.ca")
    assert checkout(None) is None
    assert checkout("../../etc") is None


def test_request_subjects() -> None:
    assert request_subjects(
        DIGESTER,
        shopify_customer_id=191167,
        order_ids=[299938, "280263"],
        email=" Jon@Doe.ca",
        phone="+1 555 625 1199",
        recharge_customer_ids=[64962974],
    ) == tuple(
        sorted(
            {
                "shopify-customer:191167",
                "shopify-order:299938",
                "shopify-order:280263",
                "recharge-customer:64962974",
                email("jon@doe.ca"),
                phone("+15556251199"),
            }
        )
    )
    assert request_subjects(DIGESTER, email="not an e-mail", phone="") == ()
