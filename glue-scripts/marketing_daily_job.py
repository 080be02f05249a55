"""Glue entry of ``marketing_daily``: Triple Whale summary pages -> ``processed/triplewhale/marketing_daily/``.

On Glue the job runs this file with ``--lake_uri s3://<bucket>`` and ``--lookback_days N`` and imports
``marketing_daily.py``, ``curated_common.py``, ``lake_io.py`` and ``commerce_rules.py``
(``--extra-py-files``). Each page is one shop and day, named by them, so a run needs no previous output:
it reads the pages of the last ``lookback_days`` days (``dt`` partitions: the metrics' day) and rewrites
those partitions whose rows changed; ``lookback_days`` 0 reads every page.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F  # noqa: N812

import lake_io
import marketing_daily as md

RAW = "raw/triplewhale/summary-page"
OUTPUT = "processed/triplewhale/marketing_daily"


@dataclass(frozen=True)
class Summary:
    lookback_days: int
    page_files: int
    rows_written: int
    partitions_changed: int


def run(spark: SparkSession, lake_uri: str, lookback_days: int, today: date | None = None) -> Summary:
    lake_io.configure(spark)
    lake = lake_uri.rstrip("/")
    today = today or lake_io.utc_today()
    paths = lake_io.partitioned_paths(lake, RAW, today, lookback_days, levels="")
    pages = lake_io.text(spark, paths, ("dt",), whole=True, options={"basePath": f"{lake}/{RAW}/"}, with_file=True)
    result = md.marketing_daily(pages.drop("dt")).localCheckpoint()
    before = None
    if lookback_days > 0:
        window = lake_io.days(today, lookback_days)
        previous = lake_io.previous(spark, f"{lake}/{OUTPUT}/", md.OUTPUT_COLUMNS)
        before = previous.where(F.col("dt").isin(window)) if previous is not None else None
    changed = lake_io.write_changed(spark, result, before, f"{lake}/{OUTPUT}/")
    summary = Summary(lookback_days, pages.count(), result.count(), len(changed))
    lake_io.log_summary("marketing_daily written", summary)
    return summary


def main(argv: list[str]) -> Any:
    return lake_io.main(argv, run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main(sys.argv)
