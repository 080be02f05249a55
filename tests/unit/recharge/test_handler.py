"""The handler end to end under moto: what is answered, what is stored where, what is never stored or
logged, and how AWS failures and secret rotations behave."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.unit.recharge.conftest import (
    OLD_SECRET,
    PATH_TOKEN,
    RESOURCES,
    SECRET,
    ReceiverFactory,
    Stack,
    fixture_record,
    http_event,
    response_json,
    signed_event,
    webhook_body,
)

FIXTURE_DAY = 1684000000.0  # 2023-05-13T17:46:40Z: the fixtures' updated_at are hours old, as on delivery
CANCELLED = {"status": "cancelled", "cancelled_at": "2023-05-13T04:07:32+00:00"}


def _document(webhook_secret: str) -> str:
    return json.dumps({"webhook_secret": webhook_secret, "path_token": PATH_TOKEN})


TABLE_OF = {"subscription": "subscriptions", "charge": "charges", "order": "invoices", "customer": "customers"}
KEY_OF = {
    "subscription": lambda i: {"subscription_id": i},
    "charge": lambda i: {"charge_id": i},
    "order": lambda i: {"order_id": i},
    "customer": lambda i: {"customer_key": f"recharge:{i}"},
}


def _assert_nothing_stored(stack: Stack) -> None:
    assert stack.objects() == {}
    assert stack.item_count() == 0


# ------------------------------------------------------------------------------ authentic deliveries


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize(("scheme", "per_topic_url"), [("legacy", False), ("timestamped", True), ("both", True)])
def test_every_real_fixture_lands_in_the_lake_and_its_hot_store(
    aws_stack: Stack, make_receiver: ReceiverFactory, resource: str, scheme: str, per_topic_url: bool
) -> None:
    body = webhook_body(resource)
    topic = f"{resource}/created"
    # A legacy-only delivery counts only while its signed updated_at is within the replay window.
    receiver = make_receiver(clock=lambda: FIXTURE_DAY) if scheme == "legacy" else make_receiver()
    response = receiver.handle(signed_event(body, topic, scheme=scheme, per_topic_url=per_topic_url))
    assert response["statusCode"] == 200, response
    record = fixture_record(resource)
    assert response_json(response) == {
        "status": "accepted",
        "topic": topic,
        "id": str(record["id"]),
        "outcome": "written",
    }
    objects = aws_stack.objects()
    (key,) = objects
    assert key.startswith(f"raw/recharge/{resource}/topic={resource}_created/dt=2023-05-13/{record['id']}-")
    assert objects[key] == body  # verbatim
    if resource == "address":
        assert aws_stack.item_count() == 0  # raw only
        return
    item = aws_stack.item(TABLE_OF[resource], KEY_OF[resource](str(record["id"])))
    assert item is not None
    assert item["source_updated_at"].startswith("2023-05-13T04:")
    assert item["source_event_id"].startswith("c-")
    assert item["last_topic"] == topic
    assert aws_stack.item_count() == 1


def test_a_base64_body_is_decoded_before_the_signature_check(aws_stack: Stack, make_receiver: ReceiverFactory) -> None:
    body = webhook_body("charge")
    response = make_receiver().handle(signed_event(body, "charge/paid", base64_body=True))
    assert response["statusCode"] == 200
    assert list(aws_stack.objects().values()) == [body]


def test_duplicates_and_late_deliveries_keep_the_newest_state(aws_stack: Stack, make_receiver: ReceiverFactory) -> None:
    receiver = make_receiver()
    record = fixture_record("subscription")
    newer = webhook_body("subscription", dict(record, **CANCELLED, updated_at="2023-06-01T00:00:00+00:00"))
    older = webhook_body("subscription", record)
    assert response_json(receiver.handle(signed_event(newer, "subscription/cancelled")))["outcome"] == "written"
    assert response_json(receiver.handle(signed_event(newer, "subscription/cancelled")))["outcome"] == "duplicate"
    assert response_json(receiver.handle(signed_event(older, "subscription/updated")))["outcome"] == "stale"
    item = aws_stack.item("subscriptions", {"subscription_id": "153601366"})
    assert item is not None
    assert item["status"] == "cancelled"
    assert item["source_updated_at"] == "2023-06-01T00:00:00.000000Z"
    assert len(aws_stack.objects("raw/")) == 2  # each version once in the lake, the late one included


def test_a_delete_marks_the_item(aws_stack: Stack, make_receiver: ReceiverFactory) -> None:
    receiver = make_receiver()
    body = webhook_body("charge")
    receiver.handle(signed_event(body, "charge/updated"))
    relabelled = response_json(receiver.handle(signed_event(body, "charge/deleted")))
    assert relabelled == {"status": "quarantined", "reason": "topic-disagrees"}
    deleted = webhook_body("charge", dict(fixture_record("charge"), deleted_at="2023-05-13T05:00:00+00:00"))
    assert response_json(receiver.handle(signed_event(deleted, "charge/deleted")))["outcome"] == "written"
    item = aws_stack.item("charges", {"charge_id": "580825303"})
    assert item is not None
    assert item["deleted"] is True
    assert item["last_topic"] == "charge/deleted"
    assert item["source_updated_at"] == "2023-05-13T05:00:00.000000Z"  # deleted_at, later than updated_at


# ------------------------------------------------------------------------------ refused deliveries


@pytest.mark.parametrize(
    "event_kwargs",
    [
        {"secret": "forged-secret"},
        {"scheme": "timestamped", "timestamp": int(time.time()) - 48 * 3600 - 120},
        {"scheme": "timestamped", "timestamp": int(time.time()) + 3600},
    ],
    ids=["forged", "stale", "future"],
)
def test_unauthenticated_deliveries_are_401_and_store_nothing(
    aws_stack: Stack, make_receiver: ReceiverFactory, event_kwargs: dict[str, Any]
) -> None:
    response = make_receiver().handle(
        signed_event(webhook_body("subscription"), "subscription/cancelled", **event_kwargs)
    )
    assert response["statusCode"] == 401
    assert response_json(response) == {"error": "invalid or missing signature"}
    _assert_nothing_stored(aws_stack)
    assert aws_stack.alerts() == []


def test_missing_signature_is_401(aws_stack: Stack, make_receiver: ReceiverFactory) -> None:
    body = webhook_body("order")
    assert make_receiver().handle(http_event(body, {"x-recharge-topic": "order/created"}))["statusCode"] == 401
    _assert_nothing_stored(aws_stack)


def test_a_tampered_body_is_401(aws_stack: Stack, make_receiver: ReceiverFactory) -> None:
    event = signed_event(webhook_body("order"), "order/created")
    event["body"] = event["body"].replace("success", "refunded")
    assert make_receiver().handle(event)["statusCode"] == 401
    _assert_nothing_stored(aws_stack)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
def test_other_methods_are_405(aws_stack: Stack, make_receiver: ReceiverFactory, method: str) -> None:
    event = signed_event(webhook_body("subscription"), "subscription/created")
    event["requestContext"]["http"]["method"] = method
    response = make_receiver().handle(event)
    assert response["statusCode"] == 405
    assert response["headers"]["allow"] == "POST"
    _assert_nothing_stored(aws_stack)


@pytest.mark.parametrize("base64_body", [False, True])
def test_bodies_over_the_limit_are_413(aws_stack: Stack, make_receiver: ReceiverFactory, base64_body: bool) -> None:
    receiver = make_receiver()
    limit = receiver.settings.max_body_bytes
    assert limit == 1024 * 1024
    head, tail = b'{"subscription": {"pad": "', b'"}}'
    big = head + b"x" * (limit + 1 - len(head) - len(tail)) + tail
    assert len(big) == limit + 1
    response = receiver.handle(signed_event(big, "subscription/updated", base64_body=base64_body))
    assert response["statusCode"] == 413
    _assert_nothing_stored(aws_stack)
    at_limit = big[: limit - len(tail)] + tail
    assert receiver.handle(signed_event(at_limit, "subscription/updated", base64_body=base64_body))["statusCode"] == 200


def test_undecodable_base64_is_400(aws_stack: Stack, make_receiver: ReceiverFactory) -> None:
    event = http_event(b"", {"x-recharge-hmac-sha256": "0" * 64})
    event.update(body="%%% not base64 %%%", isBase64Encoded=True)
    assert make_receiver().handle(event)["statusCode"] == 400
    _assert_nothing_stored(aws_stack)


# ------------------------------------------------------------------------------ quarantine


@pytest.mark.parametrize(
    ("body", "topic", "reason"),
    [
        (b"\xff\xfe not json \x00", "subscription/updated", "unparseable-json"),
        (webhook_body("subscription"), "subscription/teleported", "unknown-topic"),
        (webhook_body("subscription"), None, "missing-topic"),
        (webhook_body("charge"), "subscription/updated", "topic-mismatch"),
        (json.dumps({"order": {"updated_at": "2024-01-01T00:00:00Z"}}).encode(), "order/created", "missing-id"),
    ],
)
def test_authentic_but_unprocessable_deliveries_are_quarantined_and_answered_200(
    aws_stack: Stack, make_receiver: ReceiverFactory, body: bytes, topic: str | None, reason: str
) -> None:
    event = signed_event(body, topic, base64_body=True) if topic else signed_event(body, None, base64_body=True)
    response = make_receiver().handle(event)
    assert response["statusCode"] == 200
    assert response_json(response) == {"status": "quarantined", "reason": reason}
    objects = aws_stack.objects()
    (key,) = objects
    assert key.startswith("quarantine/recharge/dt=")
    assert f"/{reason}/" in key
    assert objects[key] == body  # verbatim, byte for byte
    head = aws_stack.s3.head_object(Bucket=aws_stack.bucket, Key=key)
    assert head["Metadata"]["reason"] == reason
    assert aws_stack.item_count() == 0


# ------------------------------------------------------------------------------ AWS failures


def _fail_puts(monkeypatch: pytest.MonkeyPatch, receiver: Any, error: Exception) -> None:
    def put_object(**_: Any) -> None:
        raise error

    monkeypatch.setattr(receiver.lake.s3, "put_object", put_object)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "PutObject"), 503),
        (
            ClientError({"Error": {"Code": "InternalError"}, "ResponseMetadata": {"HTTPStatusCode": 500}}, "PutObject"),
            503,
        ),
        (EndpointConnectionError(endpoint_url="https://s3.example"), 503),
        (ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject"), 500),
    ],
)
def test_aws_failures_are_5xx_so_recharge_retries_and_a_retry_converges(
    aws_stack: Stack, make_receiver: ReceiverFactory, monkeypatch: pytest.MonkeyPatch, error: Exception, status: int
) -> None:
    receiver = make_receiver()
    event = signed_event(webhook_body("subscription"), "subscription/updated")
    with monkeypatch.context() as patch:
        _fail_puts(patch, receiver, error)
        assert receiver.handle(event)["statusCode"] == status
    assert aws_stack.item_count() == 0
    retried = receiver.handle(event)
    assert retried["statusCode"] == 200
    assert response_json(retried)["outcome"] == "written"


def test_a_failed_hot_store_write_after_the_lake_write_is_retried_to_the_same_end(
    aws_stack: Stack, make_receiver: ReceiverFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = make_receiver()
    event = signed_event(webhook_body("order"), "order/processed")
    throttled = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")
    with monkeypatch.context() as patch:
        patch.setattr(receiver.dynamodb, "update_item", lambda **_: (_ for _ in ()).throw(throttled))
        assert receiver.handle(event)["statusCode"] == 503
    assert len(aws_stack.objects("raw/")) == 1
    assert receiver.handle(event)["statusCode"] == 200
    assert len(aws_stack.objects("raw/")) == 1  # the same key, overwritten, not a second object
    assert aws_stack.item("invoices", {"order_id": "534919106"}) is not None


def test_an_unreadable_secret_is_5xx_not_401(aws_stack: Stack, make_receiver: ReceiverFactory) -> None:
    aws_stack.secrets.delete_secret(SecretId=aws_stack.secret_arn, ForceDeleteWithoutRecovery=True)
    response = make_receiver().handle(signed_event(webhook_body("subscription"), "subscription/updated"))
    assert response["statusCode"] == 500
    _assert_nothing_stored(aws_stack)


def test_a_secret_without_its_key_is_500(aws_stack: Stack, make_receiver: ReceiverFactory) -> None:
    aws_stack.secrets.put_secret_value(SecretId=aws_stack.secret_arn, SecretString=json.dumps({"other": "x"}))
    assert make_receiver().handle(signed_event(webhook_body("order"), "order/created"))["statusCode"] == 500


# ------------------------------------------------------------------------------ rotation


class CountingSecrets:
    def __init__(self, client: Any) -> None:
        self.client, self.calls = client, 0

    def get_secret_value(self, **kwargs: Any) -> Any:
        self.calls += 1
        return self.client.get_secret_value(**kwargs)


def test_rotation_accepts_the_previous_secret_during_the_overlap(
    aws_stack: Stack, make_receiver: ReceiverFactory
) -> None:
    aws_stack.secrets.put_secret_value(SecretId=aws_stack.secret_arn, SecretString=_document(OLD_SECRET))
    aws_stack.secrets.put_secret_value(SecretId=aws_stack.secret_arn, SecretString=_document(SECRET))
    receiver = make_receiver()
    body = webhook_body("customer")
    assert receiver.handle(signed_event(body, "customer/updated", secret=SECRET))["statusCode"] == 200
    assert receiver.handle(signed_event(body, "customer/updated", secret=OLD_SECRET))["statusCode"] == 200
    # Past the grace period (PreviousSecretGraceHours after the current version was created) it is refused.
    receiver.secrets._wall_clock = lambda: time.time() + 48 * 3600 + 60
    assert receiver.handle(signed_event(body, "customer/updated", secret=OLD_SECRET))["statusCode"] == 401
    assert receiver.handle(signed_event(body, "customer/updated", secret=SECRET))["statusCode"] == 200
    aws_stack.secrets.put_secret_value(SecretId=aws_stack.secret_arn, SecretString=_document("third"))
    fresh = make_receiver()
    assert fresh.handle(signed_event(body, "customer/updated", secret=OLD_SECRET))["statusCode"] == 401
    assert fresh.handle(signed_event(body, "customer/updated", secret=SECRET))["statusCode"] == 200


def test_a_rotation_after_caching_is_picked_up_but_forgeries_cannot_force_rereads(
    aws_stack: Stack, make_receiver: ReceiverFactory
) -> None:
    counting = CountingSecrets(aws_stack.secrets)
    now = [1000.0]
    receiver = make_receiver(secrets_client=counting)
    receiver.secrets._clock = lambda: now[0]
    body = webhook_body("subscription")
    assert receiver.handle(signed_event(body, "subscription/updated"))["statusCode"] == 200
    reads = counting.calls
    aws_stack.secrets.put_secret_value(SecretId=aws_stack.secret_arn, SecretString=_document("new-one"))
    # signed with the new secret: the cached value does not match, the cache is refreshed once, it passes
    assert receiver.handle(signed_event(body, "subscription/updated", secret="new-one"))["statusCode"] == 200
    assert counting.calls > reads
    reads = counting.calls
    for _ in range(5):  # forgeries within the refresh interval do not reach Secrets Manager
        assert receiver.handle(signed_event(body, "subscription/updated", secret="forged"))["statusCode"] == 401
    assert counting.calls == reads
    now[0] += 61
    assert receiver.handle(signed_event(body, "subscription/updated", secret="forged"))["statusCode"] == 401
    assert counting.calls > reads  # after the interval, one refresh again


# ------------------------------------------------------------------------------ alerts


def test_cancellations_and_max_retries_publish_id_only_alerts(aws_stack: Stack, make_receiver: ReceiverFactory) -> None:
    receiver = make_receiver()
    cancelled = webhook_body("subscription", dict(fixture_record("subscription"), **CANCELLED))
    receiver.handle(signed_event(cancelled, "subscription/cancelled", per_topic_url=True))
    in_error = webhook_body("charge", dict(fixture_record("charge"), status="error"))
    receiver.handle(signed_event(in_error, "charge/max_retries_reached"))
    receiver.handle(signed_event(webhook_body("charge"), "charge/failed"))
    alerts = aws_stack.alerts()
    assert sorted(a["message"]["alert"] for a in alerts) == ["charge-max-retries", "subscription-cancelled"]
    cancelled = next(a for a in alerts if a["message"]["alert"] == "subscription-cancelled")
    assert cancelled["message"]["subscription_id"] == "153601366"
    assert cancelled["subject"] == "Recharge subscription cancelled: subscription 153601366"
    text = json.dumps(alerts).lower()
    assert "kozakevich" not in text
    assert "example.com" not in text


def test_alerts_follow_the_version_rules(aws_stack: Stack, make_receiver: ReceiverFactory) -> None:
    receiver = make_receiver()
    record = fixture_record("subscription")
    newer = webhook_body("subscription", dict(record, updated_at="2024-01-01T00:00:00Z"))
    receiver.handle(signed_event(newer, "subscription/updated"))
    stale = webhook_body("subscription", dict(record, **CANCELLED))
    receiver.handle(signed_event(stale, "subscription/cancelled"))  # older than stored
    assert aws_stack.alerts() == []  # a stale cancellation is not news
    cancel = webhook_body("subscription", dict(record, **CANCELLED, updated_at="2024-02-01T00:00:00Z"))
    receiver.handle(signed_event(cancel, "subscription/cancelled"))
    receiver.handle(signed_event(cancel, "subscription/cancelled"))  # a duplicate: not published again
    receiver.handle(signed_event(cancel, "subscription/updated"))  # the sibling topic: no alert of its own
    assert len(aws_stack.alerts()) == 1


def test_a_retry_after_a_failed_publish_publishes(
    aws_stack: Stack, make_receiver: ReceiverFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [time.time()]
    receiver = make_receiver(clock=lambda: now[0])
    cancel = webhook_body("subscription", dict(fixture_record("subscription"), **CANCELLED))
    event = signed_event(cancel, "subscription/cancelled", timestamp=int(now[0]))
    throttled = ClientError({"Error": {"Code": "Throttled"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "Publish")
    with monkeypatch.context() as patch:
        patch.setattr(receiver.sns, "publish", lambda **_: (_ for _ in ()).throw(throttled))
        assert receiver.handle(event)["statusCode"] == 503
    assert aws_stack.alerts() == []
    assert receiver.handle(event)["statusCode"] == 200  # within the claim: another delivery may be publishing
    assert aws_stack.alerts() == []
    now[0] += receiver.settings.alert_claim_seconds + 1  # Recharge's retry comes minutes later
    assert receiver.handle(event)["statusCode"] == 200
    assert len(aws_stack.alerts()) == 1
    now[0] += 3600
    assert receiver.handle(event)["statusCode"] == 200
    assert aws_stack.alerts() == []  # published and marked: never again


def test_no_alerts_without_a_topic(aws_stack: Stack, make_receiver: ReceiverFactory) -> None:
    receiver = make_receiver(alerts=False)
    assert receiver.sns is None
    response = receiver.handle(signed_event(webhook_body("subscription"), "subscription/cancelled"))
    assert response["statusCode"] == 200
    assert aws_stack.alerts() == []


# ------------------------------------------------------------------------------ logs


def test_logs_never_contain_a_body_a_secret_or_a_signature(
    aws_stack: Stack, make_receiver: ReceiverFactory, caplog: pytest.LogCaptureFixture
) -> None:
    from common.observability import logger

    receiver = make_receiver()
    marker = "kozakevich_k@example.com"
    body = webhook_body("subscription", dict(fixture_record("subscription"), product_title=marker))
    good = signed_event(body, "subscription/updated")
    forged = signed_event(body, "subscription/updated", secret="forged")
    probe = signed_event(body, "subscription/updated", token=PATH_TOKEN[:-1] + "x")
    with caplog.at_level("DEBUG", logger=logger.name):  # the handler's own logger, at its most verbose
        for event in (good, forged, probe, signed_event(b"\xff" + body, "subscription/updated", base64_body=True)):
            receiver.handle(event)
    # every record as the function writes it: Powertools' JSON with all its extra keys
    records = [record for record in caplog.records if record.name == logger.name]
    logged = "\n".join(logger.registered_formatter.format(record) for record in records)
    assert "delivery stored" in logged
    assert "delivery refused: signature" in logged
    assert "delivery quarantined" in logged
    assert '"reason":"mismatch"' in logged
    assert "request refused: path token" in logged
    for secret_thing in (
        SECRET,
        PATH_TOKEN,
        PATH_TOKEN[:-1] + "x",
        marker,
        good["headers"]["x-recharge-hmac-sha256"],
        good["headers"]["x-recharge-webhook-signature"].split("v1=")[1],
        forged["headers"]["x-recharge-hmac-sha256"],
        base64.b64encode(body).decode()[:40],
    ):
        assert secret_thing not in logged


# ------------------------------------------------------------------------------ the deployed entry point


class _Context:
    function_name = "acme-test-recharge-webhook"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:acme-test-recharge-webhook"
    memory_limit_in_mb = 512
    aws_request_id = "request-1"
    log_group_name = "/aws/lambda/acme-test-recharge-webhook"
    log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def test_the_handler_entry_point_as_the_runtime_calls_it(
    aws_stack: Stack,
    app_module: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from common.observability import logger, metrics

    metrics.clear_metrics()
    event = signed_event(webhook_body("subscription"), "subscription/created")
    with caplog.at_level("INFO", logger=logger.name):
        response = app_module.handler(event, _Context())
    assert response["statusCode"] == 200
    assert response_json(response)["outcome"] == "written"
    flushed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert flushed
    assert flushed[-1]["SignatureAccepted"] == [1.0]
    assert flushed[-1]["DeliveryStored"] == [1.0]
    assert flushed[-1]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "acme/Recharge"
    lines = [json.loads(logger.registered_formatter.format(r)) for r in caplog.records if r.name == logger.name]
    stored = next(line for line in lines if line["message"] == "delivery stored")
    assert stored["correlation_id"] == "test-request"
    assert stored["function_request_id"] == "request-1"
    assert app_module.settings.alerts_topic_arn == aws_stack.topic_arn


def test_a_bad_naive_zone_stops_the_cold_start(aws_stack: Stack, app_module: Any) -> None:
    from common.config import ConfigError, load_settings

    settings = load_settings(app_module.Settings, {**aws_stack.environment(), "RECHARGE_NAIVE_TIMEZONE": "Mars/Base"})
    with pytest.raises(ConfigError, match="RECHARGE_NAIVE_TIMEZONE"):
        settings.naive_zone()


def test_a_newer_customer_delivery_removes_contact_fields_an_earlier_version_stored(
    aws_stack: Stack, make_receiver: ReceiverFactory
) -> None:
    record = fixture_record("customer")
    key = KEY_OF["customer"](str(record["id"]))
    # An item as this handler wrote it before the customers table stopped keeping contact fields.
    aws_stack.dynamodb.put_item(
        TableName=aws_stack.tables["customers"],
        Item={
            "customer_key": {"S": key["customer_key"]},
            "email": {"S": "someone@example.com"},
            "first_name": {"S": "Some"},
            "last_name": {"S": "One"},
        },
    )
    newer = {**record, "updated_at": "2030-01-01T00:00:00+00:00"}
    response = make_receiver().handle(
        signed_event(webhook_body("customer", newer), "customer/updated", scheme="timestamped")
    )
    assert response_json(response)["outcome"] == "written"
    item = aws_stack.item("customers", key)
    assert item is not None
    assert {"email", "first_name", "last_name"}.isdisjoint(item)
