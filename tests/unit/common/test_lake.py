from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from common.lake import (
    Lake,
    UnsafeKeyError,
    bulk_part_key,
    quarantine_key,
    recharge_key,
    shopify_webhook_key,
)
from common.timeutil import parse_timestamp

WHEN = parse_timestamp("2024-09-26T23:51:35.781200288-04:00")


def test_shopify_key_is_deterministic_and_partitioned_by_utc_date() -> None:
    key = shopify_webhook_key("orders", "orders/create", WHEN, "3b1e8e4a-8c43-4d3e-9a55-0c7a2a5b1f10")
    assert key == (
        "raw/shopify/webhooks/orders/topic=orders_create/dt=2024-09-27/3b1e8e4a-8c43-4d3e-9a55-0c7a2a5b1f10.json"
    )


def test_recharge_and_bulk_keys() -> None:
    assert recharge_key("charge", "charge/paid", WHEN, "580825303") == (
        "raw/recharge/charge/topic=charge_paid/dt=2024-09-27/580825303-2024-09-27T035135.781200Z.json"
    )
    assert bulk_part_key("LineItem", "gid-shopify-BulkOperation-1", 3) == (
        "raw/shopify/bulk/LineItem/run=gid-shopify-BulkOperation-1/part-00003.jsonl.gz"
    )


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", ".", "x" * 300, "id with space"])
def test_input_cannot_shape_keys(bad: str) -> None:
    with pytest.raises(UnsafeKeyError):
        shopify_webhook_key("orders", "orders/create", WHEN, bad)


def test_quarantine_keys_are_content_addressed() -> None:
    first = quarantine_key("shopify", "not-json", WHEN, b"{oops")
    assert first == quarantine_key("shopify", "not-json", WHEN, b"{oops")
    assert first != quarantine_key("shopify", "not-json", WHEN, b"{oops!")
    assert first.startswith("quarantine/shopify/dt=2024-09-27/not-json/")


@mock_aws
def test_writes_verbatim_and_quarantines_with_reason() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    lake = Lake(s3, "lake")
    body = b'{"id": 1,  "spacing":   "kept"}'
    lake.put_verbatim("raw/x.json", body)
    assert s3.get_object(Bucket="lake", Key="raw/x.json")["Body"].read() == body
    key = lake.quarantine(
        source="shopify", reason="unknown-topic", body=b"\xff\x00", received_at=WHEN, detail="t\u00e9"
    )
    stored = s3.get_object(Bucket="lake", Key=key)
    assert stored["Body"].read() == b"\xff\x00"
    assert stored["Metadata"]["reason"] == "unknown-topic"
    assert stored["Metadata"]["detail"] == "t?"
