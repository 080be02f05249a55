"""orders_enriched reads a reduced payload's fetched order (``raw/shopify/fetched/orders/...``, the order
processor's completion of the event) as a webhook: one run after the reduced event the order is a row, the
same row the full webhook would have given, versioned by its ``updated_at`` against webhooks and bulk lines."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

import orders_enriched_job as job
import platformctl.simulators.shopify_resources as simulated
from common.shopify import events as se
from common.shopify.resources import order_from_graphql
from platformctl.simulators.shopify_admin import order_lines
from tests.conftest import COPIED_FIXTURES
from tests.glue.conftest import Lake
from tests.unit.shopify.support import envelope

pytestmark = pytest.mark.slow
TODAY = date(2026, 11, 26)
FIXTURE = json.loads((COPIED_FIXTURES / "shopify" / "order__shopify-python-api.json").read_text())["order"]
TRIGGERED = "2026-11-25T10:00:00Z"  # inside an incremental run's window (dt=2026-11-25)


def order(**changes: Any) -> dict[str, Any]:
    """The sample order with a refund and a successful fulfilment besides its failed one."""
    rest: dict[str, Any] = copy.deepcopy(FIXTURE)
    rest["refunds"] = [
        {"id": 509562969, "created_at": "2008-01-12T09:00:00-05:00", "transactions": [
            {"kind": "refund", "status": "success", "amount": "41.94"},
            {"kind": "refund", "status": "failure", "amount": "5.00"},
        ]}
    ]  # fmt: skip
    rest["fulfillments"] = [
        *rest["fulfillments"],
        {"id": 255858047, "status": "success", "created_at": "2008-01-11T08:00:00-05:00"},
    ]
    return rest | changes


def reduced(event_id: str, rest: dict[str, Any]) -> dict[str, Any]:
    return envelope("orders/updated", {"id": rest["id"]}, event_id=event_id, triggered_at=TRIGGERED)


def deliver_reduced(lake: Lake, event_id: str, rest: dict[str, Any]) -> str:
    """What the order processor leaves in the lake for a reduced payload whose order the Admin API (the
    simulator's answer for ``rest``) gives: the raw event as delivered and the fetched order beside it."""
    event = reduced(event_id, rest)
    parsed = se.parse_event(event)
    completed = parsed.with_payload(order_from_graphql(simulated.order_node(copy.deepcopy(rest))))
    lake.put(parsed.lake_key(), se.verbatim(event))
    lake.put(completed.fetched_key(), se.verbatim(completed.completed()))
    return completed.fetched_key()


def run(spark: SparkSession, lake: Lake, lookback_days: int = 0) -> job.Summary:
    return job.run(spark, lake.uri, lookback_days, TODAY)


def output(spark: SparkSession, lake: Lake) -> dict[str, dict[str, Any]]:
    rows = spark.read.parquet(f"{lake.uri}/{job.OUTPUT}/").collect()
    return {row["order_id"]: row.asDict() for row in rows}


def test_a_reduced_payloads_order_is_the_row_its_full_webhook_would_give(
    spark: SparkSession, lake: Lake, tmp_path: Path
) -> None:
    rest = order()
    key = deliver_reduced(lake, "r1", rest)
    assert key == "raw/shopify/fetched/orders/topic=orders_updated/dt=2026-11-25/r1.json"
    summary = run(spark, lake)

    [row] = output(spark, lake).values()
    assert (row["order_id"], row["source"], row["source_event_id"]) == ("450789469", "webhook", "r1")
    assert (summary.webhook_files, summary.fetched_files, summary.webhook_versions) == (1, 1, 1)

    full = Lake(tmp_path / "full")
    full.webhook(envelope("orders/updated", rest, event_id="r1", triggered_at=TRIGGERED), dt="2026-11-25")
    run(spark, full)
    [expected] = output(spark, full).values()
    assert row == expected
    # what the comparison covers: refunds net of failed ones, discount codes, fulfilments
    assert (row["total_refunded"], row["refund_count"]) == (Decimal("41.94"), 1)
    assert row["net_revenue"] == row["total_price"] - Decimal("41.94")
    assert (row["discount_codes"], row["fulfillment_count"]) == (["TENOFF"], 1)
    assert row["first_fulfilled_at"].isoformat() == "2008-01-11T13:00:00"


def test_a_fetched_order_is_as_new_as_its_updated_at(spark: SparkSession, lake: Lake) -> None:
    # a later webhook of the order wins over the fetched version; the fetched one wins over an older webhook
    lake.webhook(envelope("orders/create", order(updated_at="2026-11-25T09:00:00Z"), event_id="w1"), dt="2026-11-25")
    deliver_reduced(lake, "r2", order(updated_at="2026-11-25T10:00:00Z", financial_status="paid"))
    run(spark, lake)
    row = output(spark, lake)["450789469"]
    assert (row["source_event_id"], row["financial_status"]) == ("r2", "paid")

    later = order(updated_at="2026-11-25T11:00:00Z", financial_status="refunded")
    lake.webhook(envelope("orders/updated", later, event_id="w3"), dt="2026-11-25")
    run(spark, lake)
    row = output(spark, lake)["450789469"]
    assert (row["source_event_id"], row["financial_status"]) == ("w3", "refunded")


def test_a_fetched_order_beats_an_older_bulk_line_and_is_read_in_an_incremental_run(
    spark: SparkSession, lake: Lake
) -> None:
    lines = order_lines(3, 0, 1)
    bulk_order = lines[0]
    order_id = int(bulk_order["id"].rsplit("/", 1)[1])
    lake.bulk("701", lines)
    run(spark, lake)  # the backfill: the order from its bulk line
    assert output(spark, lake)[str(order_id)]["source"] == "bulk"

    newer = order(id=order_id, name="#4242", order_number=4242, updated_at="2030-01-01T00:00:00Z")
    deliver_reduced(lake, "r4", newer)
    summary = run(spark, lake, lookback_days=3)  # the schedule's run: the window's dt partitions only

    row = output(spark, lake)[str(order_id)]
    assert (row["source"], row["source_event_id"], row["order_number"]) == ("webhook", "r4", "4242")
    assert summary.fetched_files == 1
