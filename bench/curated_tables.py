"""The curated Glue jobs on local Spark over generated orders, beside reading their input.

A lake on local disk holds ``BENCH_CURATED_ORDERS`` (default 1,000,000) orders of one bulk backfill (the
simulator's orders, line items as children), one product and one customer line per 100 orders, a
subscription and a charge delivery per 100 orders and 30 days of Triple Whale pages. Measured once each
(``local[2]``): the orders_enriched job (which writes order_line_items), then the shopify, recharge and
marketing curated jobs, each beside reading and counting the input it reads.

    BENCH_CURATED_ORDERS=100000 python -m bench.curated_tables
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ORDERS = int(os.environ.get("BENCH_CURATED_ORDERS", "1000000"))
TODAY = date(2026, 11, 26)


def _write_parts(root: Path, kind: str, lines: list[bytes]) -> None:
    part = root / f"raw/shopify/bulk/{kind}/run=9001/part-00001.jsonl.gz"
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(b"".join(gzip.compress(b"".join(lines[i : i + 5000])) for i in range(0, len(lines), 5000)))


def _build_lake(root: Path) -> None:
    from platformctl.simulators.shopify_admin import order_lines

    by_type: dict[str, list[bytes]] = {
        "order": [],
        "line_item": [],
        "customer": [],
        "product": [],
        "product_variant": [],
    }
    for index in range(ORDERS):
        for line in order_lines(11, index, ORDERS):
            kind = {"Order": "order", "LineItem": "line_item"}.get(line["__typename"])
            if kind:
                by_type[kind].append(json.dumps(line).encode() + b"\n")
        if index % 100 == 0:
            n = index // 100
            stamp = {"createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-11-01T00:00:00Z"}
            by_type["customer"].append(
                json.dumps(
                    {
                        "__typename": "Customer",
                        "id": f"gid://shopify/Customer/{n}",
                        "state": "ENABLED",
                        "tags": [],
                        **stamp,
                    }
                ).encode()
                + b"\n"
            )
            by_type["product"].append(
                json.dumps(
                    {
                        "__typename": "Product",
                        "id": f"gid://shopify/Product/{n}",
                        "title": "P",
                        "status": "ACTIVE",
                        **stamp,
                    }
                ).encode()
                + b"\n"
            )
            by_type["product_variant"].append(
                json.dumps(
                    {
                        "__typename": "ProductVariant",
                        "id": f"gid://shopify/ProductVariant/{n}",
                        "price": "9.99",
                        "__parentId": f"gid://shopify/Product/{n}",
                    }
                ).encode()
                + b"\n"
            )
            day = TODAY - timedelta(days=n % 30)
            created = f"{day}T00:00:00+00:00"
            subscription = {"id": n, "customer_id": n, "price": "24.30", "quantity": 1, "created_at": created}
            charge = {"id": n, "customer": {"id": n}, "total_price": "24.30", "created_at": created,
                      "line_items": [{"purchase_item_id": n}]}  # fmt: skip
            for resource, body in (("subscription", subscription), ("charge", charge)):
                key = root / f"raw/recharge/{resource}/topic={resource}_created/dt={day}/{n}-{day}T000000.000000Z.json"
                key.parent.mkdir(parents=True, exist_ok=True)
                key.write_text(json.dumps({resource: body}))
    for kind, lines in by_type.items():
        _write_parts(root, kind, lines)
    manifest = root / "metadata/shopify/bulk/run=9001/manifest.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"run_id": "9001", "complete": True}))
    page = (REPO.parent / "shared/fixtures/real/triplewhale/summary_page__tw-public-apis.json").read_text()
    for n in range(30):
        path = root / f"raw/triplewhale/summary-page/dt={TODAY - timedelta(days=n)}/shop.myshopify.com.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page)


def _timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main() -> None:
    sys.path[:0] = [str(REPO / "glue-scripts"), str(REPO / "scripts"), str(REPO / "lambdas"), str(REPO)]
    import lake_io
    import marketing_daily_job
    import orders_enriched_job
    import recharge_curated_job
    import shopify_curated_job

    spark = lake_io.local_session(2, **{"spark.driver.memory": "4g"})
    spark.sparkContext.setLogLevel("ERROR")
    with tempfile.TemporaryDirectory(prefix="bench-curated-") as scratch:
        root = Path(scratch)
        built, _ = _timed(lambda: _build_lake(root))
        print(f"lake: {ORDERS} orders, built in {built:.1f}s", flush=True)
        uri = f"file://{root}"

        def read(*folders: str, parquet: bool = False) -> int:
            reader = spark.read.parquet if parquet else spark.read.text
            return sum(int(reader(f"{uri}/{folder}/").count()) for folder in folders)

        cases = [
            ("orders_enriched + order_line_items", lambda: read("raw/shopify/bulk/order", "raw/shopify/bulk/line_item"),
             lambda: orders_enriched_job.run(spark, uri, 0, TODAY)),
            ("customers + products", lambda: read("processed/shopify/orders_enriched", parquet=True) + read(
                "raw/shopify/bulk/customer", "raw/shopify/bulk/product", "raw/shopify/bulk/product_variant"),
             lambda: shopify_curated_job.run(spark, uri, 0, TODAY)),
            ("subscriptions + subscription_charges", lambda: read("raw/recharge/subscription", "raw/recharge/charge"),
             lambda: recharge_curated_job.run(spark, uri, 0, TODAY)),
            ("marketing_daily", lambda: read("raw/triplewhale/summary-page"),
             lambda: marketing_daily_job.run(spark, uri, 0, TODAY)),
        ]  # fmt: skip
        results = []
        for name, baseline, job in cases:
            job_seconds, _ = _timed(job)  # the job first: the baseline of a later job reads its output
            read_seconds, rows = _timed(baseline)
            results.append((name, read_seconds, job_seconds, rows))
    spark.stop()
    print(f"\ncurated jobs on local Spark (local[2]), {ORDERS} orders, rebuild (lookback 0), one run each")
    print(f"  {'job':<40} {'input rows':>11} {'read s':>8} {'job s':>8} {'x read':>7}")
    for name, read_seconds, job_seconds, rows in results:
        print(f"  {name:<40} {rows:>11} {read_seconds:>8.2f} {job_seconds:>8.2f} {job_seconds / read_seconds:>6.1f}x")


if __name__ == "__main__":
    main()
