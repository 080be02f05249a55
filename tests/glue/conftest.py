"""A lake on local disk for the Glue job's tests (local Spark: the ``spark`` fixture of tests/conftest.py)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

BULK_FOLDERS = {
    "Order": "order",
    "LineItem": "line_item",
    "Customer": "customer",
    "Product": "product",
    "ProductVariant": "product_variant",
}


class Lake:
    """The lake's keys on local disk, under ``root`` (read by the job as ``file://<root>``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.uri = f"file://{root}"

    def put(self, key: str, body: bytes | str) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body.encode() if isinstance(body, str) else body)

    def webhook(self, event: Mapping[str, Any], dt: str = "2026-11-25", entity: str = "orders") -> None:
        headers = {k.lower().removeprefix("x-"): v for k, v in event["detail"]["metadata"].items()}
        topic = headers["shopify-topic"].replace("/", "_")
        event_id = headers["shopify-event-id"]
        self.put(f"raw/shopify/webhooks/{entity}/topic={topic}/dt={dt}/{event_id}.json", json.dumps(event))

    def bulk(self, run: str, lines: Iterable[Mapping[str, Any]], *, complete: bool = True) -> None:
        """A run's parts as the download writes them (one gzip member per line: many members per file)."""
        by_type: dict[str, list[bytes]] = {}
        for line in lines:
            kind = BULK_FOLDERS.get(line["__typename"], "other")
            by_type.setdefault(kind, []).append(gzip.compress(json.dumps(line).encode() + b"\n"))
        for kind, members in by_type.items():
            self.put(f"raw/shopify/bulk/{kind}/run={run}/part-00001.jsonl.gz", b"".join(members))
        manifest = json.dumps({"run_id": run, "complete": complete}, indent=2)
        self.put(f"metadata/shopify/bulk/run={run}/manifest.json", manifest)


def parquet_rows(spark: Any, path: str, key: tuple[str, ...]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """A written table's rows by ``key``, as Athena would read them."""
    return {tuple(row[k] for k in key): row.asDict() for row in spark.read.parquet(path).collect()}


def partition_files(root: Path) -> dict[str, float]:
    """Each ``dt`` partition's Parquet files and their modification times (what a run rewrote)."""
    return {str(f.relative_to(root)): f.stat().st_mtime_ns for f in root.rglob("*.parquet")}


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(tmp_path / "lake")


# The catalog tables of the jobs' outputs: (template under infrastructure/, logical id).
CATALOG_TABLES = {
    "orders_enriched": ("shopify/glue-jobs.yaml", "OrdersEnrichedTable"),
    "order_line_items": ("shopify/glue-jobs.yaml", "OrderLineItemsTable"),
    "customers": ("analytics/curated-tables.yaml", "CustomersTable"),
    "products": ("analytics/curated-tables.yaml", "ProductsTable"),
    "subscriptions": ("analytics/curated-tables.yaml", "SubscriptionsTable"),
    "subscription_charges": ("analytics/curated-tables.yaml", "SubscriptionChargesTable"),
    "marketing_daily": ("analytics/curated-tables.yaml", "MarketingDailyTable"),
}


def assert_catalog_declares(table: str, written: Any) -> None:
    """The catalog table lists exactly the columns Spark wrote (``written``: its schema), in its order, with the
    types Athena reads them as, the partition column as its partition key."""
    from platformctl.templates import load_template
    from tests.conftest import REPO_ROOT

    template, logical_id = CATALOG_TABLES[table]
    table_input = load_template(REPO_ROOT / "infrastructure" / template)["Resources"][logical_id]["Properties"]
    declared = [(c["Name"], c["Type"]) for c in table_input["TableInput"]["StorageDescriptor"]["Columns"]]
    declared += [(c["Name"], c["Type"]) for c in table_input["TableInput"]["PartitionKeys"]]
    assert [(f.name, f.dataType.simpleString()) for f in written.fields] == declared, table
