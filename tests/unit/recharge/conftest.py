"""The Recharge webhook handler under moto: a deployed-like set of AWS resources, signed deliveries built from the
real fixtures, and receivers to send them to."""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from platformctl.commands.recharge import signed_headers
from platformctl.manifest import REPO_ROOT
from tests.unit import lambda_loader

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "recharge"

REGION = "us-east-1"
SECRET = "current-client-secret-0123456789"
OLD_SECRET = "previous-client-secret-9876543210"
PATH_TOKEN = "path-token-0123456789abcdefghijklmnopqrstuv"
OLD_PATH_TOKEN = "old-path-token-0123456789abcdefghijklmnopq"
SECRET_DOCUMENT = {"webhook_secret": SECRET, "path_token": PATH_TOKEN}
RESOURCES = ("subscription", "charge", "order", "customer", "address")
TABLE_KEYS = {
    "subscriptions": ("subscription_id", ["customer_id"]),
    "charges": ("charge_id", ["customer_id"]),
    "invoices": ("order_id", ["customer_id", "shopify_order_id"]),
    "customers": ("customer_key", ["shopify_customer_id"]),
}


def fixture_record(resource: str) -> dict[str, Any]:
    """A real Recharge record (tests/fixtures/recharge, MIT, see ATTRIBUTION.md)."""
    return json.loads((FIXTURES / f"{resource}__airbyte.json").read_text(encoding="utf-8"))


def webhook_body(resource: str, record: dict[str, Any] | None = None) -> bytes:
    """A webhook body as Recharge sends it: the resource wrapped in its own key."""
    return json.dumps({resource: record if record is not None else fixture_record(resource)}).encode()


def http_event(
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    method: str = "POST",
    path_topic: str | None = None,
    base64_body: bool = False,
    token: str | None = PATH_TOKEN,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload-2.0 event, as the local front end and AWS build it (``token``
    None: a request that matched no webhook route, as the ``$default`` route passes it)."""
    if token is None:
        path = "/" + (path_topic or "")
        route = "$default"
    else:
        path = f"/recharge/webhooks/{token}" + (f"/{path_topic}" if path_topic else "")
        route = "ANY /recharge/webhooks/{token}" + ("/{resource}/{event}" if path_topic else "")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "test-request",
            "routeKey": route,
            "stage": "$default",
        },
        "isBase64Encoded": base64_body,
    }
    if token is not None:
        event["pathParameters"] = {"token": token}
        if path_topic:
            resource, _, name = path_topic.partition("/")
            event["pathParameters"].update(resource=resource, event=name)
    if body:
        event["body"] = base64.b64encode(body).decode() if base64_body else body.decode("utf-8")
    return event


def signed_event(
    body: bytes,
    topic: str | None,
    *,
    secret: str = SECRET,
    scheme: str = "both",
    timestamp: int | None = None,
    per_topic_url: bool = False,
    base64_body: bool = False,
    token: str = PATH_TOKEN,
) -> dict[str, Any]:
    headers = signed_headers(secret, body, topic=None if per_topic_url else topic, timestamp=timestamp, scheme=scheme)
    return http_event(body, headers, path_topic=topic if per_topic_url else None, base64_body=base64_body, token=token)


@pytest.fixture(autouse=True)
def _metrics_namespace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Receivers called directly (not through the decorated handler) add metrics nobody flushes; past
    100 values Powertools flushes by itself, which needs the namespace the stack sets. Not imported here
    when no test imported it yet: Powertools reads its environment at the first import, which belongs to
    the fixtures that set that environment."""
    observability = sys.modules.get("common.observability")
    if observability is None:
        yield
        return
    metrics = observability.metrics
    monkeypatch.setattr(metrics, "namespace", "acme/Recharge")
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


@dataclass
class Stack:
    """What the stack and the shared stacks give the function, created in moto."""

    s3: Any
    dynamodb: Any
    secrets: Any
    sns: Any
    sqs: Any
    bucket: str = "acme-data-lake-123456789012"
    secret_arn: str = ""
    topic_arn: str = ""
    queue_url: str = ""
    tables: dict[str, str] = field(default_factory=dict)

    def environment(self, *, alerts: bool = True) -> dict[str, str]:
        return {
            "SUBSCRIPTIONS_TABLE_NAME": self.tables["subscriptions"],
            "CHARGES_TABLE_NAME": self.tables["charges"],
            "INVOICES_TABLE_NAME": self.tables["invoices"],
            "CUSTOMERS_TABLE_NAME": self.tables["customers"],
            "DATA_LAKE_BUCKET_NAME": self.bucket,
            "WEBHOOK_SECRET_ARN": self.secret_arn,
            "ALERTS_TOPIC_ARN": self.topic_arn if alerts else "",
            "RECHARGE_NAIVE_TIMEZONE": "America/New_York",
            "SECRET_REFRESH_MIN_INTERVAL_SECONDS": "60",
            "REQUIRE_TIMESTAMPED_SIGNATURE": "false",
        }

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        found = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                found[entry["Key"]] = self.s3.get_object(Bucket=self.bucket, Key=entry["Key"])["Body"].read()
        return found

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [entry["Key"] for page in pages for entry in page.get("Contents", [])]

    def item(self, table: str, key: dict[str, str]) -> dict[str, Any] | None:
        from common.hotstore import deserialize

        response = self.dynamodb.get_item(
            TableName=self.tables[table], Key={k: {"S": v} for k, v in key.items()}, ConsistentRead=True
        )
        return deserialize(response["Item"]) if "Item" in response else None

    def item_count(self) -> int:
        return sum(self.dynamodb.scan(TableName=name)["Count"] for name in self.tables.values())

    def alerts(self) -> list[dict[str, Any]]:
        messages = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                envelope = json.loads(message["Body"])
                messages.append({"subject": envelope.get("Subject"), "message": json.loads(envelope["Message"])})
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def aws_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "acme/Recharge")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "recharge-webhook")
    with mock_aws():
        stack = Stack(
            s3=boto3.client("s3", region_name=REGION),
            dynamodb=boto3.client("dynamodb", region_name=REGION),
            secrets=boto3.client("secretsmanager", region_name=REGION),
            sns=boto3.client("sns", region_name=REGION),
            sqs=boto3.client("sqs", region_name=REGION),
        )
        stack.s3.create_bucket(Bucket=stack.bucket)
        for name, (key, indexed) in TABLE_KEYS.items():
            table = f"acme-test-{name}"
            stack.dynamodb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in [key, *indexed]],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": f"by-{attribute}",
                        "KeySchema": [{"AttributeName": attribute, "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    }
                    for attribute in indexed
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            stack.tables[name] = table
        stack.secret_arn = stack.secrets.create_secret(
            Name="acme/test/RechargeWebhookSecret", SecretString=json.dumps(SECRET_DOCUMENT)
        )["ARN"]
        stack.topic_arn = stack.sns.create_topic(Name="acme-data-platform-alerts")["TopicArn"]
        stack.queue_url = stack.sqs.create_queue(QueueName="alerts-copy")["QueueUrl"]
        queue_arn = stack.sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        stack.sns.subscribe(TopicArn=stack.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        yield stack


@pytest.fixture
def app_module(aws_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """app.py imported whole with the function's environment, as the runtime imports it."""
    from common import aws

    for name, value in aws_stack.environment().items():
        monkeypatch.setenv(name, value)
    aws.client.cache_clear()  # clients of an earlier test belong to an earlier moto
    yield load_app_module("recharge_webhook_app_under_test")
    aws.client.cache_clear()
    sys.modules.pop("recharge_webhook_app_under_test", None)


ReceiverFactory = Callable[..., Any]


@pytest.fixture(scope="session")
def app_classes() -> ModuleType:
    """app.py's classes, imported once: its module-level receiver (placeholder settings) is not used."""
    placeholders = {
        "SUBSCRIPTIONS_TABLE_NAME": "unused",
        "CHARGES_TABLE_NAME": "unused",
        "INVOICES_TABLE_NAME": "unused",
        "CUSTOMERS_TABLE_NAME": "unused",
        "DATA_LAKE_BUCKET_NAME": "unused",
        "WEBHOOK_SECRET_ARN": "unused",
        "AWS_DEFAULT_REGION": REGION,
        # Powertools reads these once, when common.observability is first imported (maybe here): as the
        # stack sets them, so that any later test's metrics have a namespace to flush to.
        "POWERTOOLS_SERVICE_NAME": "recharge-webhook",
        "POWERTOOLS_METRICS_NAMESPACE": "acme/Recharge",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    with mock.patch.dict(os.environ, placeholders):
        return load_app_module("recharge_webhook_app_classes")


@pytest.fixture
def make_receiver(aws_stack: Stack, app_classes: ModuleType) -> ReceiverFactory:
    """A receiver wired to the moto stack; ``clock`` fixes 'now' for the signature checks."""

    def make(
        *,
        alerts: bool = True,
        clock: Callable[[], float] = time.time,
        refresh_interval: float = 60.0,
        verify_signatures: bool = True,
        secrets_client: Any = None,
        **overrides: str,
    ) -> Any:
        from common.config import load_settings

        environment = {**aws_stack.environment(alerts=alerts), **overrides}
        settings = load_settings(app_classes.Settings, environment)
        cached = app_classes.CachedSecret(secrets_client or aws_stack.secrets, settings.secret_arn)
        return app_classes.Receiver(
            settings,
            s3=aws_stack.s3,
            dynamodb=aws_stack.dynamodb,
            sns=aws_stack.sns if settings.alerts_topic_arn else None,
            secrets=app_classes.SecretRing(
                cached,
                refresh_interval=refresh_interval,
                grace_seconds=settings.previous_secret_grace_hours * 3600,
                wall_clock=clock,
            ),
            clock=clock,
            verify_signatures=verify_signatures,
        )

    return make


def load_app_module(name: str) -> ModuleType:
    """app.py imported whole, as the runtime imports it (module-level set-up included)."""
    return lambda_loader.load_app("recharge/webhook", name=name, fresh=True)


def response_json(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"])


def path_of(*parts: str) -> Path:
    return REPO_ROOT.joinpath(*parts)
