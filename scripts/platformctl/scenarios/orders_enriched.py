"""Demo step: the Glue job ``orders_enriched`` over what the Shopify steps put in the lake.

The deployed job's script (uploaded to the emulated lake by the deploy) runs on local PySpark with the
job's own arguments, as its schedule would start it, and its Parquet output replaces
``processed/shopify/orders_enriched/`` in the emulated S3. The step reports what the run read and wrote,
and checks that every order of the bulk backfill and of the day's webhooks is in it.
"""

from __future__ import annotations

import time
from typing import Any

from platformctl.commands.glue import WRITES, run_locally
from platformctl.errors import UserError
from platformctl.scenarios.report import Report
from platformctl.scenarios.shopify_bulk import ORDERS as BULK_ORDERS

ORDER = 50


def step(cloud: Any, report: Report) -> None:
    report.section("Glue job orders_enriched (the deployed script on local Spark)")
    started = time.monotonic()
    try:
        summary = run_locally(cloud.target)
    except UserError as exc:
        report.expect(False, f"orders_enriched did not run: {exc}")
        return
    report.line(
        f"{summary['job_name']}: ran in {time.monotonic() - started:.1f}s (lookback {summary['lookback_days']} days)"
    )
    report.table(
        ("READ", "COUNT"),
        [
            ("webhook files", summary["webhook_files"]),
            ("order versions from webhooks", summary["webhook_versions"]),
            ("order versions from complete bulk runs", summary["bulk_versions"]),
            ("orders from the previous output", summary["previous_orders"]),
        ],
    )
    s3 = cloud.target.client("s3")
    bucket = cloud.endpoints()["bucket"]
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=WRITES)
        for item in page.get("Contents", [])
    ]
    parquet = [key for key in keys if key.endswith(".parquet")]
    report.line(
        f"wrote {summary['orders_written']} orders ({summary['orders_deleted']} marked deleted) in "
        f"{summary['partitions_written']} dt partitions: {len(parquet)} Parquet objects under {WRITES}"
    )
    report.expect(summary["bulk_versions"] >= BULK_ORDERS, "orders of the bulk backfill are missing from the run")
    report.expect(summary["webhook_versions"] > 0, "no order version was read from the day's webhooks")
    report.expect(summary["orders_written"] >= BULK_ORDERS, "fewer orders written than the backfill exported")
    report.expect(len(parquet) == summary["partitions_written"], "not one Parquet object per dt partition")
