"""What an authentic delivery means: topic, resource, version, hot-store item and alert, for every real
fixture and for every way a payload can be unusable; and the timestamp normalisation rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from common.errors import BadInput
from common.timeutil import TimestampError
from recharge.webhook import delivery as rules  # the handler's module: conftest puts its folder on sys.path
from tests.unit.recharge.conftest import RESOURCES, fixture_record, webhook_body

NEW_YORK = ZoneInfo("America/New_York")

EXPECTED = {  # id and updated_at (UTC) of each real fixture, read off the files by hand
    "subscription": ("153601366", datetime(2023, 5, 13, 4, 7, 32, tzinfo=UTC)),
    "charge": ("580825303", datetime(2023, 5, 13, 4, 16, 51, tzinfo=UTC)),
    "order": ("534919106", datetime(2023, 5, 13, 4, 16, 51, tzinfo=UTC)),
    "customer": ("64962974", datetime(2023, 5, 13, 4, 16, 36, tzinfo=UTC)),
    "address": ("69282975", datetime(2023, 5, 13, 4, 7, 34, tzinfo=UTC)),
}


def _parse(resource: str, topic: str | None = None, body: bytes | None = None) -> rules.Delivery:
    return rules.parse(body or webhook_body(resource), topic or f"{resource}/updated", NEW_YORK)


CANCELLED_AT = "2023-05-13T04:07:32+00:00"


def cancelled_subscription(**changes: object) -> bytes:
    """The subscription fixture as Recharge sends it on cancellation: status and cancelled_at set."""
    record = dict(fixture_record("subscription"), status="cancelled", cancelled_at=CANCELLED_AT)
    return webhook_body("subscription", {**record, **changes})


def charge_in_error(**changes: object) -> bytes:
    return webhook_body("charge", {**fixture_record("charge"), "status": "error", **changes})


def _bad(reason: str, body: bytes, topic: str = "subscription/updated") -> None:
    with pytest.raises(BadInput) as caught:
        rules.parse(body, topic, NEW_YORK)
    assert caught.value.reason == reason


# ------------------------------------------------------------------------------ real fixtures


@pytest.mark.parametrize("resource", RESOURCES)
def test_every_real_fixture_parses(resource: str) -> None:
    delivery = _parse(resource)
    resource_id, updated_at = EXPECTED[resource]
    assert (delivery.resource, delivery.resource_id, delivery.updated_at) == (resource, resource_id, updated_at)
    stamp = updated_at.strftime("%Y-%m-%dT%H%M%S.000000Z")
    assert delivery.raw_key() == (
        f"raw/recharge/{resource}/topic={resource}_updated/dt={updated_at:%Y-%m-%d}/{resource_id}-{stamp}.json"
    )


def test_subscription_item() -> None:
    key, item = rules.hot_item(_parse("subscription", "subscription/activated"), NEW_YORK) or ({}, {})
    assert key == {"subscription_id": "153601366"}
    assert item["customer_id"] == "64962974"
    assert item["customer_key"] == "recharge:64962974"
    assert item["status"] == "active"
    assert item["price"] == 24.3
    assert item["quantity"] == 1
    assert item["created_at"] == "2021-05-13T09:46:47.000000Z"
    assert item["next_charge_scheduled_at"] == "2024-05-12"  # a date stays a date
    assert item["cancelled_at"] is None
    assert item["last_topic"] == "subscription/activated"
    assert item["deleted"] is False
    assert item["external_product_id"] == {"ecommerce": "6642695864491"}


def test_charge_item_links_customer_and_subscriptions() -> None:
    key, item = rules.hot_item(_parse("charge"), NEW_YORK) or ({}, {})
    assert key == {"charge_id": "580825303"}
    assert item["customer_id"] == "64962974"  # 2021-11 charges name the customer as customer.id
    assert item["subscription_ids"] == ["153601366"]
    assert item["status"] == "success"
    assert item["total_price"] == "29.20"
    assert item["processed_at"] == "2023-05-13T04:07:33.000000Z"
    assert item["scheduled_at"] == "2023-05-13"
    assert "email" not in item
    assert "billing_address" not in item


def test_order_item_is_an_invoice_linked_to_shopify() -> None:
    key, item = rules.hot_item(_parse("order"), NEW_YORK) or ({}, {})
    assert key == {"order_id": "534919106"}
    assert item["shopify_order_id"] == "5006149877931"
    assert item["charge_id"] == "580825303"
    assert item["customer_id"] == "64962974"
    assert item["scheduled_at"] == "2023-05-13T04:00:00.000000Z"
    assert item["external_order_name"] == {"ecommerce": "#1016"}


def test_customer_item_is_prefixed_so_it_never_collides_with_shopify() -> None:
    key, item = rules.hot_item(_parse("customer"), NEW_YORK) or ({}, {})
    assert key == {"customer_key": "recharge:64962974"}
    assert item["recharge_customer_id"] == "64962974"
    assert item["shopify_customer_id"] == "5213433266347"
    assert item["first_charge_processed_at"] == "2021-05-13T13:46:39.000000Z"


def test_customer_item_keeps_no_contact_fields() -> None:
    """The fixture carries an e-mail and names; the hot store keeps none of them (the raw lake does)."""
    record = fixture_record("customer")
    assert all(record[name] for name in ("email", "first_name", "last_name"))
    _, item = rules.hot_item(_parse("customer"), NEW_YORK) or ({}, {})
    assert not {"email", "first_name", "last_name"} & set(item)
    assert set(rules.RETIRED["customer"]) == {"email", "first_name", "last_name"}
    assert not set(rules.RETIRED["customer"]) & set(item)
    assert item["subscriptions_active_count"] == record["subscriptions_active_count"]


def test_addresses_are_raw_only() -> None:
    assert rules.hot_item(_parse("address"), NEW_YORK) is None


def test_legacy_2021_01_shapes_link_the_same_ids() -> None:
    charge = {"id": 7, "customer_id": 9, "updated_at": "2020-01-01T10:00:00", "line_items": [{"subscription_id": 5}]}
    order = {"id": 8, "customer_id": 9, "shopify_order_id": "123", "charge_id": 7, "updated_at": "2020-01-01T10:00:00"}
    customer = {"id": 9, "shopify_customer_id": "456", "updated_at": "2020-01-01T10:00:00"}
    _, charge_item = rules.hot_item(_parse("charge", body=webhook_body("charge", charge)), NEW_YORK) or ({}, {})
    _, order_item = rules.hot_item(_parse("order", body=webhook_body("order", order)), NEW_YORK) or ({}, {})
    _, customer_item = rules.hot_item(_parse("customer", body=webhook_body("customer", customer)), NEW_YORK) or (
        {},
        {},
    )
    assert charge_item["subscription_ids"] == ["5"]
    assert charge_item["customer_id"] == "9"
    assert order_item["shopify_order_id"] == "123"
    assert order_item["charge_id"] == "7"
    assert customer_item["shopify_customer_id"] == "456"


def test_unknown_index_keys_are_left_out_not_nulled() -> None:
    record = {"id": 1, "updated_at": "2024-01-01T00:00:00Z", "customer_id": None}
    _, item = rules.hot_item(_parse("subscription", body=webhook_body("subscription", record)), NEW_YORK) or ({}, {})
    assert "customer_id" not in item
    assert "customer_key" not in item


# ------------------------------------------------------------------------------ timestamps


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-05-13T04:07:34+00:00", "2023-05-13T04:07:34.000000Z"),
        ("2023-05-13T04:07:34Z", "2023-05-13T04:07:34.000000Z"),
        ("2023-05-13T00:07:34-04:00", "2023-05-13T04:07:34.000000Z"),
        ("2023-05-13T09:37:34+0530", "2023-05-13T04:07:34.000000Z"),
        ("2023-05-13T04:07:34.123456789+00:00", "2023-05-13T04:07:34.123456Z"),
        ("2018-10-17T09:01:39", "2018-10-17T13:01:39.000000Z"),  # naive, New York summer time (UTC-4)
        ("2018-01-17T09:01:39", "2018-01-17T14:01:39.000000Z"),  # naive, New York winter time (UTC-5)
        ("2018-01-17 09:01:39", "2018-01-17T14:01:39.000000Z"),
        ("2023-11-05T01:30:00", "2023-11-05T05:30:00.000000Z"),  # ambiguous hour: the first (daylight) one
        ("2023-03-12T02:30:00", "2023-03-12T07:30:00.000000Z"),  # skipped hour: read with the earlier offset
        ("2024-05-12", "2024-05-12"),  # a calendar date is not an instant
    ],
)
def test_timestamp_normalisation_rule(value: str, expected: str) -> None:
    assert rules.normalise_timestamp(value, NEW_YORK) == expected


def test_the_naive_zone_is_a_setting_not_a_guess() -> None:
    assert rules.normalise_timestamp("2018-10-17T09:01:39", ZoneInfo("UTC")) == "2018-10-17T09:01:39.000000Z"
    with pytest.raises(TimestampError):
        rules.normalise_timestamp("yesterday", NEW_YORK)


def test_naive_and_offset_versions_of_one_instant_are_the_same_version() -> None:
    record = fixture_record("subscription")
    naive = _parse("subscription", body=webhook_body("subscription", dict(record, updated_at="2023-05-13T00:07:32")))
    assert naive.updated_at == _parse("subscription").updated_at


# ------------------------------------------------------------------------------ topics


def test_topic_from_path_header_or_both() -> None:
    path = {"resource": "charge", "event": "max_retries_reached"}
    assert rules.resolve_topic(path, {}) == "charge/max_retries_reached"
    assert rules.resolve_topic(None, {"x-recharge-topic": "order/created"}) == "order/created"
    assert rules.resolve_topic(path, {"x-recharge-topic": "charge/max_retries_reached"}) == "charge/max_retries_reached"


@pytest.mark.parametrize(
    ("path", "header", "reason"),
    [
        (None, None, "missing-topic"),
        (None, "  ", "missing-topic"),
        ({"resource": "charge", "event": "paid"}, "charge/failed", "topic-conflict"),
        (None, "subscription/teleported", "unknown-topic"),
        (None, "plan/created", "unknown-topic"),
        (None, "Subscription/Created", "unknown-topic"),
        (None, "subscription", "unknown-topic"),
        ({"resource": "..", "event": "created"}, None, "unknown-topic"),
        ({"resource": "subscription", "event": "created%2F..%2F"}, None, "unknown-topic"),
    ],
)
def test_unusable_topics(path: dict[str, str] | None, header: str | None, reason: str) -> None:
    headers = {"x-recharge-topic": header} if header is not None else {}
    with pytest.raises(BadInput) as caught:
        rules.resolve_topic(path, headers)
    assert caught.value.reason == reason


def test_every_listed_topic_resolves() -> None:
    for resource, events in rules.TOPICS.items():
        for event in events:
            assert rules.resolve_topic({"resource": resource, "event": event}, {}) == f"{resource}/{event}"
    assert {"cancelled", "skipped", "swapped", "paused"} <= rules.TOPICS["subscription"]
    assert {"failed", "max_retries_reached", "refunded", "upcoming"} <= rules.TOPICS["charge"]


# ------------------------------------------------------------------------------ unusable payloads


def test_unusable_payloads_name_their_reason() -> None:
    record = fixture_record("subscription")
    _bad("unparseable-json", b"{not json")
    _bad("unparseable-json", b"\xff\xfe\x00garbage")
    _bad("unparseable-json", b'{"subscription": {"id": 1, "price": NaN, "updated_at": "2024-01-01T00:00:00Z"}}')
    _bad("unparseable-json", b"[" * 100_000)
    _bad("not-a-resource", b"[]")
    _bad("not-a-resource", b"{}")
    _bad("not-a-resource", b'{"subscription": [1, 2]}')
    _bad("topic-mismatch", webhook_body("charge"))
    _bad("ambiguous-resource", json.dumps({"charge": {}, "customer": {}}).encode())
    _bad("missing-id", webhook_body("subscription", {k: v for k, v in record.items() if k != "id"}))
    for bad_id in (True, -1, 1.5, "12a", "", None, {"id": 1}):
        _bad("missing-id", webhook_body("subscription", dict(record, id=bad_id)))
    _bad("missing-updated-at", webhook_body("subscription", {k: v for k, v in record.items() if k != "updated_at"}))
    _bad("missing-updated-at", webhook_body("subscription", dict(record, updated_at=None)))
    _bad("bad-updated-at", webhook_body("subscription", dict(record, updated_at="last tuesday")))


def test_included_objects_are_tolerated_and_ids_may_be_text() -> None:
    record = dict(fixture_record("subscription"), id="153601366")
    body = json.dumps({"subscription": record, "customer": fixture_record("customer")}).encode()
    delivery = rules.parse(body, "subscription/updated", NEW_YORK)
    assert delivery.resource == "subscription"
    assert delivery.resource_id == "153601366"


def test_event_ids_depend_on_the_body_alone_never_on_the_topic() -> None:
    first, again = _parse("subscription"), _parse("subscription")
    assert first.event_id == again.event_id
    assert first.event_id.startswith("c-")
    other_body = webhook_body("subscription", dict(fixture_record("subscription"), status="paused"))
    assert _parse("subscription", body=other_body).event_id != first.event_id
    for topic in ("subscription/activated", "subscription/skipped", "subscription/swapped"):
        relabelled = _parse("subscription", topic)
        assert (relabelled.event_id, relabelled.updated_at) == (first.event_id, first.updated_at)
        assert rules.hot_item(relabelled, NEW_YORK)[1] | {"last_topic": ""} == (  # type: ignore[index]
            rules.hot_item(first, NEW_YORK)[1] | {"last_topic": ""}  # type: ignore[index]
        )
    assert not first.is_delete


# ------------------------------------------------------------------------------ topic and body agree


@pytest.mark.parametrize("resource", ["subscription", "charge", "order", "customer", "address"])
def test_a_full_body_relabelled_as_deleted_is_refused(resource: str) -> None:
    _bad("topic-disagrees", webhook_body(resource), f"{resource}/deleted")


def test_the_delete_shapes_are_accepted_and_version_the_delete() -> None:
    record = fixture_record("subscription")
    later = "2023-05-14T00:00:00+00:00"
    with_deleted_at = _parse(
        "subscription", "subscription/deleted", webhook_body("subscription", dict(record, deleted_at=later))
    )
    assert with_deleted_at.is_delete
    assert with_deleted_at.updated_at == datetime(2023, 5, 14, tzinfo=UTC)  # the later of updated_at and deleted_at
    tombstone = _parse(
        "subscription", "subscription/deleted", webhook_body("subscription", {"id": 153601366, "deleted_at": later})
    )
    assert tombstone.is_delete
    assert tombstone.updated_at == datetime(2023, 5, 14, tzinfo=UTC)
    key, item = rules.hot_item(tombstone, NEW_YORK) or ({}, {})
    assert (key, item["deleted"]) == ({"subscription_id": "153601366"}, True)
    assert "status" not in item  # a tombstone sets the mark, never blanks the last known state
    _bad("topic-disagrees", webhook_body("subscription", {"id": 1, "updated_at": later}), "subscription/updated")
    _bad("missing-updated-at", webhook_body("subscription", {"id": 1}), "subscription/deleted")
    _bad("bad-deleted-at", webhook_body("subscription", {"id": 1, "deleted_at": "yesterday"}), "subscription/deleted")


def test_a_cancellation_must_carry_its_status_and_date() -> None:
    assert _parse("subscription", "subscription/cancelled", cancelled_subscription()).topic == "subscription/cancelled"
    assert _parse("subscription", "subscription/cancelled", cancelled_subscription(status="CANCELLED")).resource_id
    _bad("topic-disagrees", webhook_body("subscription"), "subscription/cancelled")  # active, as captured
    _bad("topic-disagrees", cancelled_subscription(cancelled_at=None), "subscription/cancelled")
    _bad("topic-disagrees", cancelled_subscription(status="active"), "subscription/cancelled")
    # The other direction is legitimate: Recharge sends subscription/updated with the cancelled body too.
    assert _parse("subscription", "subscription/updated", cancelled_subscription()).topic == "subscription/updated"


def test_a_charge_at_max_retries_must_be_in_error() -> None:
    assert _parse("charge", "charge/max_retries_reached", charge_in_error()).resource_id == "580825303"
    _bad("topic-disagrees", webhook_body("charge"), "charge/max_retries_reached")  # status success
    # a failure with a retry still scheduled is a charge/failed, never the last one
    _bad("topic-disagrees", charge_in_error(retry_date="2023-05-16T04:00:00+00:00"), "charge/max_retries_reached")


# ------------------------------------------------------------------------------ alerts


def test_alerts_for_cancellations_and_charges_at_max_retries_carry_ids_only() -> None:
    subject, message = rules.alert(_parse("subscription", "subscription/cancelled", cancelled_subscription())) or (
        "",
        "",
    )
    assert subject == "Recharge subscription cancelled: subscription 153601366"
    assert json.loads(message) == {
        "source": "recharge",
        "alert": "subscription-cancelled",
        "topic": "subscription/cancelled",
        "subscription_id": "153601366",
        "customer_id": "64962974",
        "updated_at": "2023-05-13T04:07:32.000000Z",
    }
    subject, message = rules.alert(_parse("charge", "charge/max_retries_reached", charge_in_error())) or ("", "")
    assert "charge 580825303" in subject
    assert json.loads(message)["subscription_ids"] == ["153601366"]
    for text in (subject, message):
        assert "kozakevich" not in text.lower()
        assert "wilson" not in text.lower()
        assert "+1614" not in text


def test_no_alert_for_other_topics() -> None:
    for topic in ("subscription/updated", "charge/failed", "order/cancelled"):
        resource = topic.partition("/")[0]
        assert rules.alert(_parse(resource, topic)) is None
