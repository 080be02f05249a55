"""The Shopify compliance webhook handler under moto: its app.py loaded under names of its own, the lake bucket, the
app client secret, the privacy digest key and the privacy state machine, signed requests shaped as Shopify sends
them, and receivers to send them to."""

from __future__ import annotations

import base64
import hashlib
import hmac
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

from tests.unit import lambda_loader

REGION = "us-east-1"
SECRET = "shopify-app-client-secret-0123456789"
OLD_SECRET = "shopify-app-client-secret-previous-99"
SHOP = "example.myshopify.com"
BUCKET = "acme-data-lake-123456789012"
PREFIX = "metadata/privacy/requests/"
EMAIL = "Jane.Doe@Example.com"
PHONE = "+1 (555) 625-1199"
DIGEST_KEY = "k" * 32 + "0123456789abcdefghijklmnopqrstuv"  # 64 characters, as CloudFormation makes it
STATE_MACHINE = "acme-privacy-requests"
ACCOUNT = "123456789012"
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE}"
# A state machine that does nothing: the unit tests look at the executions started, not at what they do.
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


def load_app(name: str) -> ModuleType:
    """app.py under ``name``; it imports its rules as ``shopify.compliance_webhook.request``."""
    return lambda_loader.load_app("shopify/compliance_webhook", name=name, fresh=True)


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


def keyed(kind: str, normalised: str, key: str = DIGEST_KEY) -> str:
    """A keyed subject computed here, apart from common.privacy.digest, so that the two check each other."""
    digest = hmac.new(key.encode(), kind.encode() + b"\x00" + normalised.encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{digest}"


@dataclass
class Lake:
    s3: Any
    secrets: Any
    secret_arn: str
    digest_key_arn: str
    sfn: Any

    def create_state_machine(self) -> str:
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(
            RoleName="acme-privacy-requests-sfn",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "states.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        arn = self.sfn.create_state_machine(name=STATE_MACHINE, definition=DEFINITION, roleArn=role)["stateMachineArn"]
        assert arn == STATE_MACHINE_ARN
        return str(arn)

    def executions(self) -> dict[str, dict[str, Any]]:
        """name -> the execution's description (input parsed), of the privacy state machine."""
        try:
            listed = self.sfn.list_executions(stateMachineArn=STATE_MACHINE_ARN)["executions"]
        except self.sfn.exceptions.StateMachineDoesNotExist:
            return {}
        found = {}
        for item in listed:
            description = self.sfn.describe_execution(executionArn=item["executionArn"])
            description.pop("ResponseMetadata", None)
            found[item["name"]] = {**description, "input": json.loads(description["input"])}
        return found

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
            "DIGEST_KEY_SECRET_ARN": self.digest_key_arn,
            "PRIVACY_STATE_MACHINE_ARN": STATE_MACHINE_ARN,
            "SHOP_DOMAIN": SHOP,
            "MAX_BODY_BYTES": "4096",
            **overrides,
        }


@pytest.fixture(scope="session")
def app_classes() -> ModuleType:
    placeholders = {
        "DATA_LAKE_BUCKET_NAME": "unused",
        "CLIENT_SECRET_ARN": "unused",
        "DIGEST_KEY_SECRET_ARN": "unused",
        "PRIVACY_STATE_MACHINE_ARN": STATE_MACHINE_ARN,
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
def bare_lake() -> Iterator[Lake]:
    """The bucket and the two secrets; no privacy state machine (the privacy job not deployed yet)."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        secrets = boto3.client("secretsmanager", region_name=REGION)
        arn = secrets.create_secret(
            Name="acme/test/ShopifyAppClientSecret", SecretString=json.dumps({"client_secret": SECRET})
        )["ARN"]
        digest_arn = secrets.create_secret(
            Name="acme/test/PrivacyDigestKey", SecretString=json.dumps({"digest_key": DIGEST_KEY})
        )["ARN"]
        sfn = boto3.client("stepfunctions", region_name=REGION)
        yield Lake(s3=s3, secrets=secrets, secret_arn=arn, digest_key_arn=digest_arn, sfn=sfn)


@pytest.fixture
def lake(bare_lake: Lake) -> Lake:
    """Everything deployed: the bucket, the secrets and the privacy state machine."""
    bare_lake.create_state_machine()
    return bare_lake


def _factory(lake: Lake, app_classes: ModuleType) -> Any:
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
            digest_key=CachedSecret(lake.secrets, settings.digest_key_secret_arn),
            workflow=workflow or app_classes.StepFunctionsWorkflow(lambda: lake.sfn, settings.state_machine_arn),
        )

    return make


@pytest.fixture
def make_receiver(lake: Lake, app_classes: ModuleType) -> Any:
    """Receivers of a fully deployed platform (the privacy state machine exists)."""
    return _factory(lake, app_classes)


@pytest.fixture
def make_bare_receiver(bare_lake: Lake, app_classes: ModuleType) -> Any:
    """Receivers before the privacy job is deployed (no state machine)."""
    return _factory(bare_lake, app_classes)


def emitted(name: str) -> float:
    """How many of metric ``name`` the receivers added since the test started (not flushed)."""
    from common.observability import metrics

    entry = metrics.metric_set.get(name)
    return float(sum(entry["Value"])) if entry else 0.0
