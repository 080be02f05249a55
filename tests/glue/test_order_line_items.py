"""order_line_items, written by the orders_enriched job: figures by hand, redelivery, late update, schema."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

import orders_enriched as oe
import orders_enriched_job as job
from tests.conftest import COPIED_FIXTURES
from tests.glue.conftest import Lake, assert_catalog_declares, parquet_rows
from tests.unit.shopify.support import envelope

pytestmark = pytest.mark.slow
TODAY = date(2026, 11, 26)
FIXTURE = json.loads((COPIED_FIXTURES / "shopify" / "order__shopify-python-api.json").read_text())["order"]


def order(**changes: Any) -> dict[str, Any]:
    return copy.deepcopy(FIXTURE) | changes


def items(spark: SparkSession, lake: Lake) -> dict[tuple[Any, ...], dict[str, Any]]:
    return parquet_rows(spark, f"{lake.uri}/{job.LINE_ITEMS_OUTPUT}/", ("order_id", "line_item_id"))


@pytest.fixture(scope="module")
def built(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """Order 1 (the fixture's 3 items, one discounted, one refunded) on 2026-11-20, order 2 (1 item) on
    2026-11-24, and a bulk order of 2 items on 2026-11-22; a full run."""
    lake = Lake(tmp_path_factory.mktemp("line-items") / "lake")
    first = order(id=1, created_at="2026-11-20T10:00:00Z", updated_at="2026-11-20T10:00:00Z")
    first["line_items"][0]["discount_allocations"] = [{"amount": "19.90"}, {"amount": "0.10"}]
    first["refunds"] = [{"transactions": [], "refund_line_items": [{"line_item_id": 518995019, "quantity": 1}]}]
    lake.webhook(envelope("orders/create", first, event_id="a1"), dt="2026-11-20")
    second = order(id=2, created_at="2026-11-24T23:30:00-05:00", updated_at="2026-11-25T05:00:00Z")
    second["line_items"] = [dict(FIXTURE["line_items"][2], id=9, quantity=4, price="2.50", total_discount="1.00")]
    lake.webhook(envelope("orders/create", second, event_id="b1"), dt="2026-11-25")
    gid = "gid://shopify/Order/3"
    money = lambda amount: {"shopMoney": {"amount": amount, "currencyCode": "EUR"}}  # noqa: E731
    lake.bulk(
        "700",
        [
            {"__typename": "Order", "id": gid, "name": "#3", "createdAt": "2026-11-22T08:00:00Z",
             "updatedAt": "2026-11-22T08:00:00Z", "currencyCode": "EUR", "test": False,
             "totalPriceSet": money("30.00"), "customer": {"id": "gid://shopify/Customer/77"}},
            {"__typename": "LineItem", "id": "gid://shopify/LineItem/31", "title": "Mug", "sku": "MUG",
             "quantity": 3, "currentQuantity": 2, "variant": {"id": "gid://shopify/ProductVariant/5"},
             "product": {"id": "gid://shopify/Product/4"}, "originalUnitPriceSet": money("10.00"),
             "discountedTotalSet": money("27.00"), "__parentId": gid},
            {"__typename": "LineItem", "id": "gid://shopify/LineItem/32", "title": "Lid", "sku": None,
             "quantity": 1, "currentQuantity": 1, "variant": None, "product": None,
             "originalUnitPriceSet": money("3.00"), "discountedTotalSet": money("3.00"), "__parentId": gid},
        ],
    )  # fmt: skip
    job.run(spark, lake.uri, 0, TODAY)
    return lake


def test_each_line_item_is_a_row_with_figures_computed_by_hand(spark: SparkSession, built: Lake) -> None:
    rows = items(spark, built)
    assert set(rows) == {
        ("1", "466157049"),
        ("1", "518995019"),
        ("1", "703073504"),
        ("2", "9"),
        ("3", "31"),
        ("3", "32"),
    }
    green = rows[("1", "466157049")]
    assert (green["price"], green["total_discount"], green["line_total"]) == (
        Decimal("199.00"),
        Decimal("20.00"),
        Decimal("179.00"),
    )
    assert (green["sku"], green["variant_title"], green["product_id"], green["variant_id"]) == (
        "IPOD2008GREEN",
        "green",
        "632910392",
        "39072856",
    )
    assert rows[("1", "518995019")]["refunded_quantity"] == 1
    assert rows[("1", "703073504")]["refunded_quantity"] == 0
    two = rows[("2", "9")]
    assert (two["quantity"], two["line_total"], two["dt"]) == (4, Decimal("9.00"), "2026-11-25")  # UTC day
    assert two["created_at"] == datetime(2026, 11, 25, 4, 30)
    mug, lid = rows[("3", "31")], rows[("3", "32")]
    assert (mug["total_discount"], mug["line_total"], mug["refunded_quantity"]) == (
        Decimal("3.00"),
        Decimal("27.00"),
        1,
    )
    assert (mug["currency"], mug["customer_id"], mug["source"], mug["source_event_id"]) == ("EUR", "77", "bulk", "700")
    assert (lid["product_id"], lid["variant_id"], lid["line_total"], lid["dt"]) == (
        None,
        None,
        Decimal("3.00"),
        "2026-11-22",
    )
    assert all(r["test"] is False and r["deleted"] is False and r["cancelled"] is False for r in rows.values())


def test_the_written_schema_is_the_contracts(spark: SparkSession, built: Lake) -> None:
    written = spark.read.parquet(f"{built.uri}/{job.LINE_ITEMS_OUTPUT}/").schema
    assert tuple(f.name for f in written.fields) == oe.LINE_ITEM_OUTPUT_COLUMNS
    assert_catalog_declares("order_line_items", written)
    types = {f.name: f.dataType.simpleString() for f in written.fields}
    assert types == {
        "order_id": "string", "line_item_id": "string", "created_at": "timestamp", "currency": "string",
        "product_id": "string", "variant_id": "string", "sku": "string", "title": "string",
        "variant_title": "string", "vendor": "string", "quantity": "int", "price": "decimal(20,4)",
        "total_discount": "decimal(20,4)", "line_total": "decimal(20,4)", "refunded_quantity": "int",
        "customer_id": "string", "test": "boolean", "cancelled": "boolean", "deleted": "boolean",
        "updated_at": "timestamp", "source": "string", "source_event_id": "string", "dt": "string",
    }  # fmt: skip


def test_an_incremental_run_after_a_redelivery_and_a_late_update_changes_exactly_that_order(
    spark: SparkSession, built: Lake, tmp_path: Path
) -> None:
    lake = Lake(tmp_path / "lake")
    import shutil

    shutil.copytree(built.root, lake.root)
    before = items(spark, lake)
    # order 2 redelivered (same event, same file), order 1 edited late: its refunded item is removed
    second = json.loads(next((lake.root / "raw/shopify/webhooks/orders").rglob("b1.json")).read_text())
    lake.webhook(second, dt="2026-11-25")
    edited = order(
        id=1, created_at="2026-11-20T10:00:00Z", updated_at="2026-11-26T09:00:00Z", cancelled_at="2026-11-26T09:00:00Z"
    )
    edited["line_items"] = edited["line_items"][:1]
    lake.webhook(envelope("orders/updated", edited, event_id="a2"), dt="2026-11-26")
    summary = job.run(spark, lake.uri, 3, TODAY)

    after = items(spark, lake)
    assert summary.line_items_written == 4
    assert set(before) - set(after) == {("1", "518995019"), ("1", "703073504")}
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {("1", "466157049")}
    assert (after[("1", "466157049")]["cancelled"], after[("1", "466157049")]["source_event_id"]) == (True, "a2")
    # the new version has no allocation and states no total_discount: unknown, and the total is the price
    assert (after[("1", "466157049")]["total_discount"], after[("1", "466157049")]["line_total"]) == (
        None,
        Decimal("199.00"),
    )
    assert {k: after[k] for k in after if k[0] != "1"} == {k: before[k] for k in before if k[0] != "1"}
