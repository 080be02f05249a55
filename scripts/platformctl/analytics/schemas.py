"""The processed database's tables as the catalog declares them: name, columns (Hive types, partition keys
last) and S3 prefix, read from the Glue tables of the manifest's templates - or, for a curated table no
template declares yet, from the shared contract of issue 17 (CONTRACT_TABLES)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from platformctl.manifest import Manifest, load_manifest
from platformctl.templates import load_template

ColumnSpec = tuple[str, str]  # (name, Hive type)

_LINEAGE: tuple[ColumnSpec, ...] = (("updated_at", "timestamp"), ("source", "string"), ("source_event_id", "string"))
_DT: ColumnSpec = ("dt", "string")
_MONEY = "decimal(20,4)"

# The curated tables the metric views read, with the contract's columns, for as long as no template of the
# manifest declares them (the template then wins: the catalog is what Athena reads).
CONTRACT_TABLES: dict[str, tuple[str, tuple[ColumnSpec, ...]]] = {
    "subscriptions": (
        "processed/recharge/subscriptions/",
        (
            ("subscription_id", "string"),
            ("customer_id", "string"),
            ("address_id", "string"),
            ("shopify_product_id", "string"),
            ("shopify_variant_id", "string"),
            ("sku", "string"),
            ("product_title", "string"),
            ("variant_title", "string"),
            ("quantity", "int"),
            ("price", _MONEY),
            ("currency", "string"),
            ("status", "string"),
            ("order_interval_unit", "string"),
            ("order_interval_frequency", "int"),
            ("charge_interval_frequency", "int"),
            ("is_prepaid", "boolean"),
            ("created_at", "timestamp"),
            ("cancelled_at", "timestamp"),
            ("cancellation_reason", "string"),
            ("next_charge_scheduled_at", "date"),
            ("deleted", "boolean"),
            *_LINEAGE,
            _DT,
        ),
    ),
    "marketing_daily": (
        "processed/triplewhale/marketing_daily/",
        (
            ("shop_domain", "string"),
            ("day", "date"),
            ("currency", "string"),
            ("total_sales", _MONEY),
            ("orders", "int"),
            ("new_customer_orders", "int"),
            ("blended_ad_spend", _MONEY),
            ("blended_roas", "double"),
            *_LINEAGE,
            _DT,
        ),
    ),
}


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[ColumnSpec, ...]  # data columns, then partition keys
    prefix: str  # under the lake bucket, with a trailing slash
    partition_keys: tuple[str, ...] = ("dt",)


def _text(value: Any) -> str:
    """A template value that may be a !Sub: its text (for a location, the part after the bucket)."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return str(sub[0] if isinstance(sub, list) else sub)
    return str(value)


def _prefix(location: str) -> str:
    """``s3://${DataLakeBucketName}/processed/x/`` -> ``processed/x/``."""
    path = location.split("://", 1)[-1].split("/", 1)[-1] if "://" in location else location
    return path.rstrip("/") + "/"


def template_tables(manifest: Manifest | None = None) -> dict[str, TableSchema]:
    """The processed database's tables (not views) that the manifest's templates declare."""
    manifest = manifest or load_manifest()
    found: dict[str, TableSchema] = {}
    for stack in manifest.stacks:
        template = load_template(stack.template_path)
        for body in (template.get("Resources") or {}).values():
            if not isinstance(body, dict) or body.get("Type") != "AWS::Glue::Table":
                continue
            properties = body.get("Properties") or {}
            if properties.get("DatabaseName") != {"Ref": "ProcessedDatabaseName"}:
                continue
            table = properties.get("TableInput") or {}
            if table.get("TableType") == "VIRTUAL_VIEW":
                continue
            descriptor = table.get("StorageDescriptor") or {}
            keys = tuple((str(k["Name"]), str(k["Type"])) for k in table.get("PartitionKeys") or [])
            columns = tuple((str(c["Name"]), str(c["Type"])) for c in descriptor.get("Columns") or [])
            name = str(table["Name"])
            found[name] = TableSchema(
                name, columns + keys, _prefix(_text(descriptor.get("Location", ""))), tuple(k for k, _ in keys)
            )
    return found


def processed_tables(manifest: Manifest | None = None) -> dict[str, TableSchema]:
    """The templates' tables, and the contract's for the curated tables no template declares yet."""
    found = {name: TableSchema(name, columns, prefix) for name, (prefix, columns) in CONTRACT_TABLES.items()}
    found.update(template_tables(manifest))
    return found
