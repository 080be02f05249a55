"""marketing_daily: one row per shop and day of Triple Whale's summary page. Pure DataFrame transforms.

The summary Lambda fetches the page one day at a time (``period.start == period.end``) and keeps the body
verbatim at ``raw/triplewhale/summary-page/dt=<day>/<shop-domain>.json`` (a re-run of a day overwrites
it). Each metric of the page's ``metrics`` list has an ``id`` and ``values.current``, the day's value.
The page states no currency: ``currency`` is null (the shop's reporting currency in Triple Whale).
A metric that is absent, null or not a number (``"N/A"``) gives null.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

import curated_common as cc

SOURCE = "triplewhale"
# column -> (summary page metric ``id``, its ``metricId``, the Spark type): the metric that feeds it.
METRICS: dict[str, tuple[str, str, T.DataType]] = {
    "total_sales": ("sales", "totalSales", cc.MONEY),
    "orders": ("orders", "totalOrders", T.IntegerType()),
    "new_customer_orders": ("newCustomersOrders", "newCustomersOrders", T.IntegerType()),
    "blended_ad_spend": ("blendedAds", "blendedAds", cc.MONEY),
    "blended_roas": ("roas", "totalRoas", T.DoubleType()),
    "facebook_ads_spend": ("facebookAds", "fb_ads_spend", cc.MONEY),
    "google_ads_spend": ("googleAds", "ga_adCost", cc.MONEY),
    "tiktok_ads_spend": ("tiktokAds", "tiktok_spend", cc.MONEY),
    "snapchat_ads_spend": ("snapchatAds", "totalSnapchatSpend", cc.MONEY),
    "pinterest_ads_spend": ("pinterestAds", "pinterestSpend", cc.MONEY),
    "amazon_ads_spend": ("amazonAds", "amazonAds", cc.MONEY),
}
OUTPUT_COLUMNS = ("shop_domain", "day", "currency", *METRICS, *cc.LINEAGE, "dt")
SUMMARY_PAGE = cc.struct(metrics=T.ArrayType(cc.struct(id=T.StringType(), values=cc.struct(current=T.StringType()))))
_FILE = r"/dt=([0-9]{4}-[0-9]{2}-[0-9]{2})/([^/]+)\.json$"


def _metric(metrics: Column, metric_id: str, kind: T.DataType) -> Column:
    found = F.filter(metrics, lambda m: m["id"] == metric_id)
    value = F.element_at(found, 1)["values"]["current"]
    if isinstance(kind, T.IntegerType):  # counts arrive as 834 or 834.0
        return value.cast(T.DoubleType()).cast(kind)
    return value.cast(kind)


def marketing_daily(pages: DataFrame) -> DataFrame:
    """The table from raw summary pages (``value``: a page's text, ``file_path``, ``modified_at``: when
    the Lambda wrote it, the row's ``updated_at``). ``source_event_id`` is the page's lake key."""
    page = F.from_json("value", SUMMARY_PAGE)
    metrics = F.coalesce(F.col("page.metrics"), F.array())
    day = F.regexp_extract("file_path", _FILE, 1)
    parsed = pages.select(
        page.alias("page"),
        F.regexp_extract("file_path", _FILE, 2).alias("shop_domain"),
        day.alias("dt"),
        F.regexp_extract("file_path", r"(raw/triplewhale/.*)$", 1).alias("source_event_id"),
        F.col("modified_at").alias("updated_at"),
    ).where((F.col("dt") != "") & F.col("page").isNotNull())
    return parsed.select(
        "shop_domain",
        F.to_date("dt").alias("day"),
        F.lit(None).cast(T.StringType()).alias("currency"),
        *[_metric(metrics, metric_id, kind).alias(column) for column, (metric_id, _, kind) in METRICS.items()],
        "updated_at",
        F.lit(SOURCE).alias("source"),
        "source_event_id",
        "dt",
    ).select(*OUTPUT_COLUMNS)
