"""Shopify compliance webhooks against the local cloud over real HTTP: the deployed stack's route through
the local API Gateway front end, the handler in its own process with the function's environment and
role, and the record it leaves under metadata/privacy/requests/. The client secret is the one the shared
stack generated; the URL is endpoints.json's ``http_apis.shopify_compliance``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration

TIMEOUT = (3.05, 20.0)
PREFIX = "metadata/privacy/requests/"


class Cloud:
    def __init__(self, local_cloud: Any) -> None:
        self.cloud = local_cloud
        assert local_cloud.endpoints_file is not None
        self.endpoints = json.loads(local_cloud.endpoints_file.read_text(encoding="utf-8"))
        self.url: str = self.endpoints["http_apis"]["shopify_compliance"]
        self.bucket: str = self.endpoints["bucket"]
        outputs = local_cloud.stack_outputs()
        self.secret_arn = outputs["shared/secrets-manager"]["ShopifyAppClientSecretArn"]
        settings = {p["ParameterKey"]: p["ParameterValue"] for p in _settings()}
        self.shop = settings["ShopDomain"]

    def client(self, name: str) -> Any:
        return self.cloud.target.client(name)

    def secret(self) -> str:
        value = self.client("secretsmanager").get_secret_value(SecretId=self.secret_arn)["SecretString"]
        return str(json.loads(value)["client_secret"])

    def post(self, body: bytes, topic: str, *, secret: str | None = None, event_id: str | None = None) -> Any:
        digest = hmac.new((secret or self.secret()).encode(), body, hashlib.sha256).digest()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Shop-Domain": self.shop,
            "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-API-Version": "2026-01",
        }
        return requests.post(self.url, data=body, headers=headers, timeout=TIMEOUT)

    def records(self) -> dict[str, dict[str, Any]]:
        s3 = self.client("s3")
        found = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=PREFIX):
            for entry in page.get("Contents", []):
                found[entry["Key"]] = json.loads(s3.get_object(Bucket=self.bucket, Key=entry["Key"])["Body"].read())
        return found


def _settings() -> list[dict[str, str]]:
    from platformctl.manifest import REPO_ROOT

    return list(json.loads((REPO_ROOT / "ci" / "environments" / "local" / "settings.json").read_text()))


@pytest.fixture(scope="module")
def cloud(local_cloud: Any) -> Cloud:
    return Cloud(local_cloud)


def test_a_signed_redact_request_is_recorded_once_without_contact_data(cloud: Cloud) -> None:
    customer_id = int(uuid.uuid4().int % 10**12)
    body = json.dumps(
        {
            "shop_id": 954889,
            "shop_domain": cloud.shop,
            "customer": {"id": customer_id, "email": "jane.local@example.com", "phone": "+15556251199"},
            "orders_to_redact": [299938, 280263],
        }
    ).encode()
    before = cloud.records()
    response = cloud.post(body, "customers/redact", event_id="evt-1")
    assert response.status_code == 200, response.text
    request_id = response.json()["request_id"]
    added = {k: v for k, v in cloud.records().items() if k not in before}
    assert list(added) == [f"{PREFIX}customers_redact/{request_id}.json"]
    record = next(iter(added.values()))
    assert record["customer"]["id"] == customer_id
    assert record["order_ids"] == [299938, 280263]
    assert record["workflow"]["started"] is False
    assert "jane.local" not in json.dumps(record)
    assert "5556251199" not in json.dumps(record)

    again = cloud.post(body, "customers/redact", event_id="evt-1")  # Shopify's redelivery
    assert again.status_code == 200
    assert again.json()["status"] == "already recorded"
    assert {k: v for k, v in cloud.records().items() if k not in before} == added


def test_a_forged_request_is_401_and_records_nothing(cloud: Cloud) -> None:
    body = json.dumps({"shop_id": 954889, "shop_domain": cloud.shop}).encode()
    before = cloud.records()
    response = cloud.post(body, "shop/redact", secret="not-the-client-secret")
    assert response.status_code == 401
    assert cloud.records() == before


def test_a_get_is_405(cloud: Cloud) -> None:
    assert requests.get(cloud.url, timeout=TIMEOUT).status_code == 405
