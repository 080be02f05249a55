"""Helpers for the Shopify processor tests: envelopes, the processors as modules, the hot stores."""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from moto import mock_aws

from platformctl.manifest import REPO_ROOT
from platformctl.templates import load_template

PROCESSORS = ("order", "fulfillment", "customer", "product", "cart")
BUCKET = "acme-data-lake-test"
TABLES = {
    "orders": "acme-test-orders",
    "customers": "acme-test-customers",
    "abandoned_carts": "acme-test-abandoned-carts",
}
SHOP = "example.myshopify.com"
# The partner event source the processors accept: the local environment's (ci/environments/local/shopify/
# eventbridge-rules.json PartnerEventSourceName), so envelopes made here also pass the local bus's rules.
EVENT_SOURCE = "aws.partner/shopify.com/1234567/acme-local"
SECRET_NAME = "acme/test/ShopifyAdminApiSecret"
_TEMPLATE_TABLES = {"orders": "OrdersTable", "customers": "CustomersTable", "abandoned_carts": "AbandonedCartsTable"}
_ids = itertools.count(1)


def environment(secret_arn: str = "", base_url: str = "") -> dict[str, str]:
    """What the stack sets on every processor (each reads only its own settings)."""
    return {
        "POWERTOOLS_SERVICE_NAME": "shopify-test",
        "POWERTOOLS_METRICS_NAMESPACE": "acme/Shopify",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "DATA_LAKE_BUCKET_NAME": BUCKET,
        "ORDERS_TABLE_NAME": TABLES["orders"],
        "CUSTOMERS_TABLE_NAME": TABLES["customers"],
        "ABANDONED_CARTS_TABLE_NAME": TABLES["abandoned_carts"],
        "CART_TTL_DAYS": "30",
        "SHOPIFY_ADMIN_API_SECRET_ARN": secret_arn or SECRET_NAME,
        "SHOPIFY_API_VERSION": "2026-10",
        "SHOPIFY_ADMIN_BASE_URL": base_url,
        "SHOPIFY_EVENT_SOURCE": EVENT_SOURCE,
    }


def create_stores(session: Any) -> None:
    """The lake bucket and the three tables, with the key schemas of infrastructure/shared."""
    s3 = session.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    template = load_template(REPO_ROOT / "infrastructure" / "shared" / "dynamodb-tables.yaml")
    dynamodb = session.client("dynamodb", region_name="us-east-1")
    for name, logical_id in _TEMPLATE_TABLES.items():
        props = template["Resources"][logical_id]["Properties"]
        arguments: dict[str, Any] = {
            "TableName": TABLES[name],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if props.get("GlobalSecondaryIndexes"):
            arguments["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        dynamodb.create_table(**arguments)


class CachedSession:
    """One boto3 session whose clients are made once: moto's mock intercepts clients made before it
    started too, and resets its state on each start, so tests need not pay for new clients."""

    def __init__(self) -> None:
        self._session: Any = None
        self._clients: dict[str, Any] = {}

    def client(self, service: str, region_name: str = "us-east-1") -> Any:
        if service not in self._clients:
            if self._session is None:
                import boto3

                self._session = boto3.session.Session(region_name=region_name)
            self._clients[service] = self._session.client(service, region_name=region_name)
        return self._clients[service]


SESSION = CachedSession()
_LOADED: dict[tuple[str, tuple[tuple[str, str], ...]], ModuleType] = {}


def processor(name: str) -> ModuleType:
    """A processor module, loaded once per environment (its settings and clients are made at import)."""
    import os

    key = (name, tuple(sorted((k, os.environ.get(k, "")) for k in environment())))
    if key not in _LOADED:
        _LOADED[key] = load_processor(name)
    return _LOADED[key]


def load_processor(name: str) -> ModuleType:
    """A processor's app.py as a fresh module (its settings and clients are made at import)."""
    import common.aws

    common.aws.client.cache_clear()
    path = REPO_ROOT / "lambdas" / "shopify" / f"{name}_processor" / "app.py"
    module_name = f"shopify_{name}_processor_app"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Context:
    """The Lambda context attributes Powertools reads."""

    function_name: str = "acme-test-shopify-processor"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:acme-test-shopify-processor"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


def envelope(
    topic: str,
    payload: Any,
    *,
    event_id: str | None = None,
    triggered_at: str = "2024-09-26T06:51:35.781200288Z",
    shop: str = SHOP,
    lowercase: bool = False,
    webhook_id: str | None = None,
    source: str = EVENT_SOURCE,
) -> dict[str, Any]:
    """An EventBridge event as Shopify's partner source sends it (or its Events-system casing)."""
    event_id = event_id or f"evt-{next(_ids):08d}"
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Webhook-Id": webhook_id or f"wh-{event_id}",
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Triggered-At": triggered_at,
        "X-Shopify-Hmac-SHA256": "redacted",
    }
    if lowercase:
        headers = {name.lower().removeprefix("x-"): value for name, value in headers.items()}
    return {
        "version": "0",
        "id": f"envelope-{event_id}",
        "detail-type": "shopifyWebhook",
        "source": source,
        "account": "123456789012",
        "time": "2024-09-26T06:51:36Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"payload": payload, "metadata": headers},
    }


def lake_objects(session: Any, prefix: str = "") -> dict[str, bytes]:
    s3 = session.client("s3", region_name="us-east-1")
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for entry in page.get("Contents", []):
            found[entry["Key"]] = s3.get_object(Bucket=BUCKET, Key=entry["Key"])["Body"].read()
    return found


def clear_lake(session: Any) -> None:
    s3 = session.client("s3", region_name="us-east-1")
    for key in lake_objects(session):
        s3.delete_object(Bucket=BUCKET, Key=key)


def table_items(session: Any, table: str, *, volatile: bool = False) -> list[dict[str, Any]]:
    """Every item of a table, deserialised and sorted; ``ingested_at`` (wall clock) dropped unless asked."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    dynamodb = session.client("dynamodb", region_name="us-east-1")
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=TABLES[table]):
        for raw in page["Items"]:
            item = {k: deserializer.deserialize(v) for k, v in raw.items()}
            if not volatile:
                item.pop("ingested_at", None)
            items.append(item)
    return sorted(items, key=lambda i: json.dumps({k: str(v) for k, v in sorted(i.items())}, sort_keys=True))


def shared_payload(relative: str) -> Mapping[str, Any]:
    from tests.conftest import load_shared_json

    data = load_shared_json(relative)
    assert isinstance(data, dict)
    return data


def copied_fixture(name: str) -> Any:
    return json.loads((REPO_ROOT / "tests" / "fixtures" / "shopify" / name).read_text(encoding="utf-8"))


FIXTURES = Path(REPO_ROOT / "tests" / "fixtures" / "shopify")


@contextmanager
def moto_shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[CachedSession]:
    """moto's lake and hot stores, the processors configured as the local stack configures them."""
    for name, value in environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        create_stores(SESSION)
        yield SESSION
