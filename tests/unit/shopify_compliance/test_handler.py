"""The compliance webhook handler: signature, method, size, topic, shop, the record and its idempotency."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import EMAIL, OLD_SECRET, PHONE, PREFIX, SHOP, body_of, http_event, sign

TOPICS = ("customers/data_request", "customers/redact", "shop/redact")


def _status(response: dict[str, Any]) -> int:
    return int(response["statusCode"])


@pytest.mark.parametrize("topic", TOPICS)
def test_a_signed_request_is_recorded_once_per_topic(make_receiver: Any, lake: Any, topic: str) -> None:
    body = body_of(topic)
    response = make_receiver().handle(http_event(body, topic=topic))
    assert _status(response) == 200, response
    objects = lake.objects(PREFIX)
    assert len(objects) == 1
    ((key, stored),) = objects.items()
    assert key.startswith(f"{PREFIX}{topic.replace('/', '_')}/")
    assert key.endswith(".json")
    record = json.loads(stored)
    assert record["topic"] == topic
    assert record["shop_domain"] == SHOP
    assert record["shop_id"] == 954889
    assert record["workflow"] == {
        "name": "acme-privacy-requests",
        "started": False,
        "reason": "privacy workflow not built yet",
    }
    assert record["delivery"]["event_id"] == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert json.loads(response["body"])["request_id"] == record["request_id"]


def test_the_record_keeps_ids_and_digests_never_the_contact_data(make_receiver: Any, lake: Any) -> None:
    body = body_of("customers/data_request")
    assert _status(make_receiver().handle(http_event(body, topic="customers/data_request"))) == 200
    (stored,) = lake.objects(PREFIX).values()
    assert b"Jane" not in stored
    assert b"jane" not in stored
    assert b"example.com" not in stored.lower()
    assert b"625" not in stored
    assert b"1199" not in stored
    record = json.loads(stored)
    assert record["customer"]["id"] == 191167
    assert record["order_ids"] == [299938, 280263, 220458]
    assert record["data_request_id"] == 9999
    salt = bytes.fromhex(record["contact_hash"]["salt"])
    # The erasure workflow finds the person by testing a candidate e-mail / phone against the digests.
    expected_email = hashlib.sha256(salt + b"\x00" + EMAIL.strip().lower().encode()).hexdigest()
    expected_phone = hashlib.sha256(salt + b"\x00" + b"+15556251199").hexdigest()
    assert record["customer"]["email_sha256"] == expected_email
    assert record["customer"]["phone_sha256"] == expected_phone
    assert PHONE not in stored.decode()


def test_shop_redact_has_no_customer(make_receiver: Any, lake: Any) -> None:
    assert _status(make_receiver().handle(http_event(body_of("shop/redact"), topic="shop/redact"))) == 200
    (stored,) = lake.objects(PREFIX).values()
    record = json.loads(stored)
    assert record["customer"] is None
    assert record["order_ids"] == []
    assert record["contact_hash"] is None


def test_a_base64_body_is_verified_on_its_decoded_bytes(make_receiver: Any, lake: Any) -> None:
    body = body_of("customers/redact")
    assert _status(make_receiver().handle(http_event(body, base64_body=True))) == 200
    assert len(lake.objects(PREFIX)) == 1


@pytest.mark.parametrize(
    "signature",
    [None, "", "not-base64!", "AAAA", "wrong"],
    ids=["missing", "empty-header-signs-nothing", "garbage", "short", "wrong"],
)
def test_a_missing_or_wrong_signature_is_401_and_stores_nothing(
    make_receiver: Any, lake: Any, signature: str | None
) -> None:
    body = body_of("customers/redact")
    event = http_event(body, signature=signature)
    if signature == "":
        event["headers"]["x-shopify-hmac-sha256"] = ""
    response = make_receiver().handle(event)
    assert _status(response) == 401
    assert lake.objects() == {}


def test_a_signature_with_another_secret_is_401(make_receiver: Any, lake: Any) -> None:
    body = body_of("customers/redact")
    response = make_receiver().handle(http_event(body, signature=sign(body, "some-other-secret")))
    assert _status(response) == 401
    assert lake.objects() == {}


def test_the_previous_secret_counts_only_while_accepted(make_receiver: Any, lake: Any) -> None:
    lake.secrets.put_secret_value(SecretId=lake.secret_arn, SecretString=json.dumps({"client_secret": "rotated-new"}))
    body = body_of("customers/redact")
    # the "previous" is now the original secret; sign with the new one and with the original one
    from .conftest import SECRET

    assert _status(make_receiver().handle(http_event(body, signature=sign(body, SECRET)))) == 401
    accepting = make_receiver(ACCEPT_PREVIOUS_SECRET="true")
    assert _status(accepting.handle(http_event(body, signature=sign(body, SECRET)))) == 200
    assert _status(accepting.handle(http_event(body, signature=sign(body, OLD_SECRET)))) == 401
    assert _status(make_receiver().handle(http_event(body, signature=sign(body, "rotated-new")))) == 200


def test_a_redelivery_is_answered_200_and_changes_nothing(make_receiver: Any, lake: Any) -> None:
    receiver = make_receiver()
    body = body_of("customers/redact")
    assert _status(receiver.handle(http_event(body))) == 200
    before = lake.objects()
    again = receiver.handle(http_event(body))
    assert _status(again) == 200
    assert json.loads(again["body"])["status"] == "already recorded"
    replayed = receiver.handle(http_event(body, event_id="another-event-id"))  # same signed body, new header
    assert _status(replayed) == 200
    assert lake.objects() == before


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "OPTIONS"])
def test_only_post_is_allowed(make_receiver: Any, lake: Any, method: str) -> None:
    response = make_receiver().handle(http_event(body_of("customers/redact"), method=method))
    assert _status(response) == 405
    assert response["headers"]["allow"] == "POST"
    assert lake.objects() == {}


@pytest.mark.parametrize("base64_body", [False, True])
def test_an_oversized_body_is_413(make_receiver: Any, lake: Any, base64_body: bool) -> None:
    body = body_of("customers/redact", padding="x" * 5000)
    response = make_receiver().handle(http_event(body, base64_body=base64_body))
    assert _status(response) == 413
    assert lake.objects() == {}


@pytest.mark.parametrize(
    ("topic", "body_topic", "reason"),
    [
        ("customers/redact", "customers/data_request", "topic-mismatch"),
        ("customers/data_request", "customers/redact", "topic-mismatch"),
        ("shop/redact", "customers/redact", "topic-mismatch"),
        ("customers/redact", "shop/redact", "topic-mismatch"),
        ("orders/create", "customers/redact", "unknown-topic"),
        (None, "customers/redact", "missing-topic"),
    ],
)
def test_the_topic_must_be_a_compliance_topic_that_agrees_with_the_body(
    make_receiver: Any, lake: Any, topic: str | None, body_topic: str, reason: str
) -> None:
    response = make_receiver().handle(http_event(body_of(body_topic), topic=topic))
    assert _status(response) == 400
    assert json.loads(response["body"])["reason"] == reason
    assert lake.objects() == {}


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", json.dumps({"shop_id": 1}).encode(), body_of("customers/redact", customer={"id": "x"})],
    ids=["not-json", "array", "incomplete", "bad-customer-id"],
)
def test_a_signed_malformed_body_is_400(make_receiver: Any, lake: Any, body: bytes) -> None:
    assert _status(make_receiver().handle(http_event(body))) == 400
    assert lake.objects() == {}


def test_another_shop_is_403_and_not_recorded(make_receiver: Any, lake: Any) -> None:
    body = body_of("customers/redact", shop_domain="other-shop.myshopify.com")
    response = make_receiver().handle(http_event(body))
    assert _status(response) == 403
    assert json.loads(response["body"])["reason"] == "other-shop"
    assert lake.objects() == {}


def test_the_body_is_never_logged(make_receiver: Any, caplog: pytest.LogCaptureFixture, capsys: Any) -> None:
    receiver = make_receiver()
    body = body_of("customers/data_request")
    with caplog.at_level(logging.INFO):  # DEBUG is botocore's wire log, off in the function
        receiver.handle(http_event(body, topic="customers/data_request"))  # recorded
        receiver.handle(http_event(body, topic="customers/data_request"))  # duplicate
        receiver.handle(http_event(body, topic="customers/data_request", signature="forged"))  # 401
        receiver.handle(http_event(body, topic="customers/redact"))  # 400
        receiver.handle(
            http_event(body_of("customers/data_request", shop_domain="x.myshopify.com"), topic="customers/data_request")
        )  # 403
    logged = caplog.text + capsys.readouterr().out
    assert "Jane" not in logged
    assert "625" not in logged
    assert "Example.com" not in logged
    assert sign(body) not in logged
    assert "shopify-app-client-secret" not in logged


def test_a_store_failure_is_5xx_so_that_shopify_retries(make_receiver: Any, lake: Any) -> None:
    lake.s3.delete_bucket(Bucket="acme-data-lake-123456789012")
    response = make_receiver().handle(http_event(body_of("customers/redact")))
    assert _status(response) in (500, 503)


def test_the_workflow_is_started_after_the_record_and_again_on_a_redelivery(make_receiver: Any, lake: Any) -> None:
    """Starting is idempotent (an execution named after the request); a redelivery starts again, so a start
    that failed the first time is made when Shopify retries."""
    calls: list[tuple[str, int]] = []
    failures = [ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "StartExecution")]

    class Recording:
        def describe(self, request: Any) -> dict[str, Any]:
            return {"name": "x", "started": False}

        def start(self, request: Any) -> None:
            calls.append((request.request_id, len(lake.objects(PREFIX))))
            if failures:
                raise failures.pop()

    receiver = make_receiver(workflow=Recording())
    body = body_of("customers/redact")
    assert _status(receiver.handle(http_event(body))) == 503  # recorded, but the start failed: Shopify retries
    assert _status(receiver.handle(http_event(body))) == 200  # the retry starts it
    assert len(calls) == 2
    assert calls[0][0] == calls[1][0]
    assert [count for _, count in calls] == [1, 1]  # always after the record, which is written once
