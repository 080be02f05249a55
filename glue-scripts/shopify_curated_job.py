"""Glue entry of the Shopify curated tables: ``processed/shopify/customers/`` and ``processed/shopify/products/``.

On Glue the job runs this file with ``--lake_uri s3://<bucket>`` and ``--lookback_days N`` and imports
``shopify_curated.py``, ``curated_common.py``, ``lake_io.py`` and ``commerce_rules.py``
(``--extra-py-files``). A run reads the customers and products webhooks of the last ``lookback_days`` days
(``dt`` partitions), the bulk ``customer``, ``product`` and ``product_variant`` parts written in that time
of complete runs, the whole ``orders_enriched`` table (one Parquet copy of the orders: every customer's
order figures are recomputed) and its own previous output; it rewrites only the ``dt`` partitions whose
rows changed. ``lookback_days`` 0 rebuilds from all raw data.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from typing import Any

from pyspark.sql import DataFrame, SparkSession

import lake_io
import shopify_curated as sc

CUSTOMER_WEBHOOKS = "raw/shopify/webhooks/customers"
PRODUCT_WEBHOOKS = "raw/shopify/webhooks/products"
BULK = "raw/shopify/bulk"
MANIFESTS = "metadata/shopify/bulk"
ORDERS = "processed/shopify/orders_enriched"
OUTPUTS = {"customers": "processed/shopify/customers", "products": "processed/shopify/products"}


@dataclass(frozen=True)
class Summary:
    lookback_days: int
    customer_webhook_files: int
    product_webhook_files: int
    customers_written: int
    products_written: int
    customer_partitions_changed: int
    product_partitions_changed: int


def _complete_runs(spark: SparkSession, lake: str) -> DataFrame:
    from orders_enriched import complete_runs

    manifests = lake_io.text(spark, [f"{lake}/{MANIFESTS}/run=*/manifest.json"], (), whole=True)
    return complete_runs(manifests).localCheckpoint()


def run(spark: SparkSession, lake_uri: str, lookback_days: int, today: date | None = None) -> Summary:
    lake_io.configure(spark)
    lake = lake_uri.rstrip("/")
    today = today or lake_io.utc_today()
    incremental = lookback_days > 0

    def webhooks(prefix: str) -> DataFrame:
        paths = lake_io.partitioned_paths(lake, prefix, today, lookback_days)
        options = {"basePath": f"{lake}/{prefix}/"}
        return lake_io.text(spark, paths, ("topic", "dt"), whole=True, options=options).localCheckpoint()

    def bulk(kind: str) -> DataFrame:
        options = lake_io.modified_since(today, lookback_days)
        return lake_io.text(spark, [f"{lake}/{BULK}/{kind}/"], ("run",), options=options)

    runs = _complete_runs(spark, lake)
    customer_events, product_events = webhooks(CUSTOMER_WEBHOOKS), webhooks(PRODUCT_WEBHOOKS)
    before = {
        name: lake_io.previous(spark, f"{lake}/{path}/", sc.OUTPUT_COLUMNS[name]) if incremental else None
        for name, path in OUTPUTS.items()
    }
    orders = lake_io.previous(spark, f"{lake}/{ORDERS}/", sc.ORDER_COLUMNS_READ)
    if orders is None:  # before orders_enriched's first run
        orders = spark.createDataFrame([], sc.ORDER_COLUMNS_DDL)

    customer_versions = [
        sc.customer_webhook_versions(customer_events),
        sc.customer_bulk_versions(bulk("customer"), runs),
    ]
    webhook_products, webhook_variants = sc.product_webhook_versions(product_events)
    bulk_products, bulk_variants = sc.product_bulk_versions(bulk("product"), bulk("product_variant"), runs)
    product_versions, variant_versions = [webhook_products, bulk_products], [webhook_variants, bulk_variants]
    if before["customers"] is not None:
        customer_versions.append(sc.previous_customer_versions(before["customers"]))
    if before["products"] is not None:
        previous_products, previous_variants = sc.previous_product_versions(before["products"])
        product_versions.append(previous_products)
        variant_versions.append(previous_variants)

    results = {
        "customers": sc.customers(orders, *customer_versions).localCheckpoint(),
        "products": sc.products(product_versions, variant_versions).localCheckpoint(),
    }
    changed = {
        name: lake_io.write_changed(spark, frame, before[name], f"{lake}/{OUTPUTS[name]}/")
        for name, frame in results.items()
    }
    summary = Summary(
        lookback_days=lookback_days,
        customer_webhook_files=customer_events.count(),
        product_webhook_files=product_events.count(),
        customers_written=results["customers"].count(),
        products_written=results["products"].count(),
        customer_partitions_changed=len(changed["customers"]),
        product_partitions_changed=len(changed["products"]),
    )
    lake_io.log_summary("shopify curated tables written", summary)
    return summary


def main(argv: list[str]) -> Any:
    return lake_io.main(argv, run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main(sys.argv)
