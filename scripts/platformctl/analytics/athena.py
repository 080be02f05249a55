"""A query through Athena: StartQueryExecution in the analytics workgroup (whose enforced configuration
decides the results location, their encryption and the bytes-scanned limit), progress on stderr while it
runs, then every page of results, typed from the result metadata, and the bytes it scanned."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

from platformctl.analytics.output import Result
from platformctl.errors import UserError

CATALOG = "AwsDataCatalog"
_DONE = {"SUCCEEDED", "FAILED", "CANCELLED"}


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "tinyint": int,
    "smallint": int,
    "integer": int,
    "bigint": int,
    "double": float,
    "real": float,
    "float": float,
    "decimal": Decimal,
    "boolean": lambda text: text.lower() == "true",
    "date": date.fromisoformat,
    "timestamp": datetime.fromisoformat,
}


def _typed(value: str | None, kind: str) -> Any:
    """An Athena result cell (text) as the Python value the local engine would give (text when unknown)."""
    convert = _CONVERTERS.get(kind.lower().split("(")[0])
    return value if value is None or convert is None else convert(value)


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.2f} TB"


def run_query(
    athena: Any,
    sql: str,
    *,
    workgroup: str,
    database: str,
    progress: TextIO,
    poll_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Result:
    started = clock()
    execution_id = athena.start_query_execution(
        QueryString=sql,
        WorkGroup=workgroup,
        QueryExecutionContext={"Catalog": CATALOG, "Database": database},
    )["QueryExecutionId"]
    print(f"query {execution_id} in workgroup {workgroup}, database {database}", file=progress, flush=True)
    try:
        while True:
            execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
            state = execution["Status"]["State"]
            scanned = int((execution.get("Statistics") or {}).get("DataScannedInBytes") or 0)
            print(
                f"  {state.lower()}: {clock() - started:.0f}s, {human_bytes(scanned)} scanned",
                file=progress,
                flush=True,
            )
            if state in _DONE:
                break
            sleep(poll_seconds)
    except KeyboardInterrupt:
        athena.stop_query_execution(QueryExecutionId=execution_id)
        raise UserError(f"interrupted: query {execution_id} cancelled") from None
    if state != "SUCCEEDED":
        reason = execution["Status"].get("StateChangeReason") or "no reason given"
        raise UserError(f"query {execution_id} {state.lower()}: {reason}")

    columns: list[str] = []
    kinds: list[str] = []
    rows: list[tuple[Any, ...]] = []
    first = True
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id):
        result_set = page["ResultSet"]
        if not columns:
            info = result_set["ResultSetMetadata"]["ColumnInfo"]
            columns = [str(c["Name"]) for c in info]
            kinds = [str(c["Type"]) for c in info]
        data = result_set.get("Rows", [])
        if first and data and [d.get("VarCharValue") for d in data[0]["Data"]] == columns:
            data = data[1:]  # a SELECT's first row repeats the column names
        first = False
        for row in data:
            cells = [d.get("VarCharValue") for d in row["Data"]]
            rows.append(tuple(_typed(v, k) for v, k in zip(cells, kinds, strict=True)))
    statistics = execution.get("Statistics") or {}
    note = (
        f"{len(rows)} rows; {human_bytes(int(statistics.get('DataScannedInBytes') or 0))} scanned "
        f"({int(statistics.get('DataScannedInBytes') or 0)} bytes) in {clock() - started:.1f}s; query {execution_id}"
    )
    return Result(columns, rows, [note])
