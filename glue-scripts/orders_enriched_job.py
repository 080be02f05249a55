"""Glue entry of ``orders_enriched``: read the lake, merge, write ``processed/shopify/orders_enriched/``.

On Glue (5.0, Spark 3.5) the job runs this file with ``--lake_uri s3://<bucket>`` and ``--lookback_days N``
and imports the transforms from ``orders_enriched.py`` (``--extra-py-files``). The local cloud runs the
same ``run`` on local PySpark against files exported from the emulated S3 (``platformctl glue``).

A run reads the webhooks of the last ``lookback_days`` days (by their ``dt`` partition, the day Shopify
triggered them) and the orders fetched for reduced payloads among them (same partitions, under
``raw/shopify/fetched/orders/``), the bulk parts written in that time, every complete bulk run's
manifest, and its own previous output; it writes every order again, one Parquet file per ``dt`` (the
order's UTC creation day), replacing only the partitions it writes. ``lookback_days`` 0 rebuilds from all
raw data and ignores the previous output: use it after a replay of events older than the window, or after
changing the transforms.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

import orders_enriched as oe

WEBHOOKS = "raw/shopify/webhooks/orders"
FETCHED = "raw/shopify/fetched/orders"  # reduced payloads' orders, read as webhooks
BULK = "raw/shopify/bulk"
MANIFESTS = "metadata/shopify/bulk"
OUTPUT = "processed/shopify/orders_enriched"
SPARK_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # Partition values stay text: run ids and dates compare as the lake spells them.
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


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


def _text(
    spark: SparkSession,
    paths: list[str],
    partitions: tuple[str, ...],
    *,
    whole: bool = False,
    options: Mapping[str, str] | None = None,
) -> DataFrame:
    """Text rows (``value``: a line, or with ``whole`` a file) with the partition columns; no rows when no
    path matches anything."""
    try:
        return spark.read.options(**(options or {})).text(paths, wholetext=whole)
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" not in str(exc) and "Path does not exist" not in str(exc):
            raise
        fields = [T.StructField("value", T.StringType()), *(T.StructField(p, T.StringType()) for p in partitions)]
        return spark.createDataFrame([], T.StructType(fields))


def _days(today: date, lookback_days: int) -> list[str]:
    return [(today - timedelta(days=n)).isoformat() for n in range(lookback_days + 1)]


def run(spark: SparkSession, lake_uri: str, lookback_days: int, today: date | None = None) -> Summary:
    for key, value in SPARK_SETTINGS.items():
        spark.conf.set(key, value)
    lake = lake_uri.rstrip("/")
    today = today or datetime.now(timezone.utc).date()  # noqa: UP017 - Glue's Python reads the same
    incremental = lookback_days > 0

    def events(prefix: str) -> DataFrame:
        paths = [f"{lake}/{prefix}/"]
        if incremental:
            paths = [f"{lake}/{prefix}/topic=*/dt={{{','.join(_days(today, lookback_days))}}}/"]
        frame = _text(spark, paths, ("topic", "dt"), whole=True, options={"basePath": f"{lake}/{prefix}/"})
        return frame.withColumn("fetched", F.lit(prefix == FETCHED))

    webhooks = events(WEBHOOKS).unionByName(events(FETCHED))
    since = {"modifiedAfter": f"{today - timedelta(days=lookback_days)}T00:00:00"} if incremental else {}
    bulk_orders = _text(spark, [f"{lake}/{BULK}/order/"], ("run",), options=since)
    bulk_items = _text(spark, [f"{lake}/{BULK}/line_item/"], ("run",), options=since)
    manifests = _text(spark, [f"{lake}/{MANIFESTS}/run=*/manifest.json"], (), whole=True)

    # Parsed once and kept (only the fields read, not the files' text): the versions and the count of
    # files both come from it, so no webhook file is read twice. Small files pack into many small
    # partitions; a few per core keep every core reading while sparing the later stages a task per pack.
    slots = max(1, spark.sparkContext.defaultParallelism)
    parsed = oe.parse_webhooks(webhooks).coalesce(slots * 4).localCheckpoint()
    webhook_versions = oe.webhook_versions(parsed).localCheckpoint()
    bulk_versions = oe.bulk_versions(bulk_orders, bulk_items, oe.complete_runs(manifests)).localCheckpoint()
    versions = [webhook_versions, bulk_versions]
    previous_orders = 0
    if incremental:
        try:
            previous = oe.previous_versions(spark.read.parquet(f"{lake}/{OUTPUT}/")).localCheckpoint()
        except AnalysisException as exc:
            if "PATH_NOT_FOUND" not in str(exc) and "Path does not exist" not in str(exc):
                raise
        else:
            previous_orders = previous.count()
            versions.append(previous)

    # Checkpointed, the result no longer reads the output path, so the write may replace it.
    result = oe.orders_enriched(*versions).localCheckpoint()
    result.repartition("dt").write.mode("overwrite").partitionBy("dt").parquet(f"{lake}/{OUTPUT}/")
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
    )
    print(json.dumps({"message": "orders_enriched written", **asdict(summary)}), flush=True)
    return summary


def local_session(cores: int = 2, **settings: str) -> SparkSession:
    """Spark on this machine (the local cloud's runs, the tests, the bench): no UI, bound to 127.0.0.1."""
    builder = SparkSession.builder.master(f"local[{cores}]").appName("orders_enriched")
    defaults = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
    }
    for key, value in (defaults | settings).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _glue_main(argv: list[str]) -> None:  # pragma: no cover - runs on AWS Glue only
    from awsglue.context import GlueContext  # type: ignore[import-not-found]
    from awsglue.job import Job  # type: ignore[import-not-found]
    from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    from pyspark.context import SparkContext

    args = getResolvedOptions(argv, ["JOB_NAME", "lake_uri", "lookback_days"])
    glue = GlueContext(SparkContext.getOrCreate())
    job = Job(glue)
    job.init(args["JOB_NAME"], args)
    run(glue.spark_session, args["lake_uri"], int(args["lookback_days"]))
    job.commit()


def main(argv: list[str]) -> Any:
    try:
        import awsglue  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--lake_uri", required=True, help="file:///... or s3://<bucket>")
        parser.add_argument("--lookback_days", type=int, default=0)
        args = parser.parse_args(argv[1:])
        spark = local_session()
        return run(spark, args.lake_uri, args.lookback_days)
    return _glue_main(argv)


if __name__ == "__main__":
    main(sys.argv)
