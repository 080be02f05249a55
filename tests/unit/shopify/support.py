"""Helpers for the Shopify processor tests: envelopes, the processors built for a test, the hot stores."""

from __future__ import annotations

import inspect
import itertools
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from moto import mock_aws

from platformctl.manifest import REPO_ROOT
from platformctl.templates import load_template
from tests.unit.lambda_loader import load_app

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
        "SHOPIFY_ADMIN_SECRET_ARN": secret_arn or SECRET_NAME,
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


def app(name: str) -> ModuleType:
    """A processor's app.py, imported once (as the runtime imports it, with the stack's environment)."""
    return load_app(f"shopify/{name}_processor", environment())


@dataclass
class Function:
    """A processor built for a test: its module, the processor its factory made, and the handler that
    Lambda would call (the module's entry point around this processor)."""

    module: ModuleType
    processor: Any
    dynamodb: Any
    handler: Callable[[Any, Any], dict[str, str]]

    @property
    def prepare(self) -> Callable[[Any], Any]:
        return self.module.prepare  # type: ignore[no-any-return]


def processor(name: str, environ: Mapping[str, str] | None = None) -> Function:
    """The processor ``name`` built by its module's factory: settings from ``environ`` (default: this
    process's environment, which the fixtures set as the stack does), clients from ``SESSION`` (moto)."""
    from common.config import load_settings
    from common.observability import lambda_entry

    module = app(name)
    settings = load_settings(module.Settings, os.environ if environ is None else environ)
    clients = {service: SESSION.client(service) for service in ("s3", "dynamodb", "secretsmanager")}
    accepted = inspect.signature(module.build_processor).parameters
    built = module.build_processor(settings, **{k: v for k, v in clients.items() if k in accepted})
    return Function(module, built, clients["dynamodb"], lambda_entry(lambda event, _context: built.process(event)))


def load_processor(name: str) -> Function:
    """``processor(name)`` (the benchmark's name for it)."""
    return processor(name)


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
