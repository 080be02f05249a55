"""The metric views on the local engine (DuckDB), each beside a plain scan of its input.

Generated, written as hive-partitioned Parquet with the catalog's columns: ``BENCH_ORDERS`` (1,000,000)
orders over a year (``BENCH_CUSTOMERS``, 200,000, customers; 2% test, 1% deleted, two currencies),
``BENCH_SUBSCRIPTIONS`` (100,000) Recharge subscriptions and a year of Triple Whale days for three shops.
Measured, wall time of the best of ``BENCH_RUNS`` (3), each query fully materialised:
- baseline: a plain scan of the view's input (``SELECT count(*), sum(<a column it reads>) FROM <table>``);
- the view (``SELECT * FROM <view>``), the same SQL file Athena runs, translated by sqlglot.
The ratio view / scan is what the view's own work costs over reading its data.

    python -m bench.metric_views
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
ORDERS = int(os.environ.get("BENCH_ORDERS", "1000000"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "200000"))
SUBSCRIPTIONS = int(os.environ.get("BENCH_SUBSCRIPTIONS", "100000"))

# view -> the plain scan of its input it is set against
SCANS = {
    "daily_sales": "SELECT count(*), sum(total_price) FROM orders_enriched",
    "customer_cohorts": "SELECT count(*), count(DISTINCT customer_id) FROM orders_enriched",
    "subscription_mrr": "SELECT count(*), sum(price) FROM subscriptions",
    "blended_roas": "SELECT count(*), sum(total_price) FROM orders_enriched",
}


def _generate(connection: Any, root: Path) -> None:
    """The three inputs, generated in SQL and written with the engine's Parquet writer, dt-partitioned."""
    connection.execute(f"""
        COPY (
            SELECT CAST(i AS VARCHAR) AS order_id,
                   TIMESTAMP '2025-01-01' + to_seconds(CAST(hash(i) % 31536000 AS BIGINT)) AS created_at,
                   CASE WHEN i % 10 = 0 THEN 'EUR' ELSE 'USD' END AS currency,
                   CAST(10 + hash(i * 7) % 19000 / 100.0 AS DECIMAL(20,4)) AS total_price,
                   CAST(hash(i * 11) % 500 / 100.0 AS DECIMAL(20,4)) AS total_discounts,
                   CAST(CASE WHEN i % 20 = 0 THEN 5 ELSE 0 END AS DECIMAL(20,4)) AS total_refunded,
                   CAST(hash(i * 13) % {CUSTOMERS} AS VARCHAR) AS customer_id,
                   i % 50 = 0 AS test, false AS cancelled, i % 100 = 1 AS deleted,
                   strftime(created_at, '%Y-%m-%d') AS dt
            FROM range({ORDERS}) t(i)
        ) TO '{root / "orders_enriched"}' (FORMAT parquet, PARTITION_BY (dt))
    """)
    connection.execute(f"""
        COPY (
            SELECT CAST(i AS VARCHAR) AS subscription_id, CAST(i % ({SUBSCRIPTIONS} // 2) AS VARCHAR) AS customer_id,
                   1 + i % 3 AS quantity, CAST(15 + i % 40 AS DECIMAL(20,4)) AS price, 'USD' AS currency,
                   CASE WHEN i % 4 = 0 THEN 'cancelled' ELSE 'active' END AS status,
                   CASE WHEN i % 3 = 0 THEN 'week' ELSE 'month' END AS order_interval_unit,
                   1 + i % 2 AS order_interval_frequency,
                   TIMESTAMP '2025-01-01' + to_seconds(CAST(hash(i) % 31536000 AS BIGINT)) AS created_at,
                   CASE WHEN i % 4 = 0 THEN created_at + INTERVAL 60 DAY END AS cancelled_at,
                   created_at + INTERVAL 60 DAY AS updated_at, false AS deleted,
                   strftime(created_at, '%Y-%m-%d') AS dt
            FROM range({SUBSCRIPTIONS}) t(i)
        ) TO '{root / "subscriptions"}' (FORMAT parquet, PARTITION_BY (dt))
    """)
    connection.execute(f"""
        COPY (
            SELECT 'shop' || s || '.myshopify.com' AS shop_domain,
                   CAST(DATE '2025-01-01' + CAST(d AS INTEGER) AS DATE) AS day,
                   'USD' AS currency, CAST(100 + (d * s) % 900 AS DECIMAL(20,4)) AS blended_ad_spend,
                   strftime(DATE '2025-01-01' + CAST(d AS INTEGER), '%Y-%m-%d') AS dt
            FROM range(365) a(d), range(3) b(s)
        ) TO '{root / "marketing_daily"}' (FORMAT parquet, PARTITION_BY (dt))
    """)


def _best(engine: Any, sql: str) -> float:
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        engine.query(sql)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    sys.path[:0] = [str(REPO / "scripts")]
    import duckdb

    from platformctl.analytics.local_engine import LocalEngine
    from platformctl.analytics.schemas import processed_tables
    from platformctl.analytics.views import load_views

    with tempfile.TemporaryDirectory(prefix="bench-metric-views-") as scratch:
        root = Path(scratch)
        started = time.perf_counter()
        _generate(duckdb.connect(), root)
        size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
        print(
            f"lake: {ORDERS} orders, {SUBSCRIPTIONS} subscriptions, 3 shops x 365 days of ad spend; "
            f"{size / 1e6:.1f} MB of Parquet, generated in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        engine = LocalEngine()
        for schema in processed_tables().values():
            engine.add_table(schema.name, schema.columns, root / schema.name, schema.partition_keys)
        engine.add_views(load_views())
        print(f"{'view':<18} {'rows':>7} {'view s':>8} {'scan s':>8} {'ratio':>7}")
        for name, scan in SCANS.items():
            rows = len(engine.query(f"SELECT * FROM {name}").rows)
            view_time, scan_time = _best(engine, f"SELECT * FROM {name}"), _best(engine, scan)
            print(
                f"{name:<18} {rows:>7} {view_time:>8.3f} {scan_time:>8.3f} {view_time / scan_time:>6.1f}x", flush=True
            )


if __name__ == "__main__":
    main()
