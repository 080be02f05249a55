"""Glue entry of the Recharge curated tables: ``processed/recharge/subscriptions/`` and ``.../subscription_charges/``.

On Glue the job runs this file with ``--lake_uri s3://<bucket>``, ``--lookback_days N`` and optionally
``--naive_timezone`` (default America/New_York, the webhook stack's ``NaiveTimestampZone``) and imports
``recharge_curated.py``, ``curated_common.py``, ``lake_io.py`` and ``commerce_rules.py``
(``--extra-py-files``). A run reads the subscription and charge deliveries of the last ``lookback_days``
days (``dt`` partitions: the UTC day of each version's ``updated_at``) and its previous output, and
rewrites only the ``dt`` partitions whose rows changed. ``lookback_days`` 0 rebuilds from all raw data.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from typing import Any

from pyspark.sql import SparkSession

import lake_io
import recharge_curated as rc

RAW = {"subscriptions": "raw/recharge/subscription", "subscription_charges": "raw/recharge/charge"}
OUTPUTS = {
    "subscriptions": "processed/recharge/subscriptions",
    "subscription_charges": "processed/recharge/subscription_charges",
}
VERSIONS = {"subscriptions": rc.subscription_versions, "subscription_charges": rc.charge_versions}
TABLES = {"subscriptions": rc.subscriptions, "subscription_charges": rc.subscription_charges}


@dataclass(frozen=True)
class Summary:
    lookback_days: int
    subscription_files: int
    charge_files: int
    subscriptions_written: int
    charges_written: int
    subscription_partitions_changed: int
    charge_partitions_changed: int


def run(
    spark: SparkSession,
    lake_uri: str,
    lookback_days: int,
    today: date | None = None,
    naive_timezone: str = rc.DEFAULT_NAIVE_TIMEZONE,
) -> Summary:
    lake_io.configure(spark)
    lake = lake_uri.rstrip("/")
    today = today or lake_io.utc_today()
    files, results, changed = {}, {}, {}
    for name, prefix in RAW.items():
        paths = lake_io.partitioned_paths(lake, prefix, today, lookback_days)
        options = {"basePath": f"{lake}/{prefix}/"}
        raw = lake_io.text(spark, paths, ("topic", "dt"), whole=True, options=options, with_file=True)
        files[name] = raw.localCheckpoint()
        versions = [VERSIONS[name](files[name], naive_timezone)]
        before = None
        if lookback_days > 0:
            before = lake_io.previous(spark, f"{lake}/{OUTPUTS[name]}/", rc.OUTPUT_COLUMNS[name])
            if before is not None:
                versions.append(before.drop("dt"))
        results[name] = TABLES[name](*versions).localCheckpoint()
        changed[name] = lake_io.write_changed(spark, results[name], before, f"{lake}/{OUTPUTS[name]}/")
    summary = Summary(
        lookback_days=lookback_days,
        subscription_files=files["subscriptions"].count(),
        charge_files=files["subscription_charges"].count(),
        subscriptions_written=results["subscriptions"].count(),
        charges_written=results["subscription_charges"].count(),
        subscription_partitions_changed=len(changed["subscriptions"]),
        charge_partitions_changed=len(changed["subscription_charges"]),
    )
    lake_io.log_summary("recharge curated tables written", summary)
    return summary


def main(argv: list[str]) -> Any:
    return lake_io.main(argv, run, __doc__.splitlines()[0], {"naive_timezone": rc.DEFAULT_NAIVE_TIMEZONE})


if __name__ == "__main__":
    main(sys.argv)
