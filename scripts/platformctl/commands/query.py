"""``platformctl query --env E [--format table|json|csv] "SQL"``: one SQL statement over the processed database.

The SQL is Athena's (engine 3, Trino): the processed database's tables (orders_enriched, the curated
tables) and the metric views (daily_sales, customer_cohorts, subscription_mrr, blended_roas) are addressed
by their unqualified names.

On AWS (``--env prod``, ...) the query runs through Athena in the analytics workgroup
``<brand>-<env>-analytics`` (output of analytics/athena-access), whose enforced configuration sets where
results go and how many bytes a query may scan; progress and the bytes scanned go to stderr.

On the local cloud (``--env local``) it runs in an embedded engine (DuckDB): the tables the emulated Glue
catalog lists for the processed database, their Parquet copied from the emulated S3 into
``.local-cloud/query-cache/``, and the metric views from ``infrastructure/analytics/views/*.sql``
translated to DuckDB's dialect by sqlglot - the same definitions Athena runs.

``--format json`` prints a JSON array of row objects (decimals as strings of their exact digits,
timestamps ``YYYY-MM-DD HH:MM:SS.fff``). An unknown table or an SQL error exits 1 with the engine's
message. See docs/analytics.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from platformctl.analytics.output import FORMATS, Result, render
from platformctl.aws_target import Target, add_env_argument, stack_output, target_for


def processed_database(target: Target) -> str:
    return stack_output(target, "shared", "glue-catalog", "ProcessedDatabaseName")


def run(target: Target, sql: str) -> Result:
    """The query's result on the target: the local engine for the local cloud, Athena otherwise."""
    database = processed_database(target)
    if target.is_local:
        from platformctl.analytics.local_lake import local_engine

        engine, notes = local_engine(target, database)
        result = engine.query(sql)
        result.notes[:0] = [*notes, f"{len(result.rows)} rows; local engine over {database} of the local cloud"]
        return result
    from platformctl.analytics.athena import run_query

    workgroup = stack_output(target, "analytics", "athena-access", "AnalyticsWorkGroupName")
    return run_query(target.client("athena"), sql, workgroup=workgroup, database=database, progress=sys.stderr)


def command(args: argparse.Namespace) -> int:
    result = run(target_for(args.env), args.sql)
    for note in result.notes:
        print(note, file=sys.stderr)
    print(render(result, args.format))
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "query",
        help="run Athena SQL over the processed tables and metric views (AWS: the workgroup; local: embedded engine)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_env_argument(parser)
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("sql", help='one SQL statement, e.g. "SELECT * FROM daily_sales ORDER BY day"')
    parser.set_defaults(func=command)
