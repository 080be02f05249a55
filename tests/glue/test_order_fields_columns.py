"""The Glue side of ``common.order_fields`` on local Spark: every column the table declares is filled from the
field it names, the same value from a webhook (REST) and from a bulk line (GraphQL) of one order version."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from pyspark.sql import SparkSession

import order_fields as of
import orders_enriched as oe
from platformctl.simulators.shopify.resources import order_node
from tests.conftest import COPIED_FIXTURES
from tests.unit.shopify.support import envelope

pytestmark = pytest.mark.slow
FIXTURE = json.loads((COPIED_FIXTURES / "shopify" / "order__shopify-python-api.json").read_text())["order"]
# Every declared field given a value (the fixture leaves some null).
ORDER = copy.deepcopy(FIXTURE) | {
    "processed_at": "2008-01-10T11:05:00-05:00",
    "closed_at": "2008-01-12T09:00:00Z",
    "cancelled_at": "2008-01-11T10:00:00Z",
    "fulfillment_status": "partial",
    "financial_status": "partially_refunded",
    "tags": "vip, gift",
}


def _rows(spark: SparkSession) -> tuple[dict[str, Any], dict[str, Any]]:
    event = json.dumps(envelope("orders/updated", ORDER, event_id="e1"))
    webhook = oe.webhook_versions(oe.parse_webhooks(spark.createDataFrame([(event,)], "value string")))
    node = order_node(ORDER)
    items = [dict(item, __parentId=node["id"]) for item in node.pop("lineItems")["nodes"]]
    orders = spark.createDataFrame([(json.dumps(node), "r1")], "value string, run string")
    lines = spark.createDataFrame([(json.dumps(item), "r1") for item in items], "value string, run string")
    bulk = oe.bulk_versions(orders, lines, spark.createDataFrame([("r1",)], "run string"))
    (from_webhook,) = webhook.collect()
    (from_bulk,) = bulk.collect()
    return from_webhook.asDict(), from_bulk.asDict()


def test_every_declared_column_is_filled_alike_from_rest_and_from_graphql(spark: SparkSession) -> None:
    webhook, bulk = _rows(spark)
    assert tuple(webhook) == tuple(bulk) == oe.VERSION_COLUMNS
    for order_field in of.column_fields():
        column = order_field.column or ""
        assert webhook[column] is not None, column
        assert webhook[column] not in ([], ""), column
        assert bulk[column] == webhook[column], column
    assert webhook["order_id"] == "450789469"
    assert webhook["customer_id"] == "207119551"
    assert webhook["total_price"] == Decimal("409.94")
    assert webhook["fulfillment_status"] == "partial"
    assert webhook["tags"] == ["vip", "gift"]
    assert webhook["discount_codes"] == ["TENOFF"]
    assert webhook["cancelled_at"].isoformat() == "2008-01-11T10:00:00"


def test_the_job_reads_only_the_declared_fields_and_its_own_from_a_payload() -> None:
    """The JSON schemas name every field with a column (so a new one is read) and no personal data."""
    rest = set(oe.WEBHOOK_EVENT["detail"].dataType["payload"].dataType.names)
    bulk = set(oe.BULK_ORDER.names)
    assert {f.rest for f in of.column_fields()} <= rest
    assert {f.graphql for f in of.column_fields()} <= bulk
    personal = {f.rest for f in of.ORDER_FIELDS if f.kind is of.Kind.CONTACT}
    assert not personal & rest
    assert not {f.graphql for f in of.ORDER_FIELDS if f.kind is of.Kind.CONTACT} & bulk
