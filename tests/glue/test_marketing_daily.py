"""marketing_daily on local Spark: the real Triple Whale summary page as one shop-day row."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from pyspark.sql import SparkSession

import marketing_daily as md
import marketing_daily_job as job
from tests.conftest import shared_fixture_path
from tests.glue.conftest import Lake, assert_catalog_declares, parquet_rows

pytestmark = pytest.mark.slow
TODAY = date(2026, 11, 26)


def test_the_real_summary_page_becomes_a_row_of_its_metrics(spark: SparkSession, lake: Lake) -> None:
    page = shared_fixture_path("triplewhale/summary_page__tw-public-apis.json").read_text()
    lake.put("raw/triplewhale/summary-page/dt=2026-11-24/shop.myshopify.com.json", page)
    lake.put("raw/triplewhale/summary-page/dt=2026-11-25/shop.myshopify.com.json", json.dumps({"metrics": []}))
    job.run(spark, lake.uri, 0, TODAY)

    rows = parquet_rows(spark, f"{lake.uri}/{job.OUTPUT}/", ("shop_domain", "dt"))
    row = rows[("shop.myshopify.com", "2026-11-24")]
    assert row["day"] == date(2026, 11, 24)
    assert (row["total_sales"], row["orders"], row["new_customer_orders"]) == (Decimal("36140.9500"), 834, 537)
    assert (row["blended_ad_spend"], row["blended_roas"]) == (Decimal("22363.9753"), 1.62)
    assert (row["facebook_ads_spend"], row["google_ads_spend"]) == (Decimal("15682.5100"), Decimal("6021.9429"))
    assert (row["snapchat_ads_spend"], row["tiktok_ads_spend"], row["pinterest_ads_spend"]) == (
        Decimal("514.5225"), Decimal("0"), Decimal("0"),
    )  # fmt: skip
    assert (row["source"], row["source_event_id"]) == (
        "triplewhale", "raw/triplewhale/summary-page/dt=2026-11-24/shop.myshopify.com.json",
    )  # fmt: skip
    assert row["updated_at"] is not None
    empty = rows[("shop.myshopify.com", "2026-11-25")]
    assert empty["total_sales"] is None
    assert empty["orders"] is None
    written = spark.read.parquet(f"{lake.uri}/{job.OUTPUT}/").schema
    assert tuple(f.name for f in written.fields) == md.OUTPUT_COLUMNS
    assert_catalog_declares("marketing_daily", written)
    assert {f.name: f.dataType.simpleString() for f in written.fields}["day"] == "date"

    # a re-run of 2026-11-25 overwrites its page: only that partition changes
    lake.put("raw/triplewhale/summary-page/dt=2026-11-25/shop.myshopify.com.json", page)
    summary = job.run(spark, lake.uri, 3, TODAY)
    assert summary.partitions_changed == 1
    after = parquet_rows(spark, f"{lake.uri}/{job.OUTPUT}/", ("shop_domain", "dt"))
    assert after[("shop.myshopify.com", "2026-11-24")] == row
    assert after[("shop.myshopify.com", "2026-11-25")]["orders"] == 834
