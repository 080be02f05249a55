"""orders_enriched on local Spark: the Glue entry's ``run`` against a lake on disk, read back as Athena would."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pyspark.sql import SparkSession

import orders_enriched as oe
import orders_enriched_job as job
from platformctl.simulators.shopify_admin import order_lines
from tests.conftest import COPIED_FIXTURES, load_shared_json
from tests.glue.conftest import Lake, assert_catalog_declares
from tests.unit.shopify.support import envelope

pytestmark = pytest.mark.slow
TODAY = date(2026, 11, 26)
FIXTURE = json.loads((COPIED_FIXTURES / "shopify" / "order__shopify-python-api.json").read_text())["order"]


def order(**changes: Any) -> dict[str, Any]:
    return copy.deepcopy(FIXTURE) | changes


def run(spark: SparkSession, lake: Lake, lookback_days: int = 0) -> job.Summary:
    return job.run(spark, lake.uri, lookback_days, TODAY)


def output(spark: SparkSession, lake: Lake) -> dict[str, dict[str, Any]]:
    rows = spark.read.parquet(f"{lake.uri}/{job.OUTPUT}/").collect()
    return {row["order_id"]: row.asDict() for row in rows}


def test_a_webhook_order_becomes_one_row_of_checked_values_and_no_contact_details(
    spark: SparkSession, lake: Lake
) -> None:
    lake.webhook(envelope("orders/create", order(), event_id="e1"))
    summary = run(spark, lake)

    row = output(spark, lake)["450789469"]
    assert summary.orders_written == 1
    assert row["order_number"] == "1001"
    assert row["order_name"] == "#1001"
    assert row["total_price"] == Decimal("409.94")
    assert row["subtotal_price"] == Decimal("398.00")
    assert row["net_revenue"] == Decimal("409.94")
    assert row["currency"] == "USD"
    assert row["financial_status"] == "authorized"
    assert row["customer_id"] == "207119551"
    assert (row["line_item_count"], row["total_quantity"]) == (3, 3)
    assert row["discount_codes"] == ["TENOFF"]
    # the fixture's one fulfilment failed: it is not a fulfilment of the order
    assert (row["fulfillment_count"], row["first_fulfilled_at"]) == (0, None)
    assert row["created_at"].isoformat() == "2008-01-10T16:00:00"  # UTC, from -05:00
    assert row["dt"] == "2008-01-10"
    assert (row["source"], row["source_event_id"], row["deleted"]) == ("webhook", "e1", False)
    assert (row["customer_order_sequence"], row["is_first_order"]) == (1, True)
    assert tuple(row) == oe.OUTPUT_COLUMNS
    stored = b"".join(p.read_bytes() for p in (lake.root / job.OUTPUT).rglob("*.parquet"))
    assert FIXTURE["email"].encode() not in stored
    assert FIXTURE["billing_address"]["address1"].encode() not in stored


def test_the_newest_version_wins_whatever_order_and_runs_the_versions_arrive_in(
    spark: SparkSession, lake: Lake, tmp_path: Any
) -> None:
    versions = [
        envelope("orders/create", order(updated_at="2026-11-24T10:00:00Z"), event_id="v1"),
        envelope("orders/paid", order(updated_at="2026-11-24T11:00:00Z", financial_status="paid"), event_id="v2"),
        envelope(
            "orders/updated",
            order(updated_at="2026-11-24T12:00:00Z", financial_status="refunded", tags="vip, gift"),
            event_id="v3",
        ),
    ]
    for event in versions:
        lake.webhook(event)
    run(spark, lake)
    at_once = output(spark, lake)

    late = Lake(tmp_path / "late")
    late.webhook(versions[2], dt="2026-11-25")
    run(spark, late, lookback_days=3)
    late.webhook(versions[0], dt="2026-11-26")
    late.webhook(versions[1], dt="2026-11-24")
    run(spark, late, lookback_days=3)

    assert output(spark, late) == at_once
    row = at_once["450789469"]
    assert (row["financial_status"], row["tags"], row["source_event_id"]) == ("refunded", ["vip", "gift"], "v3")


def test_a_delete_marks_the_order_deleted_and_keeps_what_was_known(spark: SparkSession, lake: Lake) -> None:
    lake.webhook(envelope("orders/create", order(), event_id="c1"))
    lake.webhook(envelope("orders/delete", {"id": FIXTURE["id"]}, event_id="d1"))
    lake.webhook(envelope("orders/delete", {"id": 999}, event_id="d2"))  # never seen: no row to mark
    summary = run(spark, lake)

    rows = output(spark, lake)
    assert set(rows) == {"450789469"}
    assert rows["450789469"]["deleted"] is True
    assert rows["450789469"]["total_price"] == Decimal("409.94")
    assert rows["450789469"]["customer_order_sequence"] is None  # a deleted order is not the customer's
    assert summary.orders_deleted == 1


def test_payloads_without_state_change_nothing(spark: SparkSession, lake: Lake) -> None:
    lake.webhook(envelope("orders/create", order(), event_id="c1"))
    # EventBridge's reduced payload of a newer version, an order edit, a delivery in the Events casing
    lake.webhook(envelope("orders/updated", {"id": FIXTURE["id"]}, event_id="r1"))
    lake.webhook(envelope("orders/edited", {"order_edit": {"id": 1, "order_id": FIXTURE["id"]}}, event_id="x1"))
    newer = order(id=7, updated_at="2026-11-24T10:00:00Z")
    lake.webhook(envelope("orders/updated", newer, event_id="l1", lowercase=True))
    summary = run(spark, lake)

    rows = output(spark, lake)
    assert rows["450789469"]["source_event_id"] == "c1"
    assert rows["7"]["source_event_id"] == "l1"
    assert (summary.webhook_files, summary.webhook_versions) == (4, 2)


def test_bulk_runs_count_only_when_complete_and_children_join_their_order(spark: SparkSession, lake: Lake) -> None:
    lines = [line for index in range(4) for line in order_lines(3, index, 4)]
    lake.bulk("501", lines)
    changed = dict(lines[0], updatedAt="2030-01-01T00:00:00Z", displayFinancialStatus="REFUNDED")
    lake.bulk("502", [changed], complete=False)  # a newer version, from a run not to be trusted yet
    run(spark, lake)

    rows = output(spark, lake)
    orders = [line for line in lines if line["__typename"] == "Order"]
    assert set(rows) == {o["id"].rsplit("/", 1)[1] for o in orders}
    for bulk_order in orders:
        row = rows[bulk_order["id"].rsplit("/", 1)[1]]
        items = [x for x in lines if x["__typename"] == "LineItem" and x["__parentId"] == bulk_order["id"]]
        assert row["line_item_count"] == len(items)
        assert row["total_quantity"] == sum(x["quantity"] for x in items)
        assert row["total_price"] == Decimal(bulk_order["totalPriceSet"]["shopMoney"]["amount"])
        assert row["financial_status"] == bulk_order["displayFinancialStatus"].lower()
        expected_status = {"FULFILLED": "fulfilled"}.get(bulk_order["displayFulfillmentStatus"])
        assert row["fulfillment_status"] == expected_status
        assert row["fulfillment_count"] == len(bulk_order["fulfillments"])
        assert (row["test"], row["source_name"]) == (bulk_order["test"], bulk_order["sourceName"])
        assert (row["source"], row["source_event_id"]) == ("bulk", "501")

    lake.bulk("502", [changed], complete=True)
    run(spark, lake)
    assert output(spark, lake)[orders[0]["id"].rsplit("/", 1)[1]]["financial_status"] == "refunded"


def test_on_equal_updated_at_a_webhook_beats_a_bulk_line(spark: SparkSession, lake: Lake) -> None:
    lines = order_lines(3, 0, 1)
    bulk_order = lines[0]
    order_id = int(bulk_order["id"].rsplit("/", 1)[1])
    lake.bulk("601", lines)
    rest = order(id=order_id, updated_at=bulk_order["updatedAt"], total_price="1.00")
    lake.webhook(envelope("orders/updated", rest, event_id="w1"))
    run(spark, lake)
    row = output(spark, lake)[str(order_id)]
    assert (row["source"], row["total_price"]) == ("webhook", Decimal("1.00"))


def test_enrichment_follows_each_customer_and_nets_refunds(spark: SparkSession, lake: Lake) -> None:
    customer = {"id": 42}
    refund = {"transactions": [{"kind": "refund", "status": "success", "amount": "9.94"}]}
    failed = {"transactions": [{"kind": "refund", "status": "failure", "amount": "400.00"}]}
    fulfilled = [{"status": "success", "created_at": "2026-01-02T12:00:00Z"}]
    orders = {
        "1": order(id=1, customer=customer, created_at="2026-01-01T00:00:00Z", processed_at="2026-01-01T00:00:00Z"),
        "2": order(id=2, customer=customer, created_at="2026-01-03T00:00:00Z", test=True),
        "3": order(id=3, customer=customer, created_at="2026-01-04T00:00:00Z", refunds=[refund, failed]),
        "4": order(
            id=4,
            customer={"id": 43},
            created_at="2026-01-01T00:00:00Z",
            processed_at="2026-01-01T00:00:00Z",
            fulfillments=fulfilled,
        ),
    }
    for key, body in orders.items():
        lake.webhook(envelope("orders/create", body, event_id=f"o{key}"))
    run(spark, lake)

    rows = output(spark, lake)
    assert [rows[k]["customer_order_sequence"] for k in "1234"] == [1, None, 2, 1]
    assert [rows[k]["is_first_order"] for k in "1234"] == [True, None, False, True]
    assert rows["3"]["days_since_previous_order"] == 3.0  # the test order in between does not count
    assert (rows["3"]["total_refunded"], rows["3"]["refund_count"]) == (Decimal("9.94"), 2)
    assert rows["3"]["net_revenue"] == Decimal("400.00")
    assert (rows["4"]["fulfillment_count"], rows["4"]["hours_to_first_fulfillment"]) == (1, 36.0)


def test_an_incremental_run_merges_its_window_into_what_it_knew_and_a_rerun_changes_nothing(
    spark: SparkSession, lake: Lake
) -> None:
    lake.webhook(envelope("orders/create", order(id=1), event_id="a"), dt="2026-10-01")
    run(spark, lake)  # full: the old order is known from here on

    lake.webhook(envelope("orders/create", order(id=2), event_id="b"), dt="2026-11-25")
    late = order(id=3, updated_at="2026-11-20T00:00:00Z")
    lake.webhook(envelope("orders/create", late, event_id="c"), dt="2026-11-01")  # outside the window
    summary = run(spark, lake, lookback_days=3)
    assert set(output(spark, lake)) == {"1", "2"}
    assert (summary.previous_orders, summary.webhook_files) == (1, 1)

    first = output(spark, lake)
    run(spark, lake, lookback_days=3)
    assert output(spark, lake) == first
    files = list((lake.root / job.OUTPUT).rglob("*.parquet"))
    assert len(files) == len({f.parent for f in files})  # one file per dt partition

    run(spark, lake, lookback_days=0)  # the rebuild reads everything
    assert set(output(spark, lake)) == {"1", "2", "3"}


def test_a_lake_without_orders_writes_nothing_and_succeeds(spark: SparkSession, lake: Lake) -> None:
    summary = run(spark, lake, lookback_days=3)
    assert summary.orders_written == 0
    assert not (lake.root / job.OUTPUT).exists() or not list((lake.root / job.OUTPUT).rglob("*.parquet"))


def test_the_real_orders_create_sample_becomes_a_row(spark: SparkSession, lake: Lake) -> None:
    body = load_shared_json("shopify/webhooks/orders_create__hassantahir-2022-04.json")
    lake.webhook(envelope("orders/create", body, event_id="real"))
    run(spark, lake)
    row = output(spark, lake)[str(body["id"])]
    assert row["order_number"] == str(body["order_number"])
    assert row["total_price"] == Decimal(body["total_price"])
    assert row["customer_id"] == str(body["customer"]["id"])
    assert row["test"] is True
    assert row["customer_order_sequence"] is None  # a test order


def test_the_catalog_table_declares_the_types_spark_writes(spark: SparkSession, lake: Lake) -> None:
    lake.webhook(envelope("orders/create", order(), event_id="e1"))
    run(spark, lake)
    assert_catalog_declares("orders_enriched", spark.read.parquet(f"{lake.uri}/{job.OUTPUT}/").schema)
