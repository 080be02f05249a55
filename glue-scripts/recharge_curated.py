"""subscriptions and subscription_charges: Recharge's subscriptions and charges, newest version of each.

Pure DataFrame transforms; ``recharge_curated_job.py`` reads the lake and writes the tables.

Versions are the raw deliveries the Recharge webhook Lambda keeps
(``raw/recharge/<resource>/topic=<topic>/dt=<day>/<id>-<version>.json``, the signed body verbatim, one
top-level key named after the resource) and the previous output. A version's ``updated_at`` is the one
the Lambda put in the file name (UTC; a delete's is the later of ``updated_at`` and ``deleted_at``), its
``source_event_id`` the Lambda's (``d-``/``c-`` and the first 32 hex of the body's SHA-256). The newest
version wins; a ``*/deleted`` delivery marks the row deleted for good. Timestamps without an offset are
read in ``naive_timezone`` (the stack's ``NaiveTimestampZone``, as the Lambda reads them). No contact
details (names, e-mails, phones, addresses) are read.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

import curated_common as cc

SOURCE = "recharge"
DEFAULT_NAIVE_TIMEZONE = "America/New_York"

SUBSCRIPTIONS_COLUMNS = (
    "subscription_id",
    "customer_id",
    "address_id",
    "shopify_product_id",
    "shopify_variant_id",
    "sku",
    "product_title",
    "variant_title",
    "quantity",
    "price",
    "currency",
    "status",
    "order_interval_unit",
    "order_interval_frequency",
    "charge_interval_frequency",
    "is_prepaid",
    "created_at",
    "cancelled_at",
    "cancellation_reason",
    "next_charge_scheduled_at",
    "deleted",
    *cc.LINEAGE,
    "dt",
)
CHARGES_COLUMNS = (
    "charge_id",
    "customer_id",
    "shopify_customer_id",
    "shopify_order_id",
    "status",
    "charge_type",
    "currency",
    "subtotal_price",
    "total_discounts",
    "total_tax",
    "total_price",
    "total_refunds",
    "scheduled_at",
    "processed_at",
    "created_at",
    "subscription_ids",
    "line_item_count",
    "deleted",
    *cc.LINEAGE,
    "dt",
)
OUTPUT_COLUMNS = {"subscriptions": SUBSCRIPTIONS_COLUMNS, "subscription_charges": CHARGES_COLUMNS}

_S = T.StringType()
_EXTERNAL = cc.struct(ecommerce=_S)
SUBSCRIPTION = cc.struct(
    id=_S,
    customer_id=_S,
    address_id=_S,
    external_product_id=_EXTERNAL,
    external_variant_id=_EXTERNAL,
    shopify_product_id=_S,
    shopify_variant_id=_S,
    sku=_S,
    product_title=_S,
    variant_title=_S,
    quantity=_S,
    price=_S,
    presentment_currency=_S,
    status=_S,
    order_interval_unit=_S,
    order_interval_frequency=_S,
    charge_interval_frequency=_S,
    is_prepaid=_S,
    created_at=_S,
    cancelled_at=_S,
    cancellation_reason=_S,
    next_charge_scheduled_at=_S,
)
CHARGE = cc.struct(
    id=_S,
    customer_id=_S,
    customer=cc.struct(id=_S, external_customer_id=_EXTERNAL),
    shopify_customer_id=_S,
    external_order_id=_EXTERNAL,
    shopify_order_id=_S,
    status=_S,
    type=_S,
    currency=_S,
    subtotal_price=_S,
    total_discounts=_S,
    total_tax=_S,
    total_price=_S,
    total_refunds=_S,
    scheduled_at=_S,
    processed_at=_S,
    created_at=_S,
    line_items=T.ArrayType(cc.struct(purchase_item_id=_S, purchase_item_type=_S, subscription_id=_S)),
)
# <id>-<iso_utc(updated_at) without colons>.json, as common.lake.recharge_key names the file.
_FILE_VERSION = r"/([0-9]{1,20})-([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})(\.[0-9]{1,6})?Z\.json$"


def recharge_time(column: Column, zone: str) -> Column:
    """A Recharge timestamp in UTC: with an offset as given; without one, wall-clock time in ``zone``; a
    date alone is that day's midnight in ``zone``."""
    text = F.trim(column)
    has_offset = text.rlike(r"(Z|[+-][0-9]{2}:?[0-9]{2})$")
    return F.when(has_offset, cc.timestamp(text)).otherwise(F.to_utc_timestamp(cc.timestamp(text), zone))


def parse(files: DataFrame, resource: str, schema: T.StructType) -> DataFrame:
    """Raw deliveries (``value``: a file's text, ``topic``, ``file_path``) as ``r`` (the resource's fields
    read), ``updated_at``, ``deleted`` and ``source_event_id``; files not named as the Lambda names them
    give no row."""
    version = F.regexp_extract("file_path", _FILE_VERSION, 2)
    clock = F.concat_ws(":", *[F.regexp_extract("file_path", _FILE_VERSION, n) for n in (3, 4, 5)])
    fraction = F.regexp_extract("file_path", _FILE_VERSION, 6)
    updated_at = F.when(version != "", cc.timestamp(F.concat(version, F.lit(" "), clock, fraction)))
    deleted = F.col("topic").endswith("_deleted")
    event_id = F.concat(F.when(deleted, "d-").otherwise("c-"), F.substring(F.sha2(F.col("value"), 256), 1, 32))
    envelope = cc.struct(**{resource: schema})
    # A delete is a marker, not a state: a tombstone carries only the id and timestamps.
    return files.select(
        F.from_json("value", envelope)[resource].alias("r"),
        F.when(~deleted, updated_at).alias("updated_at"),
        deleted.alias("deleted"),
        event_id.alias("source_event_id"),
    ).where((F.col("updated_at").isNotNull() | F.col("deleted")) & F.col("r").isNotNull())


def _ecommerce(external: Column, legacy: Column) -> Column:
    return F.coalesce(cc.digits_id(external["ecommerce"]), cc.digits_id(legacy))


def _finish(rows: DataFrame, columns: tuple[str, ...], key: str) -> DataFrame:
    winners = cc.newest(rows, [key])
    dt = cc.day(F.coalesce(F.col("created_at"), F.col("updated_at")))
    return winners.withColumn("dt", dt).select(*columns)


def subscription_versions(files: DataFrame, zone: str) -> DataFrame:
    parsed = parse(files, "subscription", SUBSCRIPTION)
    r = F.col("r")
    return parsed.select(
        cc.digits_id(r["id"]).alias("subscription_id"),
        cc.digits_id(r["customer_id"]).alias("customer_id"),
        cc.digits_id(r["address_id"]).alias("address_id"),
        _ecommerce(r["external_product_id"], r["shopify_product_id"]).alias("shopify_product_id"),
        _ecommerce(r["external_variant_id"], r["shopify_variant_id"]).alias("shopify_variant_id"),
        r["sku"].alias("sku"),
        r["product_title"].alias("product_title"),
        r["variant_title"].alias("variant_title"),
        r["quantity"].cast("int").alias("quantity"),
        cc.money(r["price"]).alias("price"),
        r["presentment_currency"].alias("currency"),
        F.lower(r["status"]).alias("status"),
        F.lower(r["order_interval_unit"]).alias("order_interval_unit"),
        r["order_interval_frequency"].cast("int").alias("order_interval_frequency"),
        r["charge_interval_frequency"].cast("int").alias("charge_interval_frequency"),
        cc.boolean(r["is_prepaid"]).alias("is_prepaid"),
        recharge_time(r["created_at"], zone).alias("created_at"),
        recharge_time(r["cancelled_at"], zone).alias("cancelled_at"),
        r["cancellation_reason"].alias("cancellation_reason"),
        F.to_date(F.substring(r["next_charge_scheduled_at"], 1, 10)).alias("next_charge_scheduled_at"),
        "deleted",
        "updated_at",
        F.lit(SOURCE).alias("source"),
        "source_event_id",
    ).where(F.col("subscription_id").isNotNull())


def charge_versions(files: DataFrame, zone: str) -> DataFrame:
    parsed = parse(files, "charge", CHARGE)
    r = F.col("r")
    items = F.coalesce(r["line_items"], F.array())
    subscriptions = F.filter(
        F.transform(
            items,
            lambda li: F.when(
                F.lower(F.coalesce(li["purchase_item_type"], F.lit("subscription"))) == "subscription",
                cc.digits_id(F.coalesce(li["purchase_item_id"], li["subscription_id"])),
            ),
        ),
        lambda x: x.isNotNull(),
    )
    return parsed.select(
        cc.digits_id(r["id"]).alias("charge_id"),
        F.coalesce(cc.digits_id(r["customer"]["id"]), cc.digits_id(r["customer_id"])).alias("customer_id"),
        _ecommerce(r["customer"]["external_customer_id"], r["shopify_customer_id"]).alias("shopify_customer_id"),
        _ecommerce(r["external_order_id"], r["shopify_order_id"]).alias("shopify_order_id"),
        F.lower(r["status"]).alias("status"),
        F.lower(r["type"]).alias("charge_type"),
        r["currency"].alias("currency"),
        *[cc.money(r[name]).alias(name) for name in CHARGES_COLUMNS[7:12]],
        recharge_time(r["scheduled_at"], zone).alias("scheduled_at"),
        recharge_time(r["processed_at"], zone).alias("processed_at"),
        recharge_time(r["created_at"], zone).alias("created_at"),
        F.array_distinct(subscriptions).alias("subscription_ids"),
        F.size(items).alias("line_item_count"),
        "deleted",
        "updated_at",
        F.lit(SOURCE).alias("source"),
        "source_event_id",
    ).where(F.col("charge_id").isNotNull())


def subscriptions(*versions: DataFrame) -> DataFrame:
    """The subscriptions table from subscription versions (``subscription_versions``, previous output)."""
    return _finish(cc.union_all(list(versions), SUBSCRIPTIONS_COLUMNS[:-1]), SUBSCRIPTIONS_COLUMNS, "subscription_id")


def subscription_charges(*versions: DataFrame) -> DataFrame:
    """The subscription_charges table from charge versions (``charge_versions``, previous output)."""
    return _finish(cc.union_all(list(versions), CHARGES_COLUMNS[:-1]), CHARGES_COLUMNS, "charge_id")
