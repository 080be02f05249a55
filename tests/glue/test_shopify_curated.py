"""customers and products on local Spark: profiles from webhooks and bulk, counted orders, variants."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pyspark.sql import SparkSession

import orders_enriched_job
import shopify_curated as sc
import shopify_curated_job as job
from tests.conftest import COPIED_FIXTURES, load_shared_json
from tests.glue.conftest import Lake, assert_catalog_declares, parquet_rows
from tests.unit.shopify.support import envelope

pytestmark = pytest.mark.slow
TODAY = date(2026, 11, 26)
ORDER = json.loads((COPIED_FIXTURES / "shopify" / "order__shopify-python-api.json").read_text())["order"]


def order(**changes: Any) -> dict[str, Any]:
    return copy.deepcopy(ORDER) | changes


def test_customers_and_products_equal_hand_computed_rows(spark: SparkSession, lake: Lake) -> None:
    # customer 42: two counted orders (409.94 and 409.94 - 9.94 refunded), a test order, a deleted order
    refund = {"transactions": [{"kind": "refund", "status": "success", "amount": "9.94"}]}
    for n, changes in enumerate(
        [
            {"created_at": "2026-11-01T00:00:00Z", "currency": "USD"},
            {"created_at": "2026-11-10T00:00:00Z", "currency": "CAD", "refunds": [refund]},
            {"created_at": "2026-11-12T00:00:00Z", "test": True},
            {"created_at": "2026-11-13T00:00:00Z"},
        ],
        start=1,
    ):
        lake.webhook(envelope("orders/create", order(id=n, customer={"id": 42}, **changes), event_id=f"o{n}"))
    lake.webhook(envelope("orders/delete", {"id": 4}, event_id="d4"))
    lake.webhook(
        envelope("orders/create", order(id=5, customer={"id": 43}, created_at="2026-11-02T00:00:00Z"), event_id="o5")
    )
    orders_enriched_job.run(spark, lake.uri, 0, TODAY)

    profile = load_shared_json("shopify/webhooks/customers_create__hassantahir-2022-04.json")
    customer = dict(profile, id=42, created_at="2026-10-01T12:00:00-04:00", updated_at="2026-11-20T00:00:00Z",
                    tags="vip, wholesale", sms_marketing_consent={"state": "subscribed"})  # fmt: skip
    lake.webhook(envelope("customers/create", customer, event_id="c1"), entity="customers")
    lake.bulk("800", [{"__typename": "Customer", "id": "gid://shopify/Customer/42", "createdAt": "2026-10-01T16:00:00Z",
                       "updatedAt": "2026-11-19T00:00:00Z", "state": "ENABLED", "tags": ["old"],
                       "emailMarketingConsent": {"marketingState": "NOT_SUBSCRIBED"}}])  # fmt: skip
    product = load_shared_json("shopify/webhooks/products_update__hassantahir-2022-04.json")
    lake.webhook(envelope("products/update", product, event_id="p1"), entity="products")
    summary = job.run(spark, lake.uri, 0, TODAY)

    customers = parquet_rows(spark, f"{lake.uri}/{job.OUTPUTS['customers']}/", ("customer_id",))
    c = customers[("42",)]
    assert (c["orders_count"], c["net_spend"], c["currency"]) == (2, Decimal("809.94"), "CAD")
    assert (c["first_order_at"], c["last_order_at"]) == (datetime(2026, 11, 1), datetime(2026, 11, 10))
    assert (c["created_at"], c["dt"], c["state"], c["tags"]) == (
        datetime(2026, 10, 1, 16),
        "2026-10-01",
        "disabled",
        ["vip", "wholesale"],
    )
    # the webhook is newer than the bulk line; its legacy accepts_marketing true is the e-mail consent
    assert (c["email_marketing_state"], c["accepts_email_marketing"]) == ("subscribed", True)
    assert (c["sms_marketing_state"], c["accepts_sms_marketing"], c["source"], c["source_event_id"]) == (
        "subscribed",
        True,
        "webhook",
        "c1",
    )
    only_orders = customers[("43",)]
    assert (only_orders["orders_count"], only_orders["source"], only_orders["dt"], only_orders["state"]) == (
        1,
        "orders_enriched",
        "2026-11-02",
        None,
    )
    assert summary.customers_written == 2

    products = parquet_rows(spark, f"{lake.uri}/{job.OUTPUTS['products']}/", ("product_id", "variant_id"))
    assert len(products) == len(product["variants"])
    first = products[(str(product["id"]), str(product["variants"][0]["id"]))]
    assert (first["price"], first["compare_at_price"], first["inventory_quantity"]) == (
        Decimal("19.99"),
        Decimal("24.99"),
        75,
    )
    assert (first["product_title"], first["product_status"], first["tags"]) == (
        "Example T-Shirt",
        "active",
        ["example", "mens", "t-shirt"],
    )
    assert (first["created_at"], first["dt"]) == (None, "2022-04-06")  # no created_at: the updated_at's day
    stored = b"".join(p.read_bytes() for p in (lake.root / "processed/shopify/customers").rglob("*.parquet"))
    assert profile["email"].encode() not in stored
    for name, columns in sc.OUTPUT_COLUMNS.items():
        written = spark.read.parquet(f"{lake.uri}/{job.OUTPUTS[name]}/").schema
        assert tuple(f.name for f in written.fields) == columns
        assert_catalog_declares(name, written)
    types = {
        f.name: f.dataType.simpleString()
        for f in spark.read.parquet(f"{lake.uri}/{job.OUTPUTS['customers']}/").schema.fields
    }
    assert (types["tags"], types["orders_count"], types["net_spend"]) == ("array<string>", "int", "decimal(20,4)")

    # a late update of customer 42 in the window: that row and its partition only
    update = dict(customer, updated_at="2026-11-25T00:00:00Z", state="enabled")
    lake.webhook(envelope("customers/update", update, event_id="c2"), dt="2026-11-25", entity="customers")
    before = customers
    summary = job.run(spark, lake.uri, 3, TODAY)
    after = parquet_rows(spark, f"{lake.uri}/{job.OUTPUTS['customers']}/", ("customer_id",))
    assert {k for k in after if after[k] != before[k]} == {("42",)}
    assert after[("42",)]["state"] == "enabled"
    assert (summary.customer_partitions_changed, summary.product_partitions_changed) == (1, 0)
