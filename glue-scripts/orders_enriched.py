"""orders_enriched: one row per Shopify order, its newest known state, enriched. Pure DataFrame transforms.

The Glue entry (``orders_enriched_job.py``) reads the lake and writes the result; everything here takes
DataFrames and returns DataFrames, so the tests run it on local Spark with no lake at all.

Sources of an order's state, each a *version* with the order's ``updated_at``:
- webhooks: ``raw/shopify/webhooks/orders/topic=.../dt=.../<event-id>.json``, the EventBridge events
  verbatim (REST-shaped payloads); ``orders/delete`` marks the order deleted;
- fetched orders: ``raw/shopify/fetched/orders/topic=.../dt=.../<event-id>.json``, the order processor's
  completion of a reduced payload (the delivered event with the order fetched from the Admin API as its
  payload, in the REST shape), read exactly as a webhook;
- bulk exports: ``raw/shopify/bulk/order/run=...`` and ``line_item/run=...`` (GraphQL-shaped lines,
  children joined by ``__parentId``), from runs whose manifest says ``"complete": true`` only;
- the previous output of this job, so a run need only read the raw data of its lookback window.

The newest version wins, as in the hot store: the later ``updated_at``, then a webhook over a bulk line,
then the greater event or run id. A delete is final (Shopify never reuses an order id). A reduced
payload (EventBridge's ``{"id": ...}`` for an oversized webhook) has no state itself and yields no
version; its fetched order does. No contact details (e-mail, phone, addresses, names) are read: the
output has ids, money, statuses and times only.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F  # noqa: N812 - the name every PySpark reader knows
from pyspark.sql import types as T  # noqa: N812

import commerce_rules as rules
import order_fields as fields
from order_fields import Kind, OrderField, Shape, Status

MONEY = T.DecimalType(rules.MONEY_PRECISION, rules.MONEY_SCALE)
# Source ranks: on equal updated_at a webhook (REST, every field) beats a bulk line.
WEBHOOK, BULK = "webhook", "bulk"
STATE_TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/partially_fulfilled",
)
DELETE_TOPIC = "orders/delete"
INACTIVE_FULFILLMENTS = ("cancelled", "error", "failure")

# The columns every version has, whatever its source (the output adds the enrichment after them).
VERSION_COLUMNS = (
    "order_id",
    "order_name",
    "order_number",
    "created_at",
    "processed_at",
    "updated_at",
    "cancelled_at",
    "closed_at",
    "currency",
    "financial_status",
    "fulfillment_status",
    "subtotal_price",
    "total_discounts",
    "total_tax",
    "total_price",
    "total_refunded",
    "refund_count",
    "line_item_count",
    "total_quantity",
    "customer_id",
    "source_name",
    "tags",
    "discount_codes",
    "test",
    "deleted",
    "fulfillment_count",
    "first_fulfilled_at",
    "source",
    "source_event_id",
)
OUTPUT_COLUMNS = (
    *VERSION_COLUMNS[: VERSION_COLUMNS.index("refund_count")],
    "net_revenue",
    *VERSION_COLUMNS[VERSION_COLUMNS.index("refund_count") : VERSION_COLUMNS.index("deleted")],
    "cancelled",
    "deleted",
    "fulfillment_count",
    "first_fulfilled_at",
    "hours_to_first_fulfillment",
    "customer_order_sequence",
    "is_first_order",
    "days_since_previous_order",
    "source",
    "source_event_id",
    "dt",
)

_S = T.StringType()


def _struct(**fields: T.DataType) -> T.StructType:
    return T.StructType([T.StructField(name, kind) for name, kind in fields.items()])


# Strings everywhere a payload may send a number or a string: Spark's JSON reader gives any value's
# text for a string field, so "199.00", 199.0 and 450789469 all arrive as text and are cast here.
_MONEY_SET = _struct(shopMoney=_struct(amount=_S, currencyCode=_S))


def _rest_type(order_field: OrderField) -> T.DataType:
    if order_field.shape is Shape.REFERENCE:
        return _struct(id=_S)
    if order_field.kind is Kind.BOOLEAN:
        return T.BooleanType()
    if order_field.kind is Kind.CODES:
        return T.ArrayType(_struct(code=_S))
    return _S


def _bulk_type(order_field: OrderField) -> T.DataType:
    if order_field.shape is Shape.MONEY_SET:
        return _MONEY_SET
    if order_field.shape is Shape.REFERENCE:
        return _struct(id=_S)
    if order_field.kind is Kind.BOOLEAN:
        return T.BooleanType()
    if order_field.kind in (Kind.TAGS, Kind.CODES):
        return T.ArrayType(_S)
    return _S


# The payload's fields the job reads: those of common.order_fields with a column, then the ones with code.
_REST_ORDER = _struct(
    **{f.rest: _rest_type(f) for f in fields.column_fields()},
    order_number=_S,
    # Not a REST field: an order fetched from the Admin API carries GraphQL's totalRefundedSet here
    # instead of the refunds' transactions (common.shopify.resources), as the order processor reads it.
    total_refunded_set=_struct(shop_money=_struct(amount=_S)),
    line_items=T.ArrayType(
        _struct(
            id=_S,
            product_id=_S,
            variant_id=_S,
            sku=_S,
            title=_S,
            variant_title=_S,
            vendor=_S,
            quantity=_S,
            price=_S,
            total_discount=_S,
            discount_allocations=T.ArrayType(_struct(amount=_S)),
        )
    ),
    refunds=T.ArrayType(
        _struct(
            transactions=T.ArrayType(_struct(kind=_S, status=_S, amount=_S)),
            refund_line_items=T.ArrayType(_struct(line_item_id=_S, quantity=_S)),
        )
    ),
    fulfillments=T.ArrayType(_struct(status=_S, created_at=_S)),
)
WEBHOOK_EVENT = _struct(
    detail=_struct(metadata=T.MapType(_S, _S), payload=_REST_ORDER),
)

BULK_ORDER = _struct(
    __typename=_S,
    **{f.graphql or "": _bulk_type(f) for f in fields.column_fields()},
    refunds=T.ArrayType(_struct(totalRefundedSet=_MONEY_SET)),
    fulfillments=T.ArrayType(_struct(status=_S, createdAt=_S)),
)
BULK_LINE_ITEM = _struct(
    __typename=_S,
    id=_S,
    title=_S,
    sku=_S,
    quantity=_S,
    currentQuantity=_S,
    variant=_struct(id=_S),
    product=_struct(id=_S),
    originalUnitPriceSet=_MONEY_SET,
    discountedTotalSet=_MONEY_SET,
    __parentId=_S,
)
BULK_MANIFEST = _struct(run_id=_S, complete=T.BooleanType())


def _id(column: Column) -> Column:
    """A Shopify id as a string of digits: a REST number or the last segment of a gid; else null."""
    digits = F.regexp_extract(column, rules.SHOPIFY_ID_PATTERN, 1)
    return F.when(digits != "", digits)


def _timestamp(column: Column) -> Column:
    return column.cast(T.TimestampType())


def _header(metadata: Column, name: str) -> Column:
    """A webhook header, whatever its casing and with or without the ``X-`` of the classic system."""
    wanted = name.lower()
    matching = F.map_filter(metadata, lambda key, _value: F.regexp_replace(F.lower(key), "^x-", "") == wanted)
    return F.element_at(F.map_values(matching), 1)


def _order_number(number: Column, name: Column) -> Column:
    from_name = F.regexp_extract(name, rules.ORDER_NAME_PATTERN, 1)
    return F.coalesce(_id(number), F.when(from_name != "", from_name))


def _first_fulfilled_at(fulfillments: Column, status: str, created: str) -> tuple[Column, Column]:
    active = F.filter(fulfillments, lambda f: ~F.lower(f[status]).isin(*INACTIVE_FULFILLMENTS))
    times = F.transform(active, lambda f: _timestamp(f[created]))
    return F.size(active), F.array_min(times)


def _same(value: Column) -> Column:
    return value


def _fulfillment_status(display_status: Column) -> Column:
    return F.create_map(*[F.lit(x) for pair in rules.FULFILLMENT_STATUS.items() for x in pair])[display_status]


def _tags(text: Column) -> Column:
    return F.filter(F.transform(F.split(F.coalesce(text, F.lit("")), ","), F.trim), lambda t: t != "")


def _strings(array: Column) -> Column:
    return F.coalesce(array, F.array().cast(T.ArrayType(_S)))


# How each kind of common.order_fields becomes its column, from the REST payload and from a bulk line.
_WEBHOOK_KINDS: dict[Kind, Callable[[Column], Column]] = {
    Kind.ID: _id,
    Kind.MONEY: lambda value: value.cast(MONEY),
    Kind.TIMESTAMP: _timestamp,
    Kind.TAGS: _tags,
    Kind.CODES: lambda value: F.transform(F.coalesce(value, F.array()), lambda d: d["code"]),
}
_BULK_KINDS: dict[Kind, Callable[[Column], Column]] = {
    Kind.ID: _id,
    Kind.MONEY: lambda value: value["shopMoney"]["amount"].cast(MONEY),  # a MoneyBag
    Kind.TIMESTAMP: _timestamp,
    Kind.TAGS: _strings,
    Kind.CODES: _strings,
}
_BULK_STATUSES: dict[Status, Callable[[Column], Column]] = {
    Status.LOWER: F.lower,
    Status.FULFILLMENT: _fulfillment_status,
}


def _webhook_column(order_field: OrderField, o: Column) -> Column:
    """The column of a field converted by its kind alone, from the REST payload ``o``."""
    value = o[order_field.rest]
    value = value["id"] if order_field.shape is Shape.REFERENCE else value
    if order_field.status is not None:
        return F.lower(value)
    return _WEBHOOK_KINDS.get(order_field.kind, _same)(value)


def _bulk_column(order_field: OrderField, o: Column) -> Column:
    """The column of a field converted by its shape and kind alone, from the bulk line ``o``."""
    value = o[order_field.graphql or ""]
    value = value["id"] if order_field.shape is Shape.REFERENCE else value
    if order_field.status is not None:
        return _BULK_STATUSES[order_field.status](value)
    return _BULK_KINDS.get(order_field.kind, _same)(value)


def _version_columns(
    convert: Callable[[OrderField, Column], Column], o: Column, coded: dict[str, Column]
) -> list[Column]:
    """VERSION_COLUMNS: the fields' 1:1 columns (common.order_fields) by ``convert``, the rest ``coded``."""
    by_field = {f.column or "": convert(f, o) for f in fields.column_fields()}
    return [(by_field | coded)[name].alias(name) for name in VERSION_COLUMNS]


def parse_webhooks(events: DataFrame) -> DataFrame:
    """Raw webhook files (a ``value`` column: one event's text each) as the fields the job reads:
    ``o`` (the payload's order fields), ``topic`` and ``event_id``; one row per file. A ``fetched``
    column (the file is a fetched order) is passed through when the frame has one."""
    kept = [F.col("fetched")] if "fetched" in events.columns else []
    return events.select(F.from_json("value", WEBHOOK_EVENT).alias("event"), *kept).select(
        F.col("event.detail.payload").alias("o"),
        _header(F.col("event.detail.metadata"), "shopify-topic").alias("topic"),
        _header(F.col("event.detail.metadata"), "shopify-event-id").alias("event_id"),
        *kept,
    )


def webhook_versions(parsed: DataFrame) -> DataFrame:
    """Order versions and deletes from parsed webhooks (``parse_webhooks``).

    Returns VERSION_COLUMNS; a delete is a row with only ``order_id``, ``deleted``, ``source`` and
    ``source_event_id``. Files that are not orders events, reduced payloads and versions without an id
    or ``updated_at`` yield no row.
    """
    state = parsed.where(F.col("topic").isin(*STATE_TOPICS))
    o = F.col("o")
    refund_amounts = F.flatten(
        F.transform(
            F.coalesce(o["refunds"], F.array()),
            lambda r: F.transform(
                F.filter(
                    F.coalesce(r["transactions"], F.array()),
                    lambda t: (
                        (F.lower(t["kind"]) == rules.REFUND_KIND)
                        & (t["status"].isNull() | F.lower(t["status"]).isin(*filter(None, rules.REFUND_STATUSES)))
                    ),
                ),
                lambda t: t["amount"].cast(MONEY),
            ),
        )
    )
    fulfillment_count, first_fulfilled_at = _first_fulfilled_at(
        F.coalesce(o["fulfillments"], F.array()), "status", "created_at"
    )
    coded = {
        "order_number": _order_number(o["order_number"], o["name"]),
        "total_refunded": F.coalesce(
            o["total_refunded_set"]["shop_money"]["amount"].cast(MONEY),
            F.aggregate(refund_amounts, F.lit(0).cast(MONEY), lambda total, x: (total + x).cast(MONEY)),
        ),
        "refund_count": F.size(F.coalesce(o["refunds"], F.array())),
        "line_item_count": F.size(F.coalesce(o["line_items"], F.array())),
        "total_quantity": F.aggregate(
            F.coalesce(o["line_items"], F.array()), F.lit(0), lambda total, li: total + li["quantity"].cast("int")
        ),
        "deleted": F.lit(False),
        "fulfillment_count": fulfillment_count,
        "first_fulfilled_at": first_fulfilled_at,
        "source": F.lit(WEBHOOK),
        "source_event_id": F.col("event_id"),
    }
    versions = state.select(*_version_columns(_webhook_column, o, coded)).where(
        F.col("order_id").isNotNull() & F.col("updated_at").isNotNull()
    )
    deletes = parsed.where(F.col("topic") == DELETE_TOPIC).select(
        _id(o["id"]).alias("order_id"),
        F.lit(True).alias("deleted"),
        F.lit(WEBHOOK).alias("source"),
        F.col("event_id").alias("source_event_id"),
    )
    return versions.unionByName(deletes.where(F.col("order_id").isNotNull()), allowMissingColumns=True)


def complete_runs(manifests: DataFrame) -> DataFrame:
    """The ids of bulk runs whose manifest (a ``value`` column of manifest texts) says complete."""
    parsed = manifests.select(F.from_json("value", BULK_MANIFEST).alias("m"))
    return parsed.where(F.col("m.complete")).select(F.col("m.run_id").alias("run")).distinct()


def bulk_versions(orders: DataFrame, line_items: DataFrame, runs: DataFrame) -> DataFrame:
    """Order versions from bulk lines (``value`` and the part's ``run`` column), complete runs only."""
    complete = runs.select(F.col("run").cast(_S).alias("run"))

    def lines(frame: DataFrame, schema: T.StructType) -> DataFrame:
        kept = frame.withColumn("run", F.col("run").cast(_S)).join(complete, "run", "left_semi")
        return kept.select("run", F.from_json("value", schema).alias("o"))

    items = (
        lines(line_items, BULK_LINE_ITEM)
        .groupBy(F.col("run").alias("item_run"), F.col("o.__parentId").alias("parent"))
        .agg(F.count(F.lit(1)).alias("line_item_count"), F.sum(F.col("o.quantity").cast("int")).alias("qty"))
    )
    o = F.col("o")
    fulfillment_count, first_fulfilled_at = _first_fulfilled_at(
        F.coalesce(o["fulfillments"], F.array()), "status", "createdAt"
    )
    refunds = F.coalesce(o["refunds"], F.array())
    joined = lines(orders, BULK_ORDER).join(
        items, (F.col("run") == F.col("item_run")) & (o["id"] == F.col("parent")), "left"
    )
    coded = {
        "order_number": _order_number(F.lit(None).cast(_S), o["name"]),
        "total_refunded": F.aggregate(
            refunds,
            F.lit(0).cast(MONEY),
            lambda total, r: (total + r["totalRefundedSet"]["shopMoney"]["amount"].cast(MONEY)).cast(MONEY),
        ),
        "refund_count": F.size(refunds),
        "line_item_count": F.coalesce(F.col("line_item_count").cast("int"), F.lit(0)),
        "total_quantity": F.coalesce(F.col("qty").cast("int"), F.lit(0)),
        "deleted": F.lit(False),
        "fulfillment_count": fulfillment_count,
        "first_fulfilled_at": first_fulfilled_at,
        "source": F.lit(BULK),
        "source_event_id": F.col("run"),
    }
    # A field is null in parts exported before the query asked for it (sourceName, test).
    return joined.select(*_version_columns(_bulk_column, o, coded)).where(
        F.col("order_id").isNotNull() & F.col("updated_at").isNotNull()
    )


def previous_versions(previous: DataFrame) -> DataFrame:
    """The previous output as versions, so a run merges new raw data into what it already knew."""
    return previous.select(*VERSION_COLUMNS)


def newest(versions: DataFrame) -> DataFrame:
    """One row per order: its newest state version, marked deleted if any version is a delete."""
    rank = F.when(F.col("source") == WEBHOOK, 2).otherwise(1)
    order = Window.partitionBy("order_id").orderBy(
        F.col("updated_at").desc_nulls_last(), rank.desc(), F.col("source_event_id").desc_nulls_last()
    )
    by_order = Window.partitionBy("order_id")
    ranked = versions.withColumn("deleted_any", F.max(F.col("deleted").cast("int")).over(by_order) == 1)
    states = ranked.where(F.col("updated_at").isNotNull()).withColumn("_n", F.row_number().over(order))
    return states.where(F.col("_n") == 1).withColumn("deleted", F.col("deleted_any")).drop("_n", "deleted_any")


def enrich(orders: DataFrame) -> DataFrame:
    """The output row of each order: money net of refunds, fulfilment lead time, the customer's history.

    A customer's order sequence counts their orders by ``created_at`` leaving out test and deleted
    orders (which get no sequence); cancelled orders count, as Shopify's own customer order count does.
    """
    counted = F.col("customer_id").isNotNull() & F.expr(rules.COUNTED_ORDER_SQL)
    history = Window.partitionBy(F.col("customer_id"), counted).orderBy("created_at", "order_id")
    sequence = F.when(counted, F.row_number().over(history))
    previous_at = F.when(counted, F.lag("created_at").over(history))
    started = F.coalesce(F.col("processed_at"), F.col("created_at"))
    seconds = F.col("first_fulfilled_at").cast("double") - started.cast("double")
    enriched = orders.select(
        "*",
        (F.col("total_price") - F.coalesce(F.col("total_refunded"), F.lit(0))).cast(MONEY).alias("net_revenue"),
        F.col("cancelled_at").isNotNull().alias("cancelled"),
        (seconds / 3600).alias("hours_to_first_fulfillment"),
        sequence.cast("int").alias("customer_order_sequence"),
        ((F.col("created_at").cast("double") - previous_at.cast("double")) / 86400).alias("days_since_previous_order"),
        F.date_format("created_at", "yyyy-MM-dd").alias("dt"),
    ).withColumn("is_first_order", F.when(counted, F.col("customer_order_sequence") == 1))
    return enriched.where(F.col("created_at").isNotNull()).select(*OUTPUT_COLUMNS)


def orders_enriched(*versions: DataFrame) -> DataFrame:
    """The output from any number of version frames (webhooks, bulk, the previous output)."""
    union = versions[0].select(*[c for c in VERSION_COLUMNS if c in versions[0].columns])
    for frame in versions[1:]:
        union = union.unionByName(frame, allowMissingColumns=True)
    return enrich(newest(union))


# ------------------------------------------------------------------------------------ order_line_items

# A line item as one version of its order has it (joined to the order's winning version by lineage).
LINE_ITEM_VERSION_COLUMNS = (
    "order_id",
    "line_item_id",
    "product_id",
    "variant_id",
    "sku",
    "title",
    "variant_title",
    "vendor",
    "quantity",
    "price",
    "total_discount",
    "line_total",
    "refunded_quantity",
    "source",
    "source_event_id",
)
LINE_ITEM_OUTPUT_COLUMNS = (
    "order_id",
    "line_item_id",
    "created_at",
    "currency",
    *LINE_ITEM_VERSION_COLUMNS[2:13],
    "customer_id",
    "test",
    "cancelled",
    "deleted",
    "updated_at",
    "source",
    "source_event_id",
    "dt",
)
# The order's fields every one of its line items repeats (from the order's output row).
_ORDER_FIELDS = ("created_at", "currency", "customer_id", "test", "cancelled", "deleted", "updated_at", "dt")


def _line_total(price: Column, quantity: Column, discount: Column) -> Column:
    return (price * quantity - F.coalesce(discount, F.lit(0))).cast(MONEY)


def webhook_line_items(parsed: DataFrame) -> DataFrame:
    """The line items of each order version of parsed webhooks (``parse_webhooks``): LINE_ITEM_VERSION_COLUMNS.

    The discount is the sum of the item's ``discount_allocations`` (what Shopify recommends reading),
    else its ``total_discount``; the refunded quantity sums the order's ``refund_line_items`` of the item.
    """
    o = F.col("o")
    state = parsed.where(F.col("topic").isin(*STATE_TOPICS)).select(
        _id(o["id"]).alias("order_id"),
        F.col("event_id").alias("source_event_id"),
        F.flatten(
            F.transform(F.coalesce(o["refunds"], F.array()), lambda r: F.coalesce(r["refund_line_items"], F.array()))
        ).alias("refunded"),
        F.posexplode(F.coalesce(o["line_items"], F.array())).alias("position", "li"),
    )
    li = F.col("li")
    allocations = F.coalesce(li["discount_allocations"], F.array())
    allocated = F.aggregate(
        allocations, F.lit(0).cast(MONEY), lambda total, a: (total + a["amount"].cast(MONEY)).cast(MONEY)
    )
    discount = F.when(F.size(allocations) > 0, allocated).otherwise(li["total_discount"].cast(MONEY))
    line_item_id = _id(li["id"])
    refunded = F.aggregate(
        F.filter(F.col("refunded"), lambda r: _id(r["line_item_id"]) == line_item_id),
        F.lit(0),
        lambda total, r: total + r["quantity"].cast("int"),
    )
    quantity = li["quantity"].cast("int")
    price = li["price"].cast(MONEY)
    return state.where(F.col("order_id").isNotNull()).select(
        "order_id",
        line_item_id.alias("line_item_id"),
        _id(li["product_id"]).alias("product_id"),
        _id(li["variant_id"]).alias("variant_id"),
        li["sku"].alias("sku"),
        li["title"].alias("title"),
        li["variant_title"].alias("variant_title"),
        li["vendor"].alias("vendor"),
        quantity.alias("quantity"),
        price.alias("price"),
        discount.alias("total_discount"),
        _line_total(price, quantity, discount).alias("line_total"),
        refunded.cast("int").alias("refunded_quantity"),
        F.lit(WEBHOOK).alias("source"),
        "source_event_id",
    )


def bulk_line_items(line_items: DataFrame, runs: DataFrame) -> DataFrame:
    """Line items of bulk runs (complete runs only): LINE_ITEM_VERSION_COLUMNS.

    GraphQL gives the unit price and the total after line-level discounts (``discountedTotalSet``): the
    discount is their difference; the refunded quantity is ``quantity - currentQuantity`` (items removed by
    an edit count too); the export asks for no variant title or vendor (null).
    """
    complete = runs.select(F.col("run").cast(_S).alias("run"))
    kept = line_items.withColumn("run", F.col("run").cast(_S)).join(complete, "run", "left_semi")
    li = F.col("li")
    quantity = li["quantity"].cast("int")
    price = li["originalUnitPriceSet"]["shopMoney"]["amount"].cast(MONEY)
    after = li["discountedTotalSet"]["shopMoney"]["amount"].cast(MONEY)
    discount = (price * quantity - after).cast(MONEY)
    return (
        kept.select("run", F.from_json("value", BULK_LINE_ITEM).alias("li"))
        .where(li["__typename"] == "LineItem")
        .select(
            _id(li["__parentId"]).alias("order_id"),
            _id(li["id"]).alias("line_item_id"),
            _id(li["product"]["id"]).alias("product_id"),
            _id(li["variant"]["id"]).alias("variant_id"),
            li["sku"].alias("sku"),
            li["title"].alias("title"),
            F.lit(None).cast(_S).alias("variant_title"),
            F.lit(None).cast(_S).alias("vendor"),
            quantity.alias("quantity"),
            price.alias("price"),
            discount.alias("total_discount"),
            _line_total(price, quantity, discount).alias("line_total"),
            (quantity - F.coalesce(li["currentQuantity"].cast("int"), quantity)).alias("refunded_quantity"),
            F.lit(BULK).alias("source"),
            F.col("run").alias("source_event_id"),
        )
        .where(F.col("order_id").isNotNull())
    )


def previous_line_items(previous: DataFrame) -> DataFrame:
    """The previous order_line_items as versions (their lineage is their order version's)."""
    return previous.select(*LINE_ITEM_VERSION_COLUMNS)


def order_line_items(orders: DataFrame, *versions: DataFrame) -> DataFrame:
    """One row per line item of the winning version of every order in ``orders`` (the output of
    ``orders_enriched``): the items of the version with the order's ``source`` and ``source_event_id``.

    A version that an order's later version replaced contributes nothing, so an item removed by an edit
    disappears; a deleted order keeps the items its last state had, marked deleted.
    """
    union = versions[0].select(*LINE_ITEM_VERSION_COLUMNS)
    for frame in versions[1:]:
        union = union.unionByName(frame.select(*LINE_ITEM_VERSION_COLUMNS))
    # One copy per (version, item): a re-delivered event or a run read twice must not double an item.
    items = union.dropDuplicates(["order_id", "source", "source_event_id", "line_item_id"])
    winners = orders.select("order_id", "source", "source_event_id", *_ORDER_FIELDS)
    return items.join(winners, ["order_id", "source", "source_event_id"]).select(*LINE_ITEM_OUTPUT_COLUMNS)
