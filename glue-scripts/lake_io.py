"""The lake plumbing every Glue job of this folder shares: reading raw text, previous output, writing.

Each job (``<name>_job.py``) reads raw files and its own previous output through these functions and
writes its tables with ``write_partitions`` (dynamic partition overwrite: only the ``dt`` partitions a
run writes are replaced). On Glue the file is listed in the job's ``--extra-py-files``; locally the
scripts sit in one folder and import each other by name.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import date, datetime, timedelta, timezone
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 - the name every PySpark reader knows
from pyspark.sql import types as T  # noqa: N812

SPARK_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # Partition values stay text: run ids and dates compare as the lake spells them.
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}
FILE_COLUMN = "file_path"  # the source file's URI, when ``text`` is asked for it
MODIFIED_COLUMN = "modified_at"  # and when it was written


def configure(spark: SparkSession) -> None:
    for key, value in SPARK_SETTINGS.items():
        spark.conf.set(key, value)


def utc_today() -> date:
    return datetime.now(timezone.utc).date()  # noqa: UP017 - Glue's Python reads the same


def _missing(exc: AnalysisException) -> bool:
    return "PATH_NOT_FOUND" in str(exc) or "Path does not exist" in str(exc)


def text(
    spark: SparkSession,
    paths: list[str],
    partitions: tuple[str, ...],
    *,
    whole: bool = False,
    options: Mapping[str, str] | None = None,
    with_file: bool = False,
) -> DataFrame:
    """Text rows (``value``: a line, or with ``whole`` a file) with the partition columns, and with
    ``with_file`` the file's path and modification time (``file_path``, ``modified_at``); no rows when no
    path matches anything."""
    try:
        frame = spark.read.options(**(options or {})).text(paths, wholetext=whole)
    except AnalysisException as exc:
        if not _missing(exc):
            raise
        fields = [T.StructField("value", T.StringType()), *(T.StructField(p, T.StringType()) for p in partitions)]
        if with_file:
            fields += [T.StructField(FILE_COLUMN, T.StringType()), T.StructField(MODIFIED_COLUMN, T.TimestampType())]
        return spark.createDataFrame([], T.StructType(fields))
    if not with_file:
        return frame
    return frame.withColumn(FILE_COLUMN, F.col("_metadata.file_path")).withColumn(
        MODIFIED_COLUMN, F.col("_metadata.file_modification_time")
    )


def days(today: date, lookback_days: int) -> list[str]:
    """The ``dt`` values of a lookback window: today and the ``lookback_days`` days before it."""
    return [(today - timedelta(days=n)).isoformat() for n in range(lookback_days + 1)]


def partitioned_paths(
    lake: str, prefix: str, today: date, lookback_days: int, *, levels: str = "topic=*/"
) -> list[str]:
    """The folders of ``prefix`` a run reads: all of it (``lookback_days`` 0), or the window's ``dt``
    partitions under ``levels`` (the partition folders above ``dt``)."""
    if lookback_days <= 0:
        return [f"{lake}/{prefix}/"]
    return [f"{lake}/{prefix}/{levels}dt={{{','.join(days(today, lookback_days))}}}/"]


def modified_since(today: date, lookback_days: int) -> dict[str, str]:
    """Read options for files written within the window (bulk parts, which have no ``dt``)."""
    return {"modifiedAfter": f"{today - timedelta(days=lookback_days)}T00:00:00"} if lookback_days > 0 else {}


def previous(spark: SparkSession, path: str, columns: Sequence[str] | None = None) -> DataFrame | None:
    """A job's previous output, checkpointed (so the run may overwrite the path), or None before the first."""
    try:
        frame = spark.read.parquet(path)
    except AnalysisException as exc:
        if not _missing(exc):
            raise
        return None
    return (frame.select(*columns) if columns else frame).localCheckpoint()


def write_partitions(frame: DataFrame, path: str) -> None:
    """One Parquet file per ``dt`` partition written; partitions the frame has no rows for stay as they are."""
    frame.repartition("dt").write.mode("overwrite").partitionBy("dt").parquet(path)


def write_changed(spark: SparkSession, result: DataFrame, before: DataFrame | None, path: str) -> list[str]:
    """Write the ``dt`` partitions of ``result`` that differ from ``before`` (the previous output, same
    columns); the changed partitions' ``dt`` values, sorted.

    A partition differs when a row was added, removed or changed in it. Unchanged partitions are not
    rewritten, so a run that changes one order rewrites one day; a partition left without rows (its only
    row moved to another day) is deleted, since a dynamic overwrite never touches a partition it has no
    rows for.
    """
    if before is None:
        changed = sorted(str(r["dt"]) for r in result.select("dt").distinct().collect())
        if changed:
            write_partitions(result, path)
        return changed
    columns = result.columns
    old = before.select(*columns)
    differing = result.exceptAll(old).select("dt").union(old.exceptAll(result).select("dt")).distinct()
    changed = sorted(str(r["dt"]) for r in differing.collect())
    if not changed:
        return []
    rows = result.where(F.col("dt").isin(changed))
    kept = {str(r["dt"]) for r in rows.select("dt").distinct().collect()}
    write_partitions(rows, path)
    emptied = [dt for dt in changed if dt not in kept]
    if emptied:
        _delete_partitions(spark, path, emptied)
    return changed


def _delete_partitions(spark: SparkSession, path: str, dts: Sequence[str]) -> None:
    jvm = spark.sparkContext._jvm
    assert jvm is not None  # noqa: S101 - a driver always has its gateway
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    for dt in dts:
        folder = jvm.org.apache.hadoop.fs.Path(f"{path.rstrip('/')}/dt={dt}")
        folder.getFileSystem(conf).delete(folder, True)


def local_session(cores: int = 2, **settings: str) -> SparkSession:
    """Spark on this machine (the local cloud's runs, the tests, the bench): no UI, bound to 127.0.0.1."""
    builder = SparkSession.builder.master(f"local[{cores}]").appName("platform-glue-job")
    defaults = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
    }
    for key, value in (defaults | settings).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def log_summary(message: str, summary: Any) -> None:
    """The run's one JSON line (CloudWatch Logs on Glue, the local runner's stdout)."""
    print(json.dumps({"message": message, **asdict(summary)}), flush=True)


RunFunction = Callable[..., Any]


def main(argv: list[str], run: RunFunction, description: str, optional: Mapping[str, str] | None = None) -> Any:
    """A job's entry: ``--lake_uri`` and ``--lookback_days`` (and ``optional`` arguments with defaults),
    on Glue through ``awsglue``'s ``Job``, elsewhere on local Spark."""
    optional = dict(optional or {})
    try:
        import awsglue  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument("--lake_uri", required=True, help="file:///... or s3://<bucket>")
        parser.add_argument("--lookback_days", type=int, default=0)
        for name, default in optional.items():
            parser.add_argument(f"--{name}", default=default)
        args = vars(parser.parse_args(argv[1:]))
        extra = {name: args[name] for name in optional}
        return run(local_session(), args["lake_uri"], args["lookback_days"], **extra)
    return _glue_main(argv, run, optional)  # pragma: no cover - runs on AWS Glue only


def _glue_main(argv: list[str], run: RunFunction, optional: Mapping[str, str]) -> None:  # pragma: no cover
    from awsglue.context import GlueContext  # type: ignore[import-not-found]
    from awsglue.job import Job  # type: ignore[import-not-found]
    from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    from pyspark.context import SparkContext

    given = [name for name in optional if f"--{name}" in argv]
    args = getResolvedOptions(argv, ["JOB_NAME", "lake_uri", "lookback_days", *given])
    glue = GlueContext(SparkContext.getOrCreate())
    job = Job(glue)
    job.init(args["JOB_NAME"], args)
    extra = {name: args.get(name, default) for name, default in optional.items()}
    run(glue.spark_session, args["lake_uri"], int(args["lookback_days"]), **extra)
    job.commit()
