"""Recharge webhooks against the local cloud over real HTTP: the deployed stack, its routes through the
local API Gateway front end, the handler in its own process with the function's environment, and what
lands in the lake and the hot stores. The secret is the one the shared stack generated."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from platformctl.commands.recharge import path_token, signed_headers
from platformctl.manifest import REPO_ROOT
from platformctl.scenarios import recharge as recharge_step
from platformctl.scenarios.report import Report

pytestmark = pytest.mark.integration

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "recharge"
RESOURCES = ("subscription", "charge", "order", "customer", "address")
TABLES = {"subscription": "subscriptions", "charge": "charges", "order": "invoices", "customer": "customers"}
TIMEOUT = (3.05, 20.0)


class Cloud:
    def __init__(self, local_cloud: Any) -> None:
        self.cloud = local_cloud
        self.endpoints = local_cloud.endpoints()
        self.outputs = local_cloud.stack_outputs()
        self.base: str = self.endpoints["http_apis"]["recharge"]  # without the path token
        self.bucket: str = self.endpoints["bucket"]
        self.secret_arn = self.outputs["shared/secrets-manager"]["RechargeWebhookSecretArn"]
        self.url = f"{self.base}/{path_token(self.document())}"  # what Recharge is given
        assert self.endpoints["http_apis"]["recharge_webhook"] == self.url  # the endpoints file names it too

    def client(self, name: str) -> Any:
        return self.cloud.target.client(name)

    def document(self) -> dict[str, Any]:
        value = self.client("secretsmanager").get_secret_value(SecretId=self.secret_arn)["SecretString"]
        return dict(json.loads(value))

    def secret(self) -> str:
        return str(self.document()["webhook_secret"])

    def post(
        self,
        body: bytes,
        topic: str | None,
        *,
        secret: str | None = None,
        scheme: str = "both",
        per_topic: bool = False,
        timestamp: int | None = None,
        content_type: str = "application/json",
    ) -> requests.Response:
        headers = signed_headers(secret or self.secret(), body, topic=topic, timestamp=timestamp, scheme=scheme)
        headers["Content-Type"] = content_type
        url = f"{self.url}/{topic}" if per_topic and topic else self.url
        return requests.post(url, data=body, headers=headers, timeout=TIMEOUT)

    def keys(self, prefix: str) -> list[str]:
        pages = self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [entry["Key"] for page in pages for entry in page.get("Contents", [])]

    def body_of(self, key: str) -> bytes:
        return bytes(self.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def row(self, resource: str, resource_id: str) -> dict[str, Any] | None:
        from boto3.dynamodb.types import TypeDeserializer

        key_name = {"subscription": "subscription_id", "charge": "charge_id", "order": "order_id"}.get(
            resource, "customer_key"
        )
        key = f"recharge:{resource_id}" if resource == "customer" else resource_id
        item = (
            self.client("dynamodb")
            .get_item(
                TableName=self.endpoints["tables"][TABLES[resource]], Key={key_name: {"S": key}}, ConsistentRead=True
            )
            .get("Item")
        )
        return {k: TypeDeserializer().deserialize(v) for k, v in item.items()} if item else None


@pytest.fixture(scope="module")
def cloud(local_cloud: Any) -> Cloud:
    return Cloud(local_cloud)


def _unique_id() -> int:
    return random.randint(10**11, 10**12 - 1)


def _body(resource: str, resource_id: int, **changes: Any) -> bytes:
    record = json.loads((FIXTURES / f"{resource}__airbyte.json").read_text(encoding="utf-8"))
    return json.dumps({resource: dict(record, id=resource_id, **changes)}).encode()


def _stored_for(cloud: Cloud, resource_id: int) -> list[str]:
    return [k for k in cloud.keys("raw/recharge/") + cloud.keys("quarantine/recharge/") if str(resource_id) in k]


def test_the_stack_publishes_its_url_and_is_wired_as_declared(cloud: Cloud) -> None:
    outputs = cloud.outputs["recharge/webhook"]
    assert cloud.base == outputs["RechargeWebhookUrl"]  # the output carries no path token
    assert cloud.base.startswith("http://127.0.0.1:")
    assert cloud.base.endswith("/recharge/webhooks")
    function = cloud.client("lambda").get_function_configuration(FunctionName=outputs["RechargeWebhookFunctionName"])
    variables = function["Environment"]["Variables"]
    assert variables["ALERTS_TOPIC_ARN"] == cloud.outputs["monitoring/monitoring"]["AlertsTopicArn"]
    assert variables["WEBHOOK_SECRET_ARN"] == cloud.secret_arn
    assert function["TracingConfig"]["Mode"] == "Active"
    assert function["PackageType"] == "Image"
    routes = cloud.client("apigatewayv2").get_routes(ApiId=outputs["RechargeWebhookApiId"])["Items"]
    assert sorted(r["RouteKey"] for r in routes) == [
        "$default",
        "ANY /recharge/webhooks/{token}",
        "ANY /recharge/webhooks/{token}/{resource}/{event}",
    ]
    assert variables["REQUIRE_TIMESTAMPED_SIGNATURE"] == "true"
    alarms = cloud.client("cloudwatch").describe_alarms(AlarmNamePrefix="acme-local-recharge-webhook")["MetricAlarms"]
    assert len(alarms) == 8
    assert all(a["AlarmActions"] for a in alarms)


@pytest.mark.parametrize("resource", RESOURCES)
def test_every_real_fixture_over_http_with_both_schemes(cloud: Cloud, resource: str) -> None:
    resource_id = _unique_id()
    created = _body(resource, resource_id, updated_at="2024-03-01T10:00:00+00:00")
    updated = _body(resource, resource_id, updated_at="2024-03-01T12:00:00+00:00")
    first = cloud.post(created, f"{resource}/created", scheme="both")
    second = cloud.post(updated, f"{resource}/updated", scheme="timestamped", per_topic=True)
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert first.json()["outcome"] == second.json()["outcome"] == "written"
    keys = sorted(_stored_for(cloud, resource_id))
    assert keys == [
        f"raw/recharge/{resource}/topic={resource}_created/dt=2024-03-01/{resource_id}-2024-03-01T100000.000000Z.json",
        f"raw/recharge/{resource}/topic={resource}_updated/dt=2024-03-01/{resource_id}-2024-03-01T120000.000000Z.json",
    ]
    assert cloud.body_of(keys[0]) == created
    assert cloud.body_of(keys[1]) == updated
    if resource == "address":
        return
    row = cloud.row(resource, str(resource_id))
    assert row is not None
    assert row["source_updated_at"] == "2024-03-01T12:00:00.000000Z"
    assert row["last_topic"] == f"{resource}/updated"


def test_late_and_repeated_deliveries_keep_the_newest_row(cloud: Cloud) -> None:
    resource_id = _unique_id()
    newest = _body("subscription", resource_id, status="cancelled", updated_at="2024-03-02T00:00:00Z")
    late = _body("subscription", resource_id, status="active", updated_at="2024-03-01T00:00:00Z")
    answers = [cloud.post(b, "subscription/updated").json()["outcome"] for b in (newest, newest, late)]
    assert answers == ["written", "duplicate", "stale"]
    row = cloud.row("subscription", str(resource_id))
    assert row is not None
    assert row["status"] == "cancelled"


@pytest.mark.parametrize(
    "how",
    ["forged", "stale", "future", "unsigned", "tampered"],
)
def test_unauthenticated_deliveries_are_401_and_write_nothing(cloud: Cloud, how: str) -> None:
    resource_id = _unique_id()
    body = _body("subscription", resource_id, updated_at="2024-03-01T00:00:00Z")
    now = int(time.time())
    if how == "forged":
        response = cloud.post(body, "subscription/created", secret="forged-secret")
    elif how == "stale":
        response = cloud.post(body, "subscription/created", scheme="timestamped", timestamp=now - 49 * 3600)
    elif how == "future":
        response = cloud.post(body, "subscription/created", scheme="timestamped", timestamp=now + 3600)
    elif how == "unsigned":
        response = requests.post(
            cloud.url, data=body, headers={"X-Recharge-Topic": "subscription/created"}, timeout=TIMEOUT
        )
    else:
        headers = signed_headers(cloud.secret(), body, topic="subscription/created")
        response = requests.post(cloud.url, data=body.replace(b"active", b"paused"), headers=headers, timeout=TIMEOUT)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid or missing signature"}
    assert _stored_for(cloud, resource_id) == []
    assert cloud.row("subscription", str(resource_id)) is None


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "QUERY"])
def test_other_methods_reach_the_handler_and_get_405(cloud: Cloud, method: str) -> None:
    for url in (cloud.url, f"{cloud.url}/subscription/created"):
        response = requests.request(method, url, data=b"{}", timeout=TIMEOUT)
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"


def test_paths_without_the_token_are_404s_like_unknown_routes(cloud: Cloud) -> None:
    origin = cloud.base.removesuffix("/recharge/webhooks")
    token = cloud.url.rsplit("/", 1)[1]
    body = _body("subscription", _unique_id(), updated_at="2024-03-01T00:00:00Z")
    headers = signed_headers(cloud.secret(), body, topic="subscription/updated")
    for path in (
        "/recharge",
        "/recharge/webhooks",  # the URL before the path token
        "/recharge/webhooks/subscription/updated",  # the per-topic URL before the path token
        "/recharge/webhooks/a/b/c",
        f"/recharge/webhooks/{token[:-1]}",
        f"/recharge/webhooks/{token.upper()}/subscription/updated",
        "/other",
    ):
        response = requests.post(origin + path, data=body, headers=headers, timeout=TIMEOUT)
        assert response.status_code == 404, path
        assert response.json() == {"message": "Not Found"}
    assert cloud.row("subscription", str(json.loads(body)["subscription"]["id"])) is None


def test_a_legacy_only_delivery_is_refused_when_timestamps_are_required(cloud: Cloud) -> None:
    resource_id = _unique_id()
    body = _body("subscription", resource_id, updated_at="2024-03-01T00:00:00Z")
    assert cloud.post(body, "subscription/updated", scheme="legacy").status_code == 401
    assert _stored_for(cloud, resource_id) == []


def test_a_relabelled_capture_is_quarantined_and_alerts_nothing(cloud: Cloud) -> None:
    resource_id = _unique_id()
    body = _body("subscription", resource_id, updated_at="2024-03-01T00:00:00Z")
    assert cloud.post(body, "subscription/updated", per_topic=True).json()["outcome"] == "written"
    for topic in ("subscription/deleted", "subscription/cancelled"):
        response = cloud.post(body, topic, per_topic=True)
        assert response.json() == {"status": "quarantined", "reason": "topic-disagrees"}
    row = cloud.row("subscription", str(resource_id))
    assert row is not None
    assert (row["deleted"], row["last_topic"]) == (False, "subscription/updated")


def test_a_body_over_one_megabyte_is_413(cloud: Cloud) -> None:
    resource_id = _unique_id()
    big = _body("subscription", resource_id, note="x" * (1024 * 1024))
    response = cloud.post(big, "subscription/updated")
    assert response.status_code == 413
    assert _stored_for(cloud, resource_id) == []


def test_authentic_binary_and_unknown_deliveries_are_quarantined_verbatim(cloud: Cloud) -> None:
    binary = b"\x00\xffRecharge?" + random.randbytes(64)
    response = cloud.post(binary, "subscription/updated", content_type="application/octet-stream")
    assert response.status_code == 200
    assert response.json() == {"status": "quarantined", "reason": "unparseable-json"}
    quarantined = [k for k in cloud.keys("quarantine/recharge/") if "/unparseable-json/" in k]
    assert binary in [cloud.body_of(k) for k in quarantined]  # byte for byte, through base64 and back
    resource_id = _unique_id()
    unknown = _body("charge", resource_id, updated_at="2024-03-01T00:00:00Z")
    response = cloud.post(unknown, "charge/exploded", per_topic=True)
    assert response.json() == {"status": "quarantined", "reason": "unknown-topic"}


@pytest.fixture
def rotated(cloud: Cloud) -> Iterator[tuple[str, str]]:
    """The webhook secret rotated to a new value (the old one becomes AWSPREVIOUS); restored after."""
    old = cloud.secret()
    new = f"rotated-{_unique_id()}"
    secrets = cloud.client("secretsmanager")
    before = cloud.document()
    secrets.put_secret_value(SecretId=cloud.secret_arn, SecretString=json.dumps(dict(before, webhook_secret=new)))
    try:
        yield old, new
    finally:
        secrets.put_secret_value(SecretId=cloud.secret_arn, SecretString=json.dumps(before))


def test_a_rotation_is_picked_up_and_the_previous_secret_still_works(cloud: Cloud, rotated: tuple[str, str]) -> None:
    old, new = rotated
    for secret in (new, old):
        resource_id = _unique_id()
        body = _body("customer", resource_id, updated_at="2024-03-01T00:00:00Z")
        response = cloud.post(body, "customer/updated", secret=secret)
        assert response.status_code == 200, response.text
    assert cloud.post(_body("customer", _unique_id()), "customer/updated", secret="third-secret").status_code == 401


def test_the_demo_step_holds_its_expectations(local_cloud: Any) -> None:
    report = Report(_Sink())
    recharge_step.step(local_cloud, report)
    assert report.problems == []


class _Sink:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        return None
