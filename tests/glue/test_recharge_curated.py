"""subscriptions and subscription_charges on local Spark: the real Recharge shapes, newest wins, deletes."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pyspark.sql import SparkSession

import recharge_curated as rc
import recharge_curated_job as job
from tests.conftest import load_shared_json
from tests.glue.conftest import Lake, assert_catalog_declares, parquet_rows

pytestmark = pytest.mark.slow
TODAY = date(2026, 11, 26)


def deliver(lake: Lake, resource: str, topic: str, record: dict[str, Any], version: str) -> None:
    """As the Lambda keys it: dt of the version, <id>-<version without colons>.json."""
    key = f"raw/recharge/{resource}/topic={topic}/dt={version[:10]}/{record['id']}-{version.replace(':', '')}.json"
    lake.put(key, json.dumps({resource: record}))


def test_subscriptions_and_charges_from_real_shapes_newest_wins_and_deletes_are_final(
    spark: SparkSession, lake: Lake
) -> None:
    sub = load_shared_json("recharge/subscription__airbyte.json")
    charge = load_shared_json("recharge/charge__airbyte.json")
    deliver(lake, "subscription", "subscription_created", sub, "2023-05-13T04:07:32.000000Z")
    cancelled = dict(sub, status="cancelled", cancelled_at="2026-11-20T09:00:00", cancellation_reason="price",
                     updated_at="2026-11-20T14:00:00+00:00")  # fmt: skip
    deliver(lake, "subscription", "subscription_cancelled", cancelled, "2026-11-20T14:00:00.000000Z")
    other = dict(sub, id=9, created_at="2026-11-01T00:00:00+00:00", is_prepaid=1, price="10.00")
    deliver(lake, "subscription", "subscription_created", other, "2026-11-01T00:00:00.000000Z")
    deliver(lake, "subscription", "subscription_deleted", {"id": 9, "deleted_at": "2026-11-02T00:00:00+00:00"},
            "2026-11-02T00:00:00.000000Z")  # fmt: skip
    deliver(lake, "charge", "charge_paid", charge, "2023-05-13T04:07:40.000000Z")
    job.run(spark, lake.uri, 0, TODAY)

    subs = parquet_rows(spark, f"{lake.uri}/{job.OUTPUTS['subscriptions']}/", ("subscription_id",))
    row = subs[("153601366",)]
    assert (row["status"], row["cancellation_reason"], row["source_event_id"][:2]) == ("cancelled", "price", "c-")
    assert row["cancelled_at"] == datetime(2026, 11, 20, 14, 0)  # naive: New York wall clock (EST, UTC-5)
    assert (row["price"], row["quantity"], row["currency"]) == (Decimal("24.30"), 1, "USD")
    assert (row["shopify_product_id"], row["shopify_variant_id"]) == ("6642695864491", "39684723835051")
    assert (row["order_interval_frequency"], row["charge_interval_frequency"], row["is_prepaid"]) == (365, 365, False)
    assert row["next_charge_scheduled_at"] == date(2024, 5, 12)
    assert (row["dt"], row["deleted"], row["updated_at"]) == ("2021-05-13", False, datetime(2026, 11, 20, 14, 0))
    assert (subs[("9",)]["deleted"], subs[("9",)]["is_prepaid"], subs[("9",)]["price"]) == (True, True, Decimal("10"))

    charges = parquet_rows(spark, f"{lake.uri}/{job.OUTPUTS['subscription_charges']}/", ("charge_id",))
    c = charges[("580825303",)]
    assert (c["customer_id"], c["shopify_customer_id"], c["shopify_order_id"]) == (
        "64962974",
        "5213433266347",
        "5006149877931",
    )
    assert c["subscription_ids"] == ["153601366"]
    assert (c["total_price"], c["line_item_count"], c["currency"]) == (Decimal(charge["total_price"]), 1, "USD")
    assert c["scheduled_at"] == datetime(2023, 5, 13, 4, 0)  # a date alone: midnight in New York
    assert c["processed_at"] == datetime(2023, 5, 13, 4, 7, 33)
    stored = b"".join(p.read_bytes() for p in (lake.root / "processed").rglob("*.parquet"))
    assert b"kozakevich" not in stored.lower()
    assert b"Wilson" not in stored

    types = {
        f.name: f.dataType.simpleString()
        for f in spark.read.parquet(f"{lake.uri}/{job.OUTPUTS['subscription_charges']}/").schema.fields
    }
    assert tuple(types) == rc.CHARGES_COLUMNS
    for name in ("subscriptions", "subscription_charges"):
        assert_catalog_declares(name, spark.read.parquet(f"{lake.uri}/{job.OUTPUTS[name]}/").schema)
    assert (types["subscription_ids"], types["total_refunds"], types["scheduled_at"]) == (
        "array<string>",
        "decimal(20,4)",
        "timestamp",
    )
    sub_types = {
        f.name: f.dataType.simpleString()
        for f in spark.read.parquet(f"{lake.uri}/{job.OUTPUTS['subscriptions']}/").schema.fields
    }
    assert tuple(sub_types) == rc.SUBSCRIPTIONS_COLUMNS
    assert (sub_types["next_charge_scheduled_at"], sub_types["quantity"], sub_types["is_prepaid"]) == (
        "date",
        "int",
        "boolean",
    )

    # a late update inside the window changes that subscription's row and partition only
    before = subs
    late = dict(cancelled, status="active", cancelled_at=None, updated_at="2026-11-25T00:00:00+00:00")
    deliver(lake, "subscription", "subscription_activated", late, "2026-11-25T00:00:00.000000Z")
    summary = job.run(spark, lake.uri, 3, TODAY)
    after = parquet_rows(spark, f"{lake.uri}/{job.OUTPUTS['subscriptions']}/", ("subscription_id",))
    assert {k for k in after if after[k] != before[k]} == {("153601366",)}
    assert after[("153601366",)]["status"] == "active"
    assert (summary.subscription_partitions_changed, summary.charge_partitions_changed) == (1, 0)
