"""Glue entry of ``orders_enriched``: read the lake, merge, write ``processed/shopify/orders_enriched/`` and
``processed/shopify/order_line_items/``.

On Glue (5.0, Spark 3.5) the job runs this file with ``--lake_uri s3://<bucket>`` and ``--lookback_days N``
and imports the transforms from ``orders_enriched.py``, the plumbing from ``lake_io.py`` and the shared
rules from ``commerce_rules.py`` (``--extra-py-files``). The local cloud runs the
same ``run`` on local PySpark against files exported from the emulated S3 (``platformctl glue``).

A run reads the webhooks of the last ``lookback_days`` days (by their ``dt`` partition, the day Shopify
triggered them) and the orders fetched for reduced payloads among them (same partitions, under
``raw/shopify/fetched/orders/``), the bulk parts written in that time, every complete bulk run's
manifest, and its own previous output (both tables); it writes every order and its line items again,
one Parquet file per ``dt`` (the order's UTC creation day) and table, replacing only the partitions it
writes. ``lookback_days`` 0 rebuilds from all raw data and ignores the previous output: use it after a
replay of events older than the window, or after changing the transforms.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

import lake_io
import orders_enriched as oe
from lake_io import local_session

__all__ = ["OUTPUT", "Summary", "local_session", "main", "run"]

WEBHOOKS = "raw/shopify/webhooks/orders"
FETCHED = "raw/shopify/fetched/orders"  # reduced payloads' orders, read as webhooks
BULK = "raw/shopify/bulk"
MANIFESTS = "metadata/shopify/bulk"
OUTPUT = "processed/shopify/orders_enriched"
LINE_ITEMS_OUTPUT = "processed/shopify/order_line_items"
SPARK_SETTINGS = lake_io.SPARK_SETTINGS


@dataclass(frozen=True)
class Summary:
    """What a run read and wrote (logged as one JSON line, returned to the local runner)."""

    lookback_days: int
    webhook_files: int
    fetched_files: int
    webhook_versions: int
    bulk_versions: int
    previous_orders: int
    orders_written: int
    orders_deleted: int
    partitions_written: int
    line_items_written: int = 0


def run(spark: SparkSession, lake_uri: str, lookback_days: int, today: date | None = None) -> Summary:
    lake_io.configure(spark)
    lake = lake_uri.rstrip("/")
    today = today or lake_io.utc_today()
    incremental = lookback_days > 0

    def events(prefix: str) -> DataFrame:
        paths = lake_io.partitioned_paths(lake, prefix, today, lookback_days)
        frame = lake_io.text(spark, paths, ("topic", "dt"), whole=True, options={"basePath": f"{lake}/{prefix}/"})
        return frame.withColumn("fetched", F.lit(prefix == FETCHED))

    webhooks = events(WEBHOOKS).unionByName(events(FETCHED))
    since = lake_io.modified_since(today, lookback_days)
    bulk_orders = lake_io.text(spark, [f"{lake}/{BULK}/order/"], ("run",), options=since)
    bulk_items = lake_io.text(spark, [f"{lake}/{BULK}/line_item/"], ("run",), options=since)
    manifests = lake_io.text(spark, [f"{lake}/{MANIFESTS}/run=*/manifest.json"], (), whole=True)

    # Parsed once and kept (only the fields read, not the files' text): the versions and the count of
    # files both come from it, so no webhook file is read twice. Small files pack into many small
    # partitions; a few per core keep every core reading while sparing the later stages a task per pack.
    slots = max(1, spark.sparkContext.defaultParallelism)
    parsed = oe.parse_webhooks(webhooks).coalesce(slots * 4).localCheckpoint()
    runs = oe.complete_runs(manifests).localCheckpoint()
    webhook_versions = oe.webhook_versions(parsed).localCheckpoint()
    bulk_versions = oe.bulk_versions(bulk_orders, bulk_items, runs).localCheckpoint()
    versions = [webhook_versions, bulk_versions]
    items = [oe.webhook_line_items(parsed), oe.bulk_line_items(bulk_items, runs)]
    previous_orders = 0
    if incremental:
        previous = lake_io.previous(spark, f"{lake}/{OUTPUT}/", oe.VERSION_COLUMNS)
        if previous is not None:
            previous_orders = previous.count()
            versions.append(previous)
        previous_items = lake_io.previous(spark, f"{lake}/{LINE_ITEMS_OUTPUT}/", oe.LINE_ITEM_VERSION_COLUMNS)
        if previous_items is not None:
            items.append(previous_items)

    # Checkpointed, the results no longer read the output paths, so the writes may replace them.
    result = oe.orders_enriched(*versions).localCheckpoint()
    line_items = oe.order_line_items(result, *items).localCheckpoint()
    lake_io.write_partitions(result, f"{lake}/{OUTPUT}/")
    lake_io.write_partitions(line_items, f"{lake}/{LINE_ITEMS_OUTPUT}/")
    files = parsed.agg(
        F.count(F.lit(1)).alias("all"), F.coalesce(F.sum(F.col("fetched").cast("int")), F.lit(0)).alias("fetched")
    ).collect()[0]
    written = result.agg(
        F.count(F.lit(1)).alias("orders"),
        F.coalesce(F.sum(F.col("deleted").cast("int")), F.lit(0)).alias("deleted"),
        F.countDistinct("dt").alias("partitions"),
    ).collect()[0]
    summary = Summary(
        lookback_days=lookback_days,
        webhook_files=int(files["all"]) - int(files["fetched"]),
        fetched_files=int(files["fetched"]),
        webhook_versions=webhook_versions.count(),
        bulk_versions=bulk_versions.count(),
        previous_orders=previous_orders,
        orders_written=int(written["orders"]),
        orders_deleted=int(written["deleted"]),
        partitions_written=int(written["partitions"]),
        line_items_written=line_items.count(),
    )
    lake_io.log_summary("orders_enriched written", summary)
    return summary


def main(argv: list[str]) -> Any:
    return lake_io.main(argv, run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main(sys.argv)
