"""S3 to EventBridge on the local cloud (platformctl.localcloud.triggers): a bucket with EventBridge
notifications sends one "Object Created" event per new object (PutObject, CopyObject, a completed multipart
upload) to the rules of the account's default bus only, shaped as S3 sends it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.s3 import notifications

from platformctl.localcloud import triggers

REGION = "us-east-1"
BUCKET = "acme-data-lake-123456789012"
PATTERN = {
    "source": ["aws.s3"],
    "detail-type": ["Object Created"],
    "detail": {"bucket": {"name": [BUCKET]}, "object": {"key": [{"prefix": "raw/"}, {"prefix": "quarantine/"}]}},
}


class Cloud:
    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.events = boto3.client("events", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.queues: dict[str, str] = {}

    def queue(self, name: str) -> str:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        self.queues[name] = url
        return str(self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    def received(self, name: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queues[name], MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            found += [json.loads(m["Body"]) for m in batch]


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    # The two functions triggers.install puts in place of moto's (monkeypatch restores moto's afterwards).
    monkeypatch.setattr(notifications, "send_event", triggers._send_s3_event)
    monkeypatch.setattr(notifications, "_send_event_bridge_message", triggers._send_s3_to_eventbridge)
    with mock_aws():
        cloud = Cloud()
        cloud.s3.create_bucket(Bucket=BUCKET)
        cloud.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        cloud.s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        cloud.events.put_rule(Name="indexer", EventPattern=json.dumps(PATTERN))
        cloud.events.put_targets(Rule="indexer", Targets=[{"Id": "q", "Arn": cloud.queue("default-bus")}])
        cloud.events.create_event_bus(Name="acme-local-shopify-events")
        cloud.events.put_rule(
            Name="same-pattern-other-bus", EventBusName="acme-local-shopify-events", EventPattern=json.dumps(PATTERN)
        )
        cloud.events.put_targets(
            Rule="same-pattern-other-bus",
            EventBusName="acme-local-shopify-events",
            Targets=[{"Id": "q", "Arn": cloud.queue("other-bus")}],
        )
        yield cloud


def test_a_put_object_sends_one_event_shaped_as_s3_sends_it(cloud: Cloud) -> None:
    key = "raw/shopify/webhooks/orders/topic=orders_create/dt=2026-12-05/b54557e4 x+y.json"
    version = cloud.s3.put_object(Bucket=BUCKET, Key=key, Body=b'{"a": 1}')["VersionId"]
    (event,) = cloud.received("default-bus")
    assert event["source"] == "aws.s3"
    assert event["detail-type"] == "Object Created"
    assert event["resources"] == [f"arn:aws:s3:::{BUCKET}"]
    assert event["region"] == REGION
    assert event["time"].endswith("Z")  # ISO 8601, as every delivery renders it
    detail = event["detail"]
    assert detail["bucket"] == {"name": BUCKET}
    assert detail["object"]["key"] == key  # as written, not URL-encoded
    assert detail["object"]["size"] == 8
    assert detail["object"]["version-id"] == version
    assert detail["reason"] == "PutObject"


def test_a_multipart_upload_sends_one_complete_multipart_upload_event(cloud: Cloud) -> None:
    key = "raw/shopify/bulk/Order/run=9/part-00000.jsonl.gz"
    upload = cloud.s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts = []
    for number, body in ((1, b"a" * 5 * 1024 * 1024), (2, b"b" * 10)):
        etag = cloud.s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=body)["ETag"]
        parts.append({"ETag": etag, "PartNumber": number})
    assert cloud.received("default-bus") == []  # nothing before the upload completes
    cloud.s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
    (event,) = cloud.received("default-bus")
    assert event["detail"]["reason"] == "CompleteMultipartUpload"
    assert event["detail"]["object"]["key"] == key
    assert event["detail"]["object"]["size"] == 5 * 1024 * 1024 + 10


def test_a_copy_sends_a_copy_object_event_for_the_new_object(cloud: Cloud) -> None:
    cloud.s3.put_object(Bucket=BUCKET, Key="quarantine/a.json", Body=b"{}")
    cloud.s3.copy_object(Bucket=BUCKET, Key="raw/b.json", CopySource={"Bucket": BUCKET, "Key": "quarantine/a.json"})
    first, second = cloud.received("default-bus")
    assert (first["detail"]["object"]["key"], first["detail"]["reason"]) == ("quarantine/a.json", "PutObject")
    assert (second["detail"]["object"]["key"], second["detail"]["reason"]) == ("raw/b.json", "CopyObject")


def test_each_event_has_its_own_id(cloud: Cloud) -> None:
    for n in range(3):
        cloud.s3.put_object(Bucket=BUCKET, Key=f"raw/{n}.json", Body=b"{}")
    assert len({event["id"] for event in cloud.received("default-bus")}) == 3


def test_only_the_default_bus_receives_s3_events(cloud: Cloud) -> None:
    cloud.s3.put_object(Bucket=BUCKET, Key="raw/x.json", Body=b"{}")
    assert len(cloud.received("default-bus")) == 1
    assert cloud.received("other-bus") == []


def test_the_rules_pattern_decides_which_keys_reach_the_target(cloud: Cloud) -> None:
    for key in ("processed/x.parquet", "metadata/privacy/requests/a.json", "exports/privacy/a/export.json"):
        cloud.s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
    assert cloud.received("default-bus") == []


def test_a_bucket_without_eventbridge_notifications_sends_nothing(cloud: Cloud) -> None:
    cloud.s3.create_bucket(Bucket="acme-other")
    cloud.s3.put_object(Bucket="acme-other", Key="raw/x.json", Body=b"{}")
    assert cloud.received("default-bus") == []


def test_a_failing_rule_does_not_fail_the_write_or_the_other_rules(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cloud.events.put_rule(Name="broken", EventPattern=json.dumps(PATTERN))
    from moto.events.models import Rule

    original = Rule.send_to_targets

    def send(self: Any, event: Any, transform_input: bool = True) -> None:
        if self.name == "broken":
            raise RuntimeError("target gone")
        original(self, event, transform_input)

    monkeypatch.setattr(Rule, "send_to_targets", send)
    cloud.s3.put_object(Bucket=BUCKET, Key="raw/x.json", Body=b"{}")
    assert len(cloud.received("default-bus")) == 1
    assert "rule broken failed" in caplog.text


def test_the_reasons_are_s3s() -> None:
    assert triggers.S3_EVENT_REASONS[notifications.S3NotificationEvent.OBJECT_CREATED_PUT_EVENT.value] == "PutObject"
    assert triggers.S3_EVENT_REASONS["s3:ObjectCreated:CompleteMultipartUpload"] == "CompleteMultipartUpload"
    assert triggers.S3_EVENT_REASONS["s3:ObjectCreated:Copy"] == "CopyObject"
