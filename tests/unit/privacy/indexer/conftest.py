"""The privacy indexer under moto: its app.py loaded under its own name, the lake bucket, the index table as the
stack creates it, the digest key secret, S3 events shaped as S3 sends them to EventBridge, and indexers to hand
them to."""

from __future__ import annotations

import gzip
import json
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from platformctl.manifest import REPO_ROOT
from tests.unit import lambda_loader

FUNCTION_DIR = REPO_ROOT / "lambdas" / "privacy" / "indexer"
REGION = "us-east-1"
BUCKET = "acme-data-lake-123456789012"
TABLE = "acme-test-privacy-index"
DIGEST_KEY = "k" * 64
INDEXED_AT = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)

EMAIL = "Jane.Doe@Example.com"
PHONE = "+1 (555) 625-1199"
CUSTOMER_ID = 7001
ORDER_ID = 450789469
CART_TOKEN = "68778783ad298f1c80c3bafcddeea02f"
WEBHOOK_KEY = "raw/shopify/webhooks/orders/topic=orders_create/dt=2026-12-05/b54557e4-bdd9-4b37-8a5f.json"
PART_KEY = "raw/shopify/bulk/Order/run=gid-shopify-BulkOperation-9/part-00000.jsonl.gz"


def load_app(name: str) -> ModuleType:
    return lambda_loader.load_app("privacy/indexer", name=name, fresh=True)


def order_envelope(
    *, order_id: int = ORDER_ID, customer_id: int = CUSTOMER_ID, email: str = EMAIL, phone: str = PHONE
) -> dict[str, Any]:
    """An orders/create webhook as the order processor stores it: the EventBridge event verbatim."""
    return {
        "version": "0",
        "id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "detail-type": "shopifyWebhook",
        "source": "aws.partner/shopify.com/123456/acme",
        "detail": {
            "metadata": {"X-Shopify-Topic": "orders/create", "X-Shopify-Event-Id": "b54557e4"},
            "payload": {
                "id": order_id,
                "name": "#1001",
                "email": email,
                "phone": phone,
                "cart_token": CART_TOKEN,
                "total_price": "199.00",
                "customer": {"id": customer_id, "email": email, "first_name": "Jane", "last_name": "Doe"},
                "line_items": [{"id": 866550311766439020, "title": "IPod Nano", "price": "199.00"}],
                "billing_address": {"address1": "2259 Park Ct", "city": "Drayton Valley", "zip": "T0E 0M0"},
            },
        },
    }


def bulk_lines(count: int, *, first_order: int = 1000, email_domain: str = "example.com") -> list[dict[str, Any]]:
    """Bulk export lines (GraphQL, children after their parent or not): an order and a line item each."""
    lines: list[dict[str, Any]] = []
    for n in range(count):
        order = f"gid://shopify/Order/{first_order + n}"
        lines.append(
            {
                "id": order,
                "__typename": "Order",
                "email": f"buyer{n}@{email_domain}",
                "customer": {"id": f"gid://shopify/Customer/{90000 + n}"},
                "totalPriceSet": {"shopMoney": {"amount": "10.00"}},
            }
        )
        lines.append({"id": f"gid://shopify/LineItem/{5000 + n}", "__typename": "LineItem", "__parentId": order})
    return lines


def jsonl_gz(lines: list[dict[str, Any]]) -> bytes:
    return gzip.compress(b"".join(json.dumps(line).encode() + b"\n" for line in lines))


def s3_event(key: str, *, bucket: str = BUCKET, reason: str = "PutObject") -> dict[str, Any]:
    """An "Object Created" event as S3 sends it to the default bus."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-12-05T12:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": 5, "etag": "b1946ac9", "version-id": "v1", "sequencer": "617f0829"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": reason,
        },
    }


@dataclass
class Lake:
    s3: Any
    dynamodb: Any
    secret_arn: str

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    def items(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=TABLE):
            found += page["Items"]
        return found

    def subjects_of(self, key: str) -> set[str]:
        return {i["subject"]["S"] for i in self.items() if i["location"]["S"] == f"s3:{key}"}

    def environment(self, **overrides: str) -> dict[str, str]:
        return {
            "DATA_LAKE_BUCKET_NAME": BUCKET,
            "PRIVACY_INDEX_TABLE_NAME": TABLE,
            "DIGEST_KEY_SECRET_ARN": self.secret_arn,
            **overrides,
        }


@pytest.fixture(scope="session")
def app() -> ModuleType:
    placeholders = {
        "DATA_LAKE_BUCKET_NAME": "unused",
        "PRIVACY_INDEX_TABLE_NAME": "unused",
        "DIGEST_KEY_SECRET_ARN": "unused",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "privacy-indexer",
        "POWERTOOLS_METRICS_NAMESPACE": "acme/Privacy",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    with mock.patch.dict(os.environ, placeholders):
        return load_app("privacy_indexer_app")


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
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "subject", "AttributeType": "S"},
                {"AttributeName": "location", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "subject", "KeyType": "HASH"},
                {"AttributeName": "location", "KeyType": "RANGE"},
            ],
        )
        secrets = boto3.client("secretsmanager", region_name=REGION)
        arn = secrets.create_secret(
            Name="acme/test/PrivacyDigestKey", SecretString=json.dumps({"digest_key": DIGEST_KEY})
        )["ARN"]
        yield Lake(s3=s3, dynamodb=dynamodb, secret_arn=arn)


@pytest.fixture
def make_indexer(lake: Lake, app: ModuleType) -> Any:
    """An indexer over the moto lake with the real index, digest key cache and (optionally) writer threads."""
    from common.config import load_settings
    from common.privacy.digest import digester_from_secret
    from common.privacy.index import PrivacyIndex
    from common.secret_cache import CachedSecret

    pools: list[ThreadPoolExecutor] = []

    def make(*, index: Any = None, writers: int = 1, **overrides: str) -> Any:
        settings = load_settings(app.Settings, lake.environment(INDEX_WRITERS=str(writers), **overrides))
        cached = CachedSecret(boto3.client("secretsmanager", region_name=REGION), settings.digest_key_secret_arn)
        table = boto3.resource("dynamodb", region_name=REGION).Table(TABLE)
        pool = ThreadPoolExecutor(max_workers=writers) if writers > 1 else None
        if pool is not None:
            pools.append(pool)
        return app.Indexer(
            settings,
            s3=lake.s3,
            index=index or PrivacyIndex(table),
            digester=lambda: digester_from_secret(cached),
            clock=lambda: INDEXED_AT,
            pool=pool,
        )

    yield make
    for pool in pools:
        pool.shutdown(wait=True)


@pytest.fixture
def digester() -> Any:
    from common.privacy.digest import SubjectDigester

    return SubjectDigester(DIGEST_KEY.encode())
