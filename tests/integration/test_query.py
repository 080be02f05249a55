"""``platformctl query --env local`` on the local cloud: the metric views are deployed into the processed
database in the Presto view encoding, and the command answers Athena SQL over the emulated lake - a table
(Parquet put under processed/, found through the Glue catalog) and a metric view over it - in every format;
an unknown table exits 1 with a clear message."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from platformctl.analytics.metric_views import decode_view_text
from platformctl.analytics.views import load_views
from platformctl.commands import query
from platformctl.errors import UserError

pytestmark = pytest.mark.integration

STACK = "analytics/metric-views"
DAY = "2026-12-07"  # a day no other test of the session writes
KEY = f"processed/shopify/orders_enriched/dt={DAY}/query-probe.parquet"


@pytest.fixture(scope="module")
def database(local_cloud: Any) -> str:
    outputs = local_cloud.stack_outputs()
    if STACK not in outputs:
        pytest.skip(f"{STACK} is not deployed (PLATFORM_LOCAL_STACKS)")
    if "shopify/glue-jobs" not in outputs:
        pytest.skip("shopify/glue-jobs (the orders_enriched table) is not deployed (PLATFORM_LOCAL_STACKS)")
    return str(outputs["shared/glue-catalog"]["ProcessedDatabaseName"])


@pytest.fixture
def probe(local_cloud: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Three orders of DAY as one Parquet object under processed/; every version removed afterwards."""
    monkeypatch.setenv("PLATFORMCTL_ENDPOINTS_FILE", str(local_cloud.state_dir / "endpoints.json"))
    local = tmp_path / "orders.parquet"
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE o (order_id VARCHAR, created_at TIMESTAMP, currency VARCHAR, total_price DECIMAL(20,4), "
        "total_discounts DECIMAL(20,4), total_refunded DECIMAL(20,4), test BOOLEAN, deleted BOOLEAN)"
    )
    connection.executemany(
        "INSERT INTO o VALUES (?, ?, 'USD', ?, ?, ?, ?, false)",
        [
            ["q1", datetime(2026, 12, 7, 9), Decimal("100.00"), Decimal("10.00"), Decimal("25.00"), False],
            ["q2", datetime(2026, 12, 7, 23, 30), Decimal("40.50"), Decimal("0.00"), Decimal("0.00"), False],
            ["q3", datetime(2026, 12, 7, 12), Decimal("999.00"), Decimal("0.00"), Decimal("0.00"), True],
        ],
    )
    connection.execute(f"COPY o TO '{local}' (FORMAT parquet)")
    s3 = local_cloud.target.client("s3")
    bucket = local_cloud.endpoints()["bucket"]
    s3.upload_file(str(local), bucket, KEY)
    try:
        yield
    finally:  # every version: later tests of this process share the lake
        for version in s3.list_object_versions(Bucket=bucket, Prefix=KEY).get("Versions", []):
            if version["Key"] == KEY:
                s3.delete_object(Bucket=bucket, Key=KEY, VersionId=version["VersionId"])


def _query(capsys: pytest.CaptureFixture[str], sql: str, output_format: str = "json") -> str:
    assert query.command(argparse.Namespace(env="local", format=output_format, sql=sql)) == 0
    return capsys.readouterr().out


def test_the_views_are_in_the_catalog_as_presto_views(local_cloud: Any, database: str) -> None:
    glue = local_cloud.target.client("glue")
    for view in load_views():
        table = glue.get_table(DatabaseName=database, Name=view.name)["Table"]
        assert table["TableType"] == "VIRTUAL_VIEW"
        document = decode_view_text(table["ViewOriginalText"])
        assert document["originalSql"] == view.sql
        assert document["schema"] == database
        assert [c["name"] for c in document["columns"]] == [c["Name"] for c in table["StorageDescriptor"]["Columns"]]


@pytest.mark.usefixtures("probe")
def test_a_table_and_a_view_answer_over_the_emulated_lake(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    rows = json.loads(
        _query(capsys, f"SELECT order_id, total_price, dt FROM orders_enriched WHERE dt = '{DAY}' ORDER BY order_id")
    )
    assert rows == [
        {"order_id": "q1", "total_price": "100.0000", "dt": DAY},
        {"order_id": "q2", "total_price": "40.5000", "dt": DAY},
        {"order_id": "q3", "total_price": "999.0000", "dt": DAY},
    ]
    [sales] = json.loads(_query(capsys, f"SELECT * FROM daily_sales WHERE day = DATE '{DAY}'"))
    assert sales == {
        "day": DAY,
        "currency": "USD",
        "orders": 2,
        "gross_sales": "150.5000",
        "discounts": "10.0000",
        "refunds": "25.0000",
        "net_sales": "115.5000",
        "average_order_value": 70.25,
    }
    text = _query(capsys, f"SELECT day, orders, net_sales FROM daily_sales WHERE day = DATE '{DAY}'", "csv")
    assert list(csv.reader(io.StringIO(text))) == [["day", "orders", "net_sales"], [DAY, "2", "115.5000"]]
    table = _query(capsys, f"SELECT day, orders FROM daily_sales WHERE day = DATE '{DAY}'", "table")
    assert table.splitlines()[2].split() == [DAY, "2"]


@pytest.mark.usefixtures("database")
def test_an_unknown_table_is_a_clear_error(local_cloud: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORMCTL_ENDPOINTS_FILE", str(local_cloud.state_dir / "endpoints.json"))
    with pytest.raises(UserError, match="no_such_table"):
        query.command(argparse.Namespace(env="local", format="json", sql="SELECT * FROM no_such_table"))
