"""Demo step: the curated-tables Glue jobs over what the earlier steps put in the lake.

Each deployed job (``shopify-curated``, ``recharge-curated``, ``marketing-daily``; their scripts uploaded
to the emulated lake by the deploy) runs on local PySpark with the job's own arguments, as a full rebuild
(``--lookback_days 0``: the demo's raw data carries the dates of its fixtures, which a 3-day lookback
would miss), after ``orders_enriched`` (which ``shopify-curated`` reads). The step reports the rows of
each table, counted in the Parquet the run left in the emulated S3, and expects every table to have some:
the Shopify, Recharge and Triple Whale steps all fed them.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from platformctl.commands.glue import JOBS, run_locally
from platformctl.errors import UserError
from platformctl.scenarios.report import Report

ORDER = 60
CURATED_JOBS = ("shopify-curated", "recharge-curated", "marketing-daily")


def parquet_rows(s3: Any, bucket: str, prefix: str) -> tuple[int, int]:
    """(rows, Parquet objects) under ``prefix`` of the emulated lake."""
    import duckdb  # a dev dependency (the local query engine), not one of the deploy path

    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
        if item["Key"].endswith(".parquet")
    ]
    if not keys:
        return 0, 0
    with tempfile.TemporaryDirectory(prefix="curated-rows-") as scratch:
        paths = []
        for index, key in enumerate(keys):
            path = Path(scratch) / f"{index}.parquet"
            s3.download_file(bucket, key, str(path))
            paths.append(str(path))
        with duckdb.connect() as connection:
            found = connection.execute("SELECT count(*) FROM read_parquet(?)", [paths]).fetchone()
    return int(found[0]) if found else 0, len(keys)


def step(cloud: Any, report: Report) -> None:
    report.section("Glue jobs of the curated tables (the deployed scripts on local Spark)")
    s3 = cloud.target.client("s3")
    bucket = cloud.endpoints()["bucket"]
    rows = []
    for job in CURATED_JOBS:
        started = time.monotonic()
        try:
            summary = run_locally(cloud.target, lookback_days=0, job=job)
        except UserError as exc:
            report.expect(False, f"{job} did not run: {exc}")
            continue
        report.line(f"{summary['job_name']}: ran in {time.monotonic() - started:.1f}s (full rebuild)")
        for prefix in JOBS[job].writes:
            table = prefix.rstrip("/").rsplit("/", 1)[-1]
            count, objects = parquet_rows(s3, bucket, prefix)
            rows.append((table, job, count, objects, prefix))
            report.expect(count > 0, f"{job} wrote no row of {table} ({prefix})")
    if rows:
        report.table(("TABLE", "JOB", "ROWS", "PARQUET OBJECTS", "WHERE"), rows)
