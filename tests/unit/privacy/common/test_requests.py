"""The request record: its JSON round trip, validation on load (reasons, never values), and the keys."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from common.privacy.requests import (
    ERASE,
    EXPORT,
    KINDS,
    SCHEMA,
    SHOP_PURGE,
    TOPICS,
    PrivacyRequest,
    audit_key,
    export_key,
    load_request,
    new_request_id,
    parse_request_key,
    request_key,
    work_key,
)
from common.privacy.subjects import request_subjects
from tests.unit.privacy.common.support import DIGESTER

REQUEST_ID = "5f0c2a9e4b7d4c1a8e3f6b2d9c0a1e7f"
BUCKET = "acme-dev-data-lake"


def record(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "request_id": REQUEST_ID,
        "kind": "erase",
        "origin": "shopify",
        "topic": "customers/redact",
        "shop_domain": "acme.myshopify.com",
        "subjects": list(
            request_subjects(
                DIGESTER, shopify_customer_id=191167, order_ids=[299938], email="jon@doe.ca", phone="+16135550123"
            )
        ),
        "received_at": "2026-12-05T12:00:01.123456Z",
        "delivery": {"event_id": "a9456c1f-086e-4925-a5bf-ca24ab0e0616", "webhook_id": "wh-1", "api_version": None},
        "data_request_id": None,
    }
    data.update(changes)
    return data


def test_round_trip() -> None:
    data = record()
    request = PrivacyRequest.from_json(data)
    assert request.to_json() == data
    assert json.loads(json.dumps(request.to_json())) == data
    assert request.key == f"metadata/privacy/requests/customers_redact/{REQUEST_ID}.json"
    assert request.kind == ERASE
    assert hash(request) == hash(PrivacyRequest.from_json(record()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.kind = "export"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("topic", "kind", "origin", "extra"),
    [
        ("customers/data_request", EXPORT, "shopify", {"data_request_id": 9999}),
        ("shop/redact", SHOP_PURGE, "shopify", {"subjects": []}),
        ("operator/erase", ERASE, "operator", {"delivery": None}),
        ("operator/export", EXPORT, "operator", {"delivery": None}),
    ],
)
def test_every_topic(topic: str, kind: str, origin: str, extra: dict[str, Any]) -> None:
    request = PrivacyRequest.from_json(record(topic=topic, kind=kind, origin=origin, **extra))
    assert request.kind in KINDS
    assert request.to_json() == record(topic=topic, kind=kind, origin=origin, **extra)
    assert TOPICS[topic] == (kind, origin)


PERSONAL = "jon@doe.ca"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"schema": 1}, "schema is not 2"),
        ({"schema": "2"}, "schema is not 2"),
        ({"schema": True}, "schema is not 2"),
        ({"request_id": REQUEST_ID.upper()}, "request_id is not 32 lower-case hex"),
        ({"request_id": REQUEST_ID[:31]}, "request_id"),
        ({"request_id": 5}, "request_id"),
        ({"topic": "customers/create"}, "topic is not a privacy request topic"),
        ({"kind": "export"}, "kind does not match topic customers/redact"),
        ({"kind": "shop_redact"}, "kind does not match"),
        ({"origin": "operator"}, "origin does not match"),
        ({"shop_domain": "Acme.myshopify.com"}, "shop_domain"),
        ({"shop_domain": "../etc"}, "shop_domain"),
        ({"subjects": [PERSONAL]}, r"subjects\[0\] is not"),
        ({"subjects": ["checkout:abc"]}, r"subjects\[0\] is not"),
        ({"subjects": "shopify-customer:1"}, "subjects is not a list"),
        ({"subjects": []}, "a erase request names no subject"),
        ({"received_at": "yesterday " + PERSONAL}, "received_at"),
        ({"received_at": "2026-12-05T12:00:01"}, "received_at"),
        ({"delivery": {"event_id": PERSONAL}}, "delivery.event_id is not a delivery id"),
        ({"delivery": {"Event Id": "x"}}, "delivery has a field"),
        ({"delivery": "x"}, "delivery is not an object"),
        ({"data_request_id": 5}, "not customers/data_request"),
        ({"data_request_id": -1}, "data_request_id is not a positive integer"),
        ({"data_request_id": True}, "data_request_id"),
    ],
)
def test_a_bad_record_is_refused_with_a_reason_and_no_personal_data(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as raised:
        PrivacyRequest.from_json(record(**changes))
    message = str(raised.value)
    assert message.startswith("privacy request record: ")
    assert PERSONAL not in message
    assert "yesterday" not in message


def test_missing_fields_and_other_shapes() -> None:
    data = record()
    del data["subjects"], data["received_at"]
    with pytest.raises(ValueError, match="missing subjects, received_at"):
        PrivacyRequest.from_json(data)
    with pytest.raises(ValueError, match="not a JSON object"):
        PrivacyRequest.from_json([record()])


def test_the_first_increments_record_is_not_a_schema_2_record() -> None:
    first = {
        "schema": 1,
        "request_id": REQUEST_ID,
        "topic": "customers/redact",
        "shop_id": 954889,
        "shop_domain": "acme.myshopify.com",
        "customer": {"id": 191167, "email_sha256": "9a1e", "phone_sha256": None},
        "order_ids": [299938],
    }
    with pytest.raises(ValueError, match="missing"):
        PrivacyRequest.from_json(first)


def test_keys() -> None:
    assert request_key("customers/data_request", REQUEST_ID) == (
        f"metadata/privacy/requests/customers_data_request/{REQUEST_ID}.json"
    )
    assert request_key("operator/erase", REQUEST_ID) == f"metadata/privacy/requests/operator_erase/{REQUEST_ID}.json"
    assert audit_key(REQUEST_ID) == f"metadata/privacy/audit/{REQUEST_ID}.json"
    assert work_key(REQUEST_ID, "plan") == f"metadata/privacy/work/{REQUEST_ID}/plan.json"
    assert work_key(REQUEST_ID, "progress") == f"metadata/privacy/work/{REQUEST_ID}/progress.json"
    assert export_key(REQUEST_ID) == f"exports/privacy/{REQUEST_ID}/export.json"
    for topic in TOPICS:
        assert parse_request_key(request_key(topic, REQUEST_ID)) == (topic, REQUEST_ID)
    for helper in (
        audit_key,
        export_key,
        lambda rid: work_key(rid, "plan"),
        lambda rid: request_key("shop/redact", rid),
    ):
        with pytest.raises(ValueError, match="request_id"):
            helper("../" + REQUEST_ID[3:])
    with pytest.raises(ValueError, match="slug"):
        work_key(REQUEST_ID, "../plan")
    with pytest.raises(ValueError, match="topic"):
        request_key("customers/create", REQUEST_ID)
    for key in (
        f"metadata/privacy/requests/customers_create/{REQUEST_ID}.json",
        f"metadata/privacy/audit/{REQUEST_ID}.json",
        f"metadata/privacy/requests/customers_redact/{REQUEST_ID}.json.bak",
    ):
        with pytest.raises(ValueError, match="not a privacy request record's key"):
            parse_request_key(key)


def test_new_request_ids_are_32_lower_case_hex() -> None:
    ids = {new_request_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_load_request(s3: Any) -> None:
    key = request_key("customers/redact", REQUEST_ID)
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(record()).encode())
    assert load_request(s3, BUCKET, key) == PrivacyRequest.from_json(record())


def test_load_refuses_a_record_at_another_key(s3: Any) -> None:
    other = "0" * 32
    key = request_key("customers/redact", other)
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(record()).encode())
    with pytest.raises(ValueError, match="stored at a key other than"):
        load_request(s3, BUCKET, key)
    relabelled = request_key("customers/data_request", REQUEST_ID)
    s3.put_object(Bucket=BUCKET, Key=relabelled, Body=json.dumps(record()).encode())
    with pytest.raises(ValueError, match="stored at a key other than"):
        load_request(s3, BUCKET, relabelled)


def test_load_refuses_what_is_not_a_record(s3: Any) -> None:
    key = request_key("customers/redact", REQUEST_ID)
    s3.put_object(Bucket=BUCKET, Key=key, Body=b'{"email": "jon@doe.ca"')
    with pytest.raises(ValueError, match="not JSON") as raised:
        load_request(s3, BUCKET, key)
    assert PERSONAL not in str(raised.value)
    s3.put_object(Bucket=BUCKET, Key=key, Body=b" " * (1024 * 1024 + 1))
    with pytest.raises(ValueError, match="larger than"):
        load_request(s3, BUCKET, key)
    with pytest.raises(ValueError, match="not a privacy request record's key"):
        load_request(s3, BUCKET, "raw/x.json")
