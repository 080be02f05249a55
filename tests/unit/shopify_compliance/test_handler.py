"""The compliance webhook handler: signature, method, size, topic, shop, the record and its idempotency,
and the privacy workflow it starts."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import (
    DIGEST_KEY,
    EMAIL,
    OLD_SECRET,
    PHONE,
    PREFIX,
    SHOP,
    STATE_MACHINE_ARN,
    body_of,
    emitted,
    http_event,
    keyed,
    sign,
)

TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
KINDS = {"customers/data_request": "export", "customers/redact": "erase", "shop/redact": "shop_purge"}


def _status(response: dict[str, Any]) -> int:
    return int(response["statusCode"])


@pytest.mark.parametrize("topic", TOPICS)
def test_a_signed_request_is_recorded_once_per_topic(make_receiver: Any, lake: Any, topic: str) -> None:
    from common.privacy.requests import PrivacyRequest, load_request

    body = body_of(topic)
    response = make_receiver().handle(http_event(body, topic=topic))
    assert _status(response) == 200, response
    objects = lake.objects(PREFIX)
    assert len(objects) == 1
    ((key, stored),) = objects.items()
    assert key.startswith(f"{PREFIX}{topic.replace('/', '_')}/")
    assert key.endswith(".json")
    record = json.loads(stored)
    assert record["schema"] == 2
    assert record["topic"] == topic
    assert record["kind"] == KINDS[topic]
    assert record["origin"] == "shopify"
    assert record["shop_domain"] == SHOP
    assert record["delivery"]["event_id"] == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert record["delivery"]["webhook_id"] == "1f2a3b4c-0000-4000-8000-000000000001"
    assert record["data_request_id"] == (9999 if topic == "customers/data_request" else None)
    answer = json.loads(response["body"])
    assert answer["request_id"] == record["request_id"]
    assert answer["status"] == "recorded"
    # The shared library reads the record back as the workflow will.
    assert load_request(lake.s3, "acme-data-lake-123456789012", key) == PrivacyRequest.from_json(record)


@pytest.mark.parametrize("topic", ["customers/redact", "customers/data_request"])
def test_an_erasure_or_export_starts_the_workflow_named_after_the_request(
    make_receiver: Any, lake: Any, topic: str
) -> None:
    response = make_receiver().handle(http_event(body_of(topic), topic=topic))
    assert _status(response) == 200, response
    answer = json.loads(response["body"])
    assert answer["workflow"] == "started"
    (key,) = lake.objects(PREFIX)
    executions = lake.executions()
    assert list(executions) == [answer["request_id"]]
    (execution,) = executions.values()
    assert execution["stateMachineArn"] == STATE_MACHINE_ARN
    assert execution["input"] == {"request_key": key}
    assert emitted("WorkflowStarted") == 1
    assert emitted("RequestRecorded") == 1
    assert emitted("ShopRedactReceived") == 0


def test_the_record_names_the_person_by_keyed_subjects_never_the_contact_data(make_receiver: Any, lake: Any) -> None:
    body = body_of("customers/data_request")
    assert _status(make_receiver().handle(http_event(body, topic="customers/data_request"))) == 200
    (stored,) = lake.objects(PREFIX).values()
    # (digits only as long runs: a short one like "625" turns up in hex digests by chance)
    for clear in (b"Jane", b"jane", b"example.com", b"5556251199", PHONE.encode(), DIGEST_KEY.encode()):
        assert clear not in stored, clear
    record = json.loads(stored)
    # HMAC-SHA256(digest key, kind 0x00 normalised value), computed apart from common.privacy.digest.
    assert record["subjects"] == sorted(
        [
            "shopify-customer:191167",
            "shopify-order:299938",
            "shopify-order:280263",
            "shopify-order:220458",
            keyed("email", EMAIL.strip().lower()),
            keyed("phone", "+15556251199"),
        ]
    )
    assert record["data_request_id"] == 9999


def test_a_contact_value_that_is_no_email_or_phone_names_nobody(make_receiver: Any, lake: Any) -> None:
    body = body_of("customers/redact", customer={"id": 191167, "email": "not an address", "phone": "12"})
    assert _status(make_receiver().handle(http_event(body))) == 200
    (stored,) = lake.objects(PREFIX).values()
    subjects = json.loads(stored)["subjects"]
    assert not [s for s in subjects if s.startswith(("email:", "phone:"))]
    assert "shopify-customer:191167" in subjects


def test_shop_redact_names_nobody_starts_nothing_and_alarms(make_receiver: Any, lake: Any) -> None:
    receiver = make_receiver()
    response = receiver.handle(http_event(body_of("shop/redact"), topic="shop/redact"))
    assert _status(response) == 200
    assert json.loads(response["body"])["workflow"] == "not applicable"
    (stored,) = lake.objects(PREFIX).values()
    record = json.loads(stored)
    assert record["kind"] == "shop_purge"
    assert record["subjects"] == []
    assert lake.executions() == {}
    assert emitted("ShopRedactReceived") == 1
    # Shopify's redelivery of the same request: already recorded, and no second page.
    again = receiver.handle(http_event(body_of("shop/redact"), topic="shop/redact"))
    assert json.loads(again["body"])["status"] == "already recorded"
    assert emitted("ShopRedactReceived") == 1
    assert lake.executions() == {}


def test_shop_redact_needs_no_digest_key(make_receiver: Any, lake: Any) -> None:
    lake.secrets.delete_secret(SecretId=lake.digest_key_arn, ForceDeleteWithoutRecovery=True)
    assert _status(make_receiver().handle(http_event(body_of("shop/redact"), topic="shop/redact"))) == 200


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
    before, started = lake.objects(), lake.executions()
    again = receiver.handle(http_event(body))
    assert _status(again) == 200
    assert json.loads(again["body"])["status"] == "already recorded"
    replayed = receiver.handle(http_event(body, event_id="another-event-id"))  # same signed body, new header
    assert _status(replayed) == 200
    assert lake.objects() == before
    assert lake.executions() == started
    assert len(started) == 1


def test_a_redelivery_after_the_execution_ended_is_200_already_started(make_receiver: Any, lake: Any) -> None:
    """Step Functions refuses a second execution of the name (ExecutionAlreadyExists): fine, not a failure."""
    receiver = make_receiver()
    body = body_of("customers/redact")
    assert _status(receiver.handle(http_event(body))) == 200
    ((name, execution),) = lake.executions().items()
    lake.sfn.stop_execution(executionArn=execution["executionArn"])  # ended: a new start is refused
    again = receiver.handle(http_event(body))
    assert _status(again) == 200, again
    assert json.loads(again["body"])["workflow"] == "already started"
    assert list(lake.executions()) == [name]


def test_before_the_privacy_job_is_deployed_the_request_is_recorded_and_answered_503(
    make_bare_receiver: Any, bare_lake: Any
) -> None:
    """The state machine does not exist: the record is kept, Shopify is told to retry, and the retry after
    the privacy job is deployed only starts the workflow."""
    receiver = make_bare_receiver()
    body = body_of("customers/redact")
    first = receiver.handle(http_event(body))
    assert _status(first) == 503
    assert first["headers"]["retry-after"] == "60"
    assert emitted("WorkflowNotStarted") == 1
    recorded = bare_lake.objects(PREFIX)
    assert len(recorded) == 1
    assert _status(receiver.handle(http_event(body))) == 503  # still not deployed: still 503, same record
    assert bare_lake.objects(PREFIX) == recorded
    bare_lake.create_state_machine()
    retried = receiver.handle(http_event(body))
    assert _status(retried) == 200, retried
    assert json.loads(retried["body"]) | {"status": "already recorded", "workflow": "started"} == json.loads(
        retried["body"]
    )
    assert bare_lake.objects(PREFIX) == recorded
    ((name, execution),) = bare_lake.executions().items()
    assert name == json.loads(retried["body"])["request_id"]
    assert execution["input"] == {"request_key": next(iter(recorded))}


def test_shop_redact_is_200_even_without_the_privacy_job(make_bare_receiver: Any, bare_lake: Any) -> None:
    assert _status(make_bare_receiver().handle(http_event(body_of("shop/redact"), topic="shop/redact"))) == 200
    assert len(bare_lake.objects(PREFIX)) == 1


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


@pytest.mark.parametrize(
    "customer",
    [{"id": 10**20}, {"id": "1" * 21}, {"id": "1" * 5000}, {"id": 0}, {"id": True}],
    ids=["int-over-20-digits", "string-over-20-digits", "string-past-int-limit", "zero", "bool"],
)
def test_an_id_no_subject_can_hold_is_400(make_receiver: Any, lake: Any, customer: dict[str, Any]) -> None:
    response = make_receiver(MAX_BODY_BYTES="65536").handle(http_event(body_of("customers/redact", customer=customer)))
    assert _status(response) == 400
    assert json.loads(response["body"])["reason"] == "bad-shape"
    assert lake.objects() == {}
    assert lake.executions() == {}


@pytest.mark.parametrize("body", [b"[" * 100_000, b"1" * 5000], ids=["too-deep", "number-past-4300-digits"])
def test_json_python_cannot_read_is_400_not_a_crash(make_receiver: Any, lake: Any, body: bytes) -> None:
    response = make_receiver(MAX_BODY_BYTES="200000").handle(http_event(body))
    assert _status(response) == 400
    assert json.loads(response["body"])["reason"] == "bad-json"


def test_conflicting_spellings_of_a_header_are_400(make_receiver: Any, lake: Any) -> None:
    body = body_of("customers/redact")
    response = make_receiver().handle(http_event(body, extra={"Shopify-Topic": "shop/redact"}))
    assert _status(response) == 400
    assert json.loads(response["body"])["reason"] == "conflicting-headers"
    assert lake.objects() == {}


def test_the_events_system_spelling_of_the_headers_is_read(make_receiver: Any, lake: Any) -> None:
    body = body_of("customers/redact")
    event = http_event(body, topic=None, signature=None)
    event["headers"] = {k.removeprefix("x-"): v for k, v in event["headers"].items()}
    event["headers"] |= {"shopify-topic": "customers/redact", "shopify-hmac-sha256": sign(body)}
    response = make_receiver().handle(event)
    assert _status(response) == 200, response
    (stored,) = lake.objects(PREFIX).values()
    assert json.loads(stored)["delivery"]["event_id"] == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"


def test_another_route_is_404(make_receiver: Any, lake: Any) -> None:
    event = http_event(body_of("customers/redact")) | {"routeKey": "$default"}
    assert _status(make_receiver().handle(event)) == 404
    assert lake.objects() == {}


def test_an_unreadable_digest_key_is_5xx_and_stores_nothing(make_receiver: Any, lake: Any) -> None:
    lake.secrets.put_secret_value(SecretId=lake.digest_key_arn, SecretString=json.dumps({"digest_key": "short"}))
    assert _status(make_receiver().handle(http_event(body_of("customers/redact")))) == 500
    lake.secrets.delete_secret(SecretId=lake.digest_key_arn, ForceDeleteWithoutRecovery=True)
    assert _status(make_receiver().handle(http_event(body_of("customers/redact")))) in (500, 503)
    assert lake.objects() == {}
    assert lake.executions() == {}


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
    assert DIGEST_KEY not in logged


def test_a_store_failure_is_5xx_so_that_shopify_retries(make_receiver: Any, lake: Any) -> None:
    lake.s3.delete_bucket(Bucket="acme-data-lake-123456789012")
    response = make_receiver().handle(http_event(body_of("customers/redact")))
    assert _status(response) in (500, 503)


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "AccessDeniedException", "StateMachineDoesNotExist", "ExecutionLimitExceeded"]
)
def test_the_workflow_is_started_after_the_record_and_again_on_a_redelivery(
    make_receiver: Any, lake: Any, code: str
) -> None:
    """Starting is idempotent (an execution named after the request); a redelivery starts again, so a start
    that failed the first time (whatever the cause: 503, never 500) is made when Shopify retries."""
    calls: list[tuple[str, str, int]] = []
    failures = [ClientError({"Error": {"Code": code, "Message": "no"}}, "StartExecution")]

    class Recording:
        def start(self, request_id: str, record_key: str) -> bool:
            calls.append((request_id, record_key, len(lake.objects(PREFIX))))
            if failures:
                raise failures.pop()
            return True

    receiver = make_receiver(workflow=Recording())
    body = body_of("customers/redact")
    assert _status(receiver.handle(http_event(body))) == 503  # recorded, but the start failed: Shopify retries
    assert _status(receiver.handle(http_event(body))) == 200  # the retry starts it
    assert len(calls) == 2
    assert calls[0][:2] == calls[1][:2]
    assert calls[0][1] == next(iter(lake.objects(PREFIX)))
    assert [count for *_, count in calls] == [1, 1]  # always after the record, which is written once
