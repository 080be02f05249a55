"""customers and products: Shopify's customers (with their counted orders) and current product variants.

Pure DataFrame transforms; ``shopify_curated_job.py`` reads the lake and writes the tables.

Versions of a customer or a product come from webhooks (``raw/shopify/webhooks/{customers,products}/``,
REST payloads; ``*/delete`` marks it deleted), from complete bulk runs (``customer``, ``product`` and
``product_variant`` lines, GraphQL-shaped, variants joined by ``__parentId``) and from the previous
output. The newest version wins (``curated_common.newest``); a product's variants are those of its
winning version. A customer's orders come from ``orders_enriched``: counted orders only
(``commerce_rules.COUNTED_ORDER_SQL``). No contact details are read: no names, e-mails, phones, addresses.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

import commerce_rules as rules
import curated_common as cc

WEBHOOK, BULK, ORDERS = "webhook", "bulk", "orders_enriched"
CUSTOMER_STATE_TOPICS = ("customers/create", "customers/update", "customers/enable", "customers/disable")
PRODUCT_STATE_TOPICS = ("products/create", "products/update")

CUSTOMER_PROFILE_COLUMNS = (
    "customer_id",
    "created_at",
    "state",
    "email_marketing_state",
    "sms_marketing_state",
    "tags",
    "deleted",
    *cc.LINEAGE,
)
CUSTOMERS_COLUMNS = (
    "customer_id",
    "created_at",
    "state",
    "email_marketing_state",
    "accepts_email_marketing",
    "sms_marketing_state",
    "accepts_sms_marketing",
    "tags",
    "currency",
    "first_order_at",
    "last_order_at",
    "orders_count",
    "net_spend",
    "deleted",
    *cc.LINEAGE,
    "dt",
)
PRODUCT_COLUMNS = (
    "product_id",
    "product_title",
    "handle",
    "product_type",
    "vendor",
    "product_status",
    "tags",
    "created_at",
    "deleted",
    *cc.LINEAGE,
)
VARIANT_COLUMNS = (
    "product_id",
    "variant_id",
    "variant_title",
    "sku",
    "price",
    "compare_at_price",
    "inventory_quantity",
    "source",
    "source_event_id",
)
PRODUCTS_COLUMNS = (
    "product_id",
    "variant_id",
    "product_title",
    "handle",
    "product_type",
    "vendor",
    "product_status",
    "tags",
    "variant_title",
    "sku",
    "price",
    "compare_at_price",
    "inventory_quantity",
    "created_at",
    "deleted",
    *cc.LINEAGE,
    "dt",
)
OUTPUT_COLUMNS = {"customers": CUSTOMERS_COLUMNS, "products": PRODUCTS_COLUMNS}
# What customers read of orders_enriched (and its types, for a lake where it is not written yet).
ORDER_COLUMNS_DDL = (
    "order_id string, customer_id string, created_at timestamp, updated_at timestamp, currency string, "
    "net_revenue decimal(20,4), test boolean, deleted boolean"
)
ORDER_COLUMNS_READ = tuple(column.split()[0] for column in ORDER_COLUMNS_DDL.split(", "))

_S = T.StringType()
_CONSENT = cc.struct(state=_S)
_REST_CUSTOMER = cc.struct(
    id=_S,
    created_at=_S,
    updated_at=_S,
    state=_S,
    tags=_S,
    accepts_marketing=T.BooleanType(),
    email_marketing_consent=_CONSENT,
    sms_marketing_consent=_CONSENT,
)
_REST_VARIANT = cc.struct(id=_S, title=_S, sku=_S, price=_S, compare_at_price=_S, inventory_quantity=_S, product_id=_S)
_REST_PRODUCT = cc.struct(
    id=_S,
    title=_S,
    handle=_S,
    product_type=_S,
    vendor=_S,
    status=_S,
    tags=_S,
    created_at=_S,
    updated_at=_S,
    variants=T.ArrayType(_REST_VARIANT),
)


def _event(payload: T.StructType) -> T.StructType:
    return cc.struct(detail=cc.struct(metadata=T.MapType(_S, _S), payload=payload))


_BULK_CONSENT = cc.struct(marketingState=_S)
BULK_CUSTOMER = cc.struct(
    id=_S,
    createdAt=_S,
    updatedAt=_S,
    state=_S,
    tags=T.ArrayType(_S),
    emailMarketingConsent=_BULK_CONSENT,
    smsMarketingConsent=_BULK_CONSENT,
)
BULK_PRODUCT = cc.struct(
    id=_S,
    title=_S,
    handle=_S,
    vendor=_S,
    productType=_S,
    status=_S,
    createdAt=_S,
    updatedAt=_S,
    tags=T.ArrayType(_S),
)
BULK_VARIANT = cc.struct(id=_S, title=_S, sku=_S, price=_S, __parentId=_S)


def parse_webhooks(events: DataFrame, payload: T.StructType) -> DataFrame:
    """Raw webhook files (``value``) as ``p`` (the payload's fields read), ``topic`` and ``event_id``."""
    parsed = events.select(F.from_json("value", _event(payload)).alias("e"))
    return parsed.select(
        F.col("e.detail.payload").alias("p"),
        cc.header(F.col("e.detail.metadata"), "shopify-topic").alias("topic"),
        cc.header(F.col("e.detail.metadata"), "shopify-event-id").alias("event_id"),
    )


def _consent_state(consent: Column) -> Column:
    return F.lower(consent)


def _deletes(parsed: DataFrame, topic: str, key: str) -> DataFrame:
    return (
        parsed.where(F.col("topic") == topic)
        .select(
            cc.shopify_id(F.col("p.id")).alias(key),
            F.lit(True).alias("deleted"),
            F.lit(WEBHOOK).alias("source"),
            F.col("event_id").alias("source_event_id"),
        )
        .where(F.col(key).isNotNull())
    )


# ------------------------------------------------------------------------------------------ customers


def customer_webhook_versions(events: DataFrame) -> DataFrame:
    """Customer profile versions and deletes from raw customers webhooks: CUSTOMER_PROFILE_COLUMNS.

    A payload before API 2022-04 has ``accepts_marketing`` instead of the e-mail consent object.
    """
    parsed = parse_webhooks(events, _REST_CUSTOMER)
    p = F.col("p")
    legacy = F.when(p["accepts_marketing"], "subscribed").when(~p["accepts_marketing"], "not_subscribed")
    states = parsed.where(F.col("topic").isin(*CUSTOMER_STATE_TOPICS)).select(
        cc.shopify_id(p["id"]).alias("customer_id"),
        cc.timestamp(p["created_at"]).alias("created_at"),
        F.lower(p["state"]).alias("state"),
        F.coalesce(_consent_state(p["email_marketing_consent"]["state"]), legacy).alias("email_marketing_state"),
        _consent_state(p["sms_marketing_consent"]["state"]).alias("sms_marketing_state"),
        cc.tag_list(p["tags"]).alias("tags"),
        F.lit(False).alias("deleted"),
        cc.timestamp(p["updated_at"]).alias("updated_at"),
        F.lit(WEBHOOK).alias("source"),
        F.col("event_id").alias("source_event_id"),
    )
    valid = states.where(F.col("customer_id").isNotNull() & F.col("updated_at").isNotNull())
    return cc.union_all([valid, _deletes(parsed, "customers/delete", "customer_id")], CUSTOMER_PROFILE_COLUMNS)


def customer_bulk_versions(lines: DataFrame, runs: DataFrame) -> DataFrame:
    """Customer profile versions from bulk ``customer`` lines (``value``, ``run``) of complete runs."""
    kept = lines.withColumn("run", F.col("run").cast(_S)).join(runs, "run", "left_semi")
    c = F.col("c")
    return (
        kept.select("run", F.from_json("value", BULK_CUSTOMER).alias("c"))
        .select(
            cc.shopify_id(c["id"]).alias("customer_id"),
            cc.timestamp(c["createdAt"]).alias("created_at"),
            F.lower(c["state"]).alias("state"),
            _consent_state(c["emailMarketingConsent"]["marketingState"]).alias("email_marketing_state"),
            _consent_state(c["smsMarketingConsent"]["marketingState"]).alias("sms_marketing_state"),
            F.coalesce(c["tags"], F.array().cast(cc.TEXTS)).alias("tags"),
            F.lit(False).alias("deleted"),
            cc.timestamp(c["updatedAt"]).alias("updated_at"),
            F.lit(BULK).alias("source"),
            F.col("run").alias("source_event_id"),
        )
        .where(F.col("customer_id").isNotNull() & F.col("updated_at").isNotNull())
    )


def previous_customer_versions(previous: DataFrame) -> DataFrame:
    """The previous customers output as profile versions (rows only orders knew are not profiles)."""
    return previous.where(F.col("source") != ORDERS).select(*CUSTOMER_PROFILE_COLUMNS)


def customer_orders(orders: DataFrame) -> DataFrame:
    """Per customer, from ``orders_enriched``: first and last counted order, their count, net spend and
    the currency of the latest."""
    counted = orders.where(F.col("customer_id").isNotNull() & F.expr(rules.COUNTED_ORDER_SQL))
    latest = Window.partitionBy("customer_id").orderBy(F.col("created_at").desc(), F.col("order_id").desc())
    return (
        counted.withColumn("_latest_currency", F.first("currency").over(latest))
        .groupBy("customer_id")
        .agg(
            F.min("created_at").alias("first_order_at"),
            F.max("created_at").alias("last_order_at"),
            F.count(F.lit(1)).cast("int").alias("orders_count"),
            F.sum("net_revenue").cast(cc.MONEY).alias("net_spend"),
            F.first("_latest_currency").alias("currency"),
            F.max("updated_at").alias("last_order_updated_at"),
        )
    )


def customers(orders: DataFrame, *versions: DataFrame) -> DataFrame:
    """The customers table: the newest profile of every customer joined to their counted orders.

    A customer known only from orders has no profile (state, consents and tags null) and the lineage
    of their orders (``source`` ``orders_enriched``). ``dt``: the creation day, else the first counted
    order's, else the day of the row's ``updated_at``.
    """
    profiles = cc.newest(cc.union_all(list(versions), CUSTOMER_PROFILE_COLUMNS), ["customer_id"])
    joined = profiles.join(customer_orders(orders), "customer_id", "full_outer")
    known = F.col("source").isNotNull()
    updated_at = F.when(known, F.col("updated_at")).otherwise(F.col("last_order_updated_at"))
    created_at = F.coalesce(F.col("created_at"), F.col("first_order_at"))
    return joined.select(
        "customer_id",
        created_at.alias("created_at"),
        "state",
        "email_marketing_state",
        (F.col("email_marketing_state") == "subscribed").alias("accepts_email_marketing"),
        "sms_marketing_state",
        (F.col("sms_marketing_state") == "subscribed").alias("accepts_sms_marketing"),
        F.coalesce(F.col("tags"), F.array().cast(cc.TEXTS)).alias("tags"),
        "currency",
        "first_order_at",
        "last_order_at",
        F.coalesce(F.col("orders_count"), F.lit(0)).alias("orders_count"),
        F.coalesce(F.col("net_spend"), F.lit(0).cast(cc.MONEY)).alias("net_spend"),
        F.coalesce(F.col("deleted"), F.lit(False)).alias("deleted"),
        updated_at.alias("updated_at"),
        F.when(known, F.col("source")).otherwise(F.lit(ORDERS)).alias("source"),
        "source_event_id",
        cc.day(F.coalesce(created_at, updated_at)).alias("dt"),
    ).where(F.col("dt").isNotNull())


# ------------------------------------------------------------------------------------------- products


def product_webhook_versions(events: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(product versions and deletes: PRODUCT_COLUMNS, their variants: VARIANT_COLUMNS) from webhooks."""
    parsed = parse_webhooks(events, _REST_PRODUCT)
    p = F.col("p")
    states = parsed.where(F.col("topic").isin(*PRODUCT_STATE_TOPICS))
    products = states.select(
        cc.shopify_id(p["id"]).alias("product_id"),
        p["title"].alias("product_title"),
        p["handle"].alias("handle"),
        p["product_type"].alias("product_type"),
        p["vendor"].alias("vendor"),
        F.lower(p["status"]).alias("product_status"),
        cc.tag_list(p["tags"]).alias("tags"),
        cc.timestamp(p["created_at"]).alias("created_at"),
        F.lit(False).alias("deleted"),
        cc.timestamp(p["updated_at"]).alias("updated_at"),
        F.lit(WEBHOOK).alias("source"),
        F.col("event_id").alias("source_event_id"),
    ).where(F.col("product_id").isNotNull() & F.col("updated_at").isNotNull())
    v = F.col("v")
    variants = states.select(
        cc.shopify_id(p["id"]).alias("product_id"),
        F.col("event_id").alias("source_event_id"),
        F.explode(F.coalesce(p["variants"], F.array())).alias("v"),
    ).select(
        "product_id",
        cc.shopify_id(v["id"]).alias("variant_id"),
        v["title"].alias("variant_title"),
        v["sku"].alias("sku"),
        cc.money(v["price"]).alias("price"),
        cc.money(v["compare_at_price"]).alias("compare_at_price"),
        v["inventory_quantity"].cast("int").alias("inventory_quantity"),
        F.lit(WEBHOOK).alias("source"),
        "source_event_id",
    )
    versions = cc.union_all([products, _deletes(parsed, "products/delete", "product_id")], PRODUCT_COLUMNS)
    return versions, variants.where(F.col("product_id").isNotNull())


def product_bulk_versions(products: DataFrame, variants: DataFrame, runs: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(product versions, their variants) from bulk ``product`` and ``product_variant`` lines of complete
    runs. The export asks for no compare-at price or inventory quantity: null from bulk."""

    def lines(frame: DataFrame, schema: T.StructType) -> DataFrame:
        kept = frame.withColumn("run", F.col("run").cast(_S)).join(runs, "run", "left_semi")
        return kept.select("run", F.from_json("value", schema).alias("x"))

    x = F.col("x")
    product_rows = (
        lines(products, BULK_PRODUCT)
        .select(
            cc.shopify_id(x["id"]).alias("product_id"),
            x["title"].alias("product_title"),
            x["handle"].alias("handle"),
            x["productType"].alias("product_type"),
            x["vendor"].alias("vendor"),
            F.lower(x["status"]).alias("product_status"),
            F.coalesce(x["tags"], F.array().cast(cc.TEXTS)).alias("tags"),
            cc.timestamp(x["createdAt"]).alias("created_at"),
            F.lit(False).alias("deleted"),
            cc.timestamp(x["updatedAt"]).alias("updated_at"),
            F.lit(BULK).alias("source"),
            F.col("run").alias("source_event_id"),
        )
        .where(F.col("product_id").isNotNull() & F.col("updated_at").isNotNull())
    )
    variant_rows = lines(variants, BULK_VARIANT).select(
        cc.shopify_id(x["__parentId"]).alias("product_id"),
        cc.shopify_id(x["id"]).alias("variant_id"),
        x["title"].alias("variant_title"),
        x["sku"].alias("sku"),
        cc.money(x["price"]).alias("price"),
        F.lit(None).cast(cc.MONEY).alias("compare_at_price"),
        F.lit(None).cast("int").alias("inventory_quantity"),
        F.lit(BULK).alias("source"),
        F.col("run").alias("source_event_id"),
    )
    return product_rows, variant_rows.where(F.col("product_id").isNotNull())


def previous_product_versions(previous: DataFrame) -> tuple[DataFrame, DataFrame]:
    """The previous products output as (product versions, variants)."""
    return previous.select(*PRODUCT_COLUMNS).dropDuplicates(["product_id"]), previous.where(
        F.col("variant_id").isNotNull()
    ).select(*VARIANT_COLUMNS)


def products(product_versions: list[DataFrame], variant_versions: list[DataFrame]) -> DataFrame:
    """The products table: each product's newest version with the variants of that version (a product
    whose version lists no variant has one row with null variant columns). ``dt``: the product's
    creation day, else its ``updated_at``'s."""
    winners = cc.newest(cc.union_all(product_versions, PRODUCT_COLUMNS), ["product_id"])
    variants = cc.union_all(variant_versions, VARIANT_COLUMNS).dropDuplicates(
        ["product_id", "source", "source_event_id", "variant_id"]
    )
    joined = winners.join(variants, ["product_id", "source", "source_event_id"], "left")
    return joined.withColumn("dt", cc.day(F.coalesce(F.col("created_at"), F.col("updated_at")))).select(
        *PRODUCTS_COLUMNS
    )
