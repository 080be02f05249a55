"""The Shopify compliance webhook handler under moto: its folder's modules loaded under their own names
(the image's layout puts them at the task root), the lake bucket and the app client secret, signed
requests shaped as Shopify sends them, and receivers to send them to."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from platformctl.manifest import REPO_ROOT

FUNCTION_DIR = REPO_ROOT / "lambdas" / "shopify" / "compliance_webhook"
REGION = "us-east-1"
SECRET = "shopify-app-client-secret-0123456789"
OLD_SECRET = "shopify-app-client-secret-previous-99"
SHOP = "example.myshopify.com"
BUCKET = "acme-data-lake-123456789012"
PREFIX = "metadata/privacy/requests/"
EMAIL = "Jane.Doe@Example.com"
PHONE = "+1 (555) 625-1199"


def _load(name: str, filename: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, FUNCTION_DIR / filename)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_app(name: str) -> ModuleType:
    """app.py under ``name``; its flat ``import compliance_request`` finds the module loaded here."""
    sys.modules.setdefault("compliance_request", _load("compliance_request", "compliance_request.py"))
    return _load(name, "app.py")


def body_of(topic: str, **overrides: Any) -> bytes:
    """A body of ``topic`` as Shopify documents it (the mandatory compliance webhooks)."""
    document: dict[str, Any] = {"shop_id": 954889, "shop_domain": SHOP}
    if topic != "shop/redact":
        document["customer"] = {"id": 191167, "email": EMAIL, "phone": PHONE}
    if topic == "customers/data_request":
        document["orders_requested"] = [299938, 280263, 220458]
        document["data_request"] = {"id": 9999}
    if topic == "customers/redact":
        document["orders_to_redact"] = [299938, 280263, 220458]
    document.update(overrides)
    return json.dumps(document).encode()


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def http_event(
    body: bytes,
    *,
    topic: str | None = "customers/redact",
    signature: str | None = "",
    method: str = "POST",
    base64_body: bool = False,
    event_id: str = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload-2.0 event; ``signature`` "" signs with SECRET, None omits it."""
    headers = {
        "content-type": "application/json",
        "x-shopify-shop-domain": SHOP,
        "x-shopify-api-version": "2026-01",
        "x-shopify-webhook-id": "1f2a3b4c-0000-4000-8000-000000000001",
        "x-shopify-event-id": event_id,
        "x-shopify-triggered-at": "2026-12-05T12:00:00.000000Z",
    }
    if topic is not None:
        headers["x-shopify-topic"] = topic
    if signature is not None:
        headers["x-shopify-hmac-sha256"] = signature or sign(body)
    headers.update({k.lower(): v for k, v in (extra or {}).items()})
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "ANY /shopify/compliance",
        "rawPath": "/shopify/compliance",
        "headers": headers,
        "requestContext": {"http": {"method": method, "path": "/shopify/compliance"}, "requestId": "test"},
        "isBase64Encoded": base64_body,
    }
    if body:
        event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
    return event


@dataclass
class Lake:
    s3: Any
    secrets: Any
    secret_arn: str

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        found = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            for entry in page.get("Contents", []):
                found[entry["Key"]] = self.s3.get_object(Bucket=BUCKET, Key=entry["Key"])["Body"].read()
        return found

    def environment(self, **overrides: str) -> dict[str, str]:
        return {
            "DATA_LAKE_BUCKET_NAME": BUCKET,
            "CLIENT_SECRET_ARN": self.secret_arn,
            "SHOP_DOMAIN": SHOP,
            "MAX_BODY_BYTES": "4096",
            **overrides,
        }


@pytest.fixture(scope="session")
def app_classes() -> ModuleType:
    placeholders = {
        "DATA_LAKE_BUCKET_NAME": "unused",
        "CLIENT_SECRET_ARN": "unused",
        "SHOP_DOMAIN": SHOP,
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "shopify-compliance-webhook",
        "POWERTOOLS_METRICS_NAMESPACE": "acme/Privacy",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    with mock.patch.dict(os.environ, placeholders):
        return load_app("shopify_compliance_app_classes")


@pytest.fixture(autouse=True)
def _metrics_namespace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    observability = sys.modules.get("common.observability")
    if observability is None:
        yield
        return
    monkeypatch.setattr(observability.metrics, "namespace", "acme/Privacy")
    observability.metrics.clear_metrics()
    yield
    observability.metrics.clear_metrics()


@pytest.fixture
def lake() -> Iterator[Lake]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        secrets = boto3.client("secretsmanager", region_name=REGION)
        arn = secrets.create_secret(
            Name="acme/test/ShopifyAppClientSecret", SecretString=json.dumps({"client_secret": SECRET})
        )["ARN"]
        yield Lake(s3=s3, secrets=secrets, secret_arn=arn)


@pytest.fixture
def make_receiver(lake: Lake, app_classes: ModuleType) -> Any:
    from common.config import load_settings
    from common.secret_cache import CachedSecret

    def make(*, workflow: Any = None, **overrides: str) -> Any:
        settings = load_settings(app_classes.Settings, lake.environment(**overrides))
        return app_classes.Receiver(
            settings,
            s3=lake.s3,
            secrets=app_classes.ClientSecrets(
                CachedSecret(lake.secrets, settings.secret_arn),
                accept_previous=settings.accept_previous_secret,
                refresh_interval=60.0,
            ),
            workflow=workflow or app_classes.WorkflowNotBuilt("acme-privacy-requests"),
            salt=lambda: bytes(range(16)),
        )

    return make
