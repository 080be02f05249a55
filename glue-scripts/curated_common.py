"""Column rules the curated transforms share (ids, money, tags, newest version wins). Pure Spark columns."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F  # noqa: N812 - the name every PySpark reader knows
from pyspark.sql import types as T  # noqa: N812

import commerce_rules as rules

MONEY = T.DecimalType(rules.MONEY_PRECISION, rules.MONEY_SCALE)
TEXT = T.StringType()
TEXTS = T.ArrayType(T.StringType())
# On equal updated_at a webhook (every field, as sent) beats a bulk line; the previous output keeps the
# source its row was made from.
SOURCE_RANK = {"webhook": 2, "recharge": 2, "bulk": 1}
LINEAGE = ("updated_at", "source", "source_event_id")


def struct(**fields: T.DataType) -> T.StructType:
    return T.StructType([T.StructField(name, kind) for name, kind in fields.items()])


def shopify_id(column: Column) -> Column:
    """A Shopify id as a string of digits: a REST number or the last segment of a gid; else null."""
    digits = F.regexp_extract(column, rules.SHOPIFY_ID_PATTERN, 1)
    return F.when(digits != "", digits)


def digits_id(column: Column) -> Column:
    """A Recharge id (digits, as a number or text); else null."""
    digits = F.regexp_extract(F.trim(column), r"^([0-9]{1,20})$", 1)
    return F.when(digits != "", digits)


def money(column: Column) -> Column:
    return column.cast(MONEY)


def timestamp(column: Column) -> Column:
    return column.cast(T.TimestampType())


def tag_list(column: Column) -> Column:
    """REST's comma-separated tags as a list (empty when none)."""
    return F.filter(F.transform(F.split(F.coalesce(column, F.lit("")), ","), F.trim), lambda t: t != "")


def boolean(column: Column) -> Column:
    """A flag sent as true/false or 1/0 (Recharge sends both)."""
    lowered = F.lower(F.trim(column))
    return F.when(lowered.isin("true", "1"), True).when(lowered.isin("false", "0"), False)


def day(column: Column) -> Column:
    return F.date_format(column, "yyyy-MM-dd")


def newest(versions: DataFrame, key: Sequence[str]) -> DataFrame:
    """One row per ``key``: its newest state version (later ``updated_at``, then the source's rank, then
    the greater ``source_event_id``), marked deleted when any version of it is a delete (deletes are
    final). Delete rows carry the key, ``deleted`` true and no ``updated_at``."""
    rank = F.coalesce(F.create_map(*[F.lit(x) for kv in SOURCE_RANK.items() for x in kv])[F.col("source")], F.lit(0))
    ordered = Window.partitionBy(*key).orderBy(
        F.col("updated_at").desc_nulls_last(), rank.desc(), F.col("source_event_id").desc_nulls_last()
    )
    flagged = versions.withColumn(
        "_deleted_any", F.max(F.coalesce(F.col("deleted"), F.lit(False)).cast("int")).over(Window.partitionBy(*key))
    )
    states = flagged.where(F.col("updated_at").isNotNull()).withColumn("_n", F.row_number().over(ordered))
    return states.where(F.col("_n") == 1).withColumn("deleted", F.col("_deleted_any") == 1).drop("_n", "_deleted_any")


def union_all(frames: Sequence[DataFrame], columns: Sequence[str]) -> DataFrame:
    """The frames' rows with ``columns`` (missing ones null)."""
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame, allowMissingColumns=True)
    return union.select(*columns)


def header(metadata: Column, name: str) -> Column:
    """A webhook header, whatever its casing and with or without the ``X-`` of the classic system."""
    wanted = name.lower()
    matching = F.map_filter(metadata, lambda key, _value: F.regexp_replace(F.lower(key), "^x-", "") == wanted)
    return F.element_at(F.map_values(matching), 1)


def schema_of(frame: DataFrame) -> dict[str, str]:
    return {f.name: f.dataType.simpleString() for f in frame.schema.fields}
