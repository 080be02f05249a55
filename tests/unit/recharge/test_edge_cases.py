"""Authentic deliveries at the edges: values DynamoDB cannot hold, timestamps at the ends of the calendar,
sibling topics of one version (a cancellation beside its update), and the secret cache's age bound when a
leaked previous secret is revoked."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.recharge.conftest import (
    OLD_SECRET,
    PATH_TOKEN,
    SECRET,
    ReceiverFactory,
    Stack,
    fixture_record,
    response_json,
    signed_event,
    webhook_body,
)

# ------------------------------------------------------------------------------ unstorable values


def _subscription_text(**replacements: str) -> bytes:
    """A subscription body with some values as raw JSON text (numbers json.dumps cannot write)."""
    record = fixture_record("subscription")
    for name in replacements:
        record[name] = f"@@{name}@@"
    text = json.dumps({"subscription": record})
    for name, raw in replacements.items():
        text = text.replace(f'"@@{name}@@"', raw)
    return text.encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_subscription_text(price="1e400"), "unparseable-json"),  # valid JSON text, no finite number
        (_subscription_text(price="1e200"), "unstorable-item"),  # beyond DynamoDB's 1E+125
        (_subscription_text(price="1e-200"), "unstorable-item"),  # below DynamoDB's 1E-130
        (_subscription_text(quantity="1" + "0" * 39), "unstorable-item"),  # over 38 significant digits
        (
            webhook_body("subscription", dict(fixture_record("subscription"), cancellation_reason="x" * 400_000)),
            "unstorable-item",
        ),  # an item over DynamoDB's 400 KB
    ],
    ids=["infinite", "too-large-number", "too-small-number", "too-many-digits", "item-too-large"],
)
def test_values_dynamodb_cannot_hold_are_quarantined_before_any_write(
    aws_stack: Stack, make_receiver: ReceiverFactory, body: bytes, reason: str
) -> None:
    response = make_receiver().handle(signed_event(body, "subscription/updated"))
    assert response["statusCode"] == 200, response  # not a 5xx: Recharge would retry it 20 times in vain
    assert response_json(response) == {"status": "quarantined", "reason": reason}
    objects = aws_stack.objects()
    (key,) = objects
    assert key.startswith("quarantine/recharge/dt=")
    assert f"/{reason}/" in key
    assert objects[key] == body
    assert aws_stack.item_count() == 0
    assert aws_stack.alerts() == []


def test_a_raw_only_resource_keeps_any_number(aws_stack: Stack, make_receiver: ReceiverFactory) -> None:
    record = fixture_record("address")
    text = json.dumps({"address": dict(record, latitude="@@")}).replace('"@@"', "1e200").encode()
    response = make_receiver().handle(signed_event(text, "address/updated"))
    assert response_json(response)["outcome"] == "written"
    assert list(aws_stack.objects("raw/").values()) == [text]


# ------------------------------------------------------------------------------ calendar ends


@pytest.mark.parametrize("updated_at", ["9999-12-31T23:59:59", "0001-01-01T00:00:00+01:00"])
def test_an_updated_at_beyond_the_calendar_in_utc_is_quarantined(
    aws_stack: Stack, make_receiver: ReceiverFactory, updated_at: str
) -> None:
    body = webhook_body("charge", dict(fixture_record("charge"), updated_at=updated_at))
    response = make_receiver().handle(signed_event(body, "charge/updated"))
    assert response["statusCode"] == 200
    assert response_json(response) == {"status": "quarantined", "reason": "bad-updated-at"}


def test_another_timestamp_beyond_the_calendar_is_kept_as_sent(
    aws_stack: Stack, make_receiver: ReceiverFactory
) -> None:
    body = webhook_body("subscription", dict(fixture_record("subscription"), cancelled_at="9999-12-31T23:59:59"))
    assert response_json(make_receiver().handle(signed_event(body, "subscription/updated")))["outcome"] == "written"
    item = aws_stack.item("subscriptions", {"subscription_id": "153601366"})
    assert item is not None
    assert item["cancelled_at"] == "9999-12-31T23:59:59"


# ------------------------------------------------------------------------------ sibling topics


ALERTING_BODIES = {
    "subscription": {"status": "cancelled", "cancelled_at": "2023-05-13T04:07:32+00:00"},
    "charge": {"status": "error"},
}


@pytest.mark.parametrize(
    ("resource", "plain", "alerting", "alert"),
    [
        ("subscription", "subscription/updated", "subscription/cancelled", "subscription-cancelled"),
        ("charge", "charge/failed", "charge/max_retries_reached", "charge-max-retries"),
    ],
)
@pytest.mark.parametrize("alerting_first", [False, True])
def test_an_alerting_topic_beside_another_topic_of_the_same_version_alerts_once(
    aws_stack: Stack,
    make_receiver: ReceiverFactory,
    resource: str,
    plain: str,
    alerting: str,
    alert: str,
    alerting_first: bool,
) -> None:
    """Recharge sends subscription/updated beside subscription/cancelled (charge/failed beside
    charge/max_retries_reached) with the same body, in either order: the second is a duplicate (the
    event id is the body's, never the topic's), the stored state is the same either way, and the alert
    is published once, whichever arrives first."""
    receiver = make_receiver()
    body = webhook_body(resource, dict(fixture_record(resource), **ALERTING_BODIES[resource]))
    topics = [alerting, plain] if alerting_first else [plain, alerting]
    outcomes = [response_json(receiver.handle(signed_event(body, topic)))["outcome"] for topic in topics]
    assert outcomes == ["written", "duplicate"]
    assert [a["message"]["alert"] for a in aws_stack.alerts()] == [alert]
    table, key = {"subscription": ("subscriptions", "subscription_id"), "charge": ("charges", "charge_id")}[resource]
    item = aws_stack.item(table, {key: str(fixture_record(resource)["id"])})
    assert item is not None
    assert item["last_topic"] == topics[0]  # the topic that first wrote this version
    assert item["source_event_id"].startswith("c-")
    assert item["status"] == ALERTING_BODIES[resource]["status"]


def test_a_relabelled_delete_never_wins_and_a_real_delete_wins_its_tie(
    aws_stack: Stack, make_receiver: ReceiverFactory
) -> None:
    receiver = make_receiver()
    record = fixture_record("subscription")
    captured = webhook_body("subscription", record)
    assert response_json(receiver.handle(signed_event(captured, "subscription/updated")))["outcome"] == "written"
    relabelled = response_json(receiver.handle(signed_event(captured, "subscription/deleted")))
    assert relabelled == {"status": "quarantined", "reason": "topic-disagrees"}
    item = aws_stack.item("subscriptions", {"subscription_id": "153601366"})
    assert item is not None
    assert item["deleted"] is False
    # A delete whose deleted_at equals updated_at ties with the cancellation of that instant: the body of
    # the delete shape orders first (d- > c-), whatever the arrival order.
    cancelled = dict(record, **ALERTING_BODIES["subscription"])
    deleted = webhook_body("subscription", dict(cancelled, deleted_at=record["updated_at"]))
    assert response_json(receiver.handle(signed_event(deleted, "subscription/deleted")))["outcome"] == "written"
    cancellation = webhook_body("subscription", cancelled)
    assert response_json(receiver.handle(signed_event(cancellation, "subscription/cancelled")))["outcome"] == "stale"
    item = aws_stack.item("subscriptions", {"subscription_id": "153601366"})
    assert item is not None
    assert item["deleted"] is True
    assert item["source_event_id"].startswith("d-")
    assert aws_stack.alerts() == []  # a cancellation whose resource was deleted at that instant is not news


# ------------------------------------------------------------------------------ secret cache age


def test_a_revoked_previous_secret_stops_working_within_the_cache_age(
    aws_stack: Stack, app_classes: Any, make_receiver: ReceiverFactory
) -> None:
    """The cache's age bound is what makes a revocation take effect without a redeploy: after a leak,
    the operator removes the AWSPREVIOUS label, and within ``max_age`` the leaked value is refused,
    even though no mismatch-driven refresh is allowed meanwhile."""
    secrets = aws_stack.secrets
    for value in (OLD_SECRET, SECRET):
        document = {"webhook_secret": value, "path_token": PATH_TOKEN}
        secrets.put_secret_value(SecretId=aws_stack.secret_arn, SecretString=json.dumps(document))
    now = [5000.0]
    receiver = make_receiver()
    cached = app_classes.CachedSecret(secrets, aws_stack.secret_arn, max_age_seconds=300.0, clock=lambda: now[0])
    receiver.secrets = app_classes.SecretRing(
        cached, refresh_interval=10**9, clock=lambda: now[0], grace_seconds=48 * 3600.0
    )
    receiver.secrets.refresh()  # the one refresh allowed: no mismatch may refresh the cache in this test
    body = webhook_body("customer")
    assert receiver.handle(signed_event(body, "customer/updated", secret=OLD_SECRET))["statusCode"] == 200

    versions = secrets.list_secret_version_ids(SecretId=aws_stack.secret_arn)["Versions"]
    previous = next(v["VersionId"] for v in versions if "AWSPREVIOUS" in v["VersionStages"])
    secrets.update_secret_version_stage(
        SecretId=aws_stack.secret_arn, VersionStage="AWSPREVIOUS", RemoveFromVersionId=previous
    )
    now[0] += 299  # within the age bound the cached value may still be used
    assert receiver.handle(signed_event(body, "customer/updated", secret=OLD_SECRET))["statusCode"] == 200
    now[0] += 2  # past it: read again, and the revoked value is gone
    assert receiver.handle(signed_event(body, "customer/updated", secret=OLD_SECRET))["statusCode"] == 401
    assert receiver.handle(signed_event(body, "customer/updated", secret=SECRET))["statusCode"] == 200


# ------------------------------------------------------------------------------ shared customers table


def test_a_recharge_customer_never_touches_the_shopify_customer_with_the_same_number(
    aws_stack: Stack, make_receiver: ReceiverFactory
) -> None:
    """Shopify and Recharge ids are separate number spaces in one table: the same digits are two people."""
    number = str(fixture_record("customer")["id"])
    shopify_item = {
        "customer_key": {"S": f"shopify:{number}"},
        "email": {"S": "someone-else@example.org"},
        "source_version": {"N": str(2**62)},  # newer than anything, so an overwrite could not be "stale"
        "source_event_id": {"S": "shopify-event"},
    }
    aws_stack.dynamodb.put_item(TableName=aws_stack.tables["customers"], Item=shopify_item)
    response = make_receiver().handle(signed_event(webhook_body("customer"), "customer/updated"))
    assert response_json(response)["outcome"] == "written"
    stored = aws_stack.dynamodb.get_item(
        TableName=aws_stack.tables["customers"], Key={"customer_key": {"S": f"shopify:{number}"}}
    )["Item"]
    assert stored == shopify_item
    recharge = aws_stack.item("customers", {"customer_key": f"recharge:{number}"})
    assert recharge is not None
    assert recharge["recharge_customer_id"] == number
    assert aws_stack.item_count() == 2


def test_a_recharge_customer_item_keeps_no_contact_fields_but_the_raw_lake_does(
    aws_stack: Stack, make_receiver: ReceiverFactory
) -> None:
    """Contact details live only in raw/ (verbatim), never in the hot store (docs/privacy-retention.md)."""
    record = fixture_record("customer")
    response = make_receiver().handle(signed_event(webhook_body("customer"), "customer/updated"))
    assert response_json(response)["outcome"] == "written"
    item = aws_stack.item("customers", {"customer_key": f"recharge:{record['id']}"})
    assert item is not None
    assert not {"email", "first_name", "last_name"} & set(item)
    assert not {record["email"], record["first_name"], record["last_name"]} & {str(v) for v in item.values()}
    (raw,) = aws_stack.objects("raw/recharge/customer/").values()
    assert record["email"].encode() in raw
