"""A processed zone on local disk for the metric views' tests: rows written as hive-partitioned Parquet by
DuckDB with the catalog's columns (a column a row leaves out is null), and a LocalEngine over it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from platformctl.analytics.local_engine import LocalEngine
from platformctl.analytics.schemas import processed_tables
from platformctl.analytics.types import hive_to_duckdb
from platformctl.analytics.views import load_views


def write_table(root: Path, name: str, rows: Iterable[Mapping[str, Any]], day_column: str = "created_at") -> Path:
    """Write ``rows`` as the table's Parquet under ``root/name/dt=.../``; ``dt`` from ``day_column``."""
    schema = processed_tables()[name]
    data = [(c, hive_to_duckdb(t)) for c, t in schema.columns if c not in schema.partition_keys]
    connection = duckdb.connect()
    connection.execute("CREATE TABLE rows (" + ", ".join(f'"{c}" {t}' for c, t in data) + ", dt VARCHAR)")
    for row in rows:
        unknown = set(row) - {c for c, _ in data}
        assert not unknown, f"{name} has no column {unknown}"
        day = row[day_column]
        dt = (day.date() if isinstance(day, datetime) else day).isoformat()
        names = [*row, "dt"]
        connection.execute(
            f"INSERT INTO rows ({', '.join(f'{chr(34)}{n}{chr(34)}' for n in names)}) "
            f"VALUES ({', '.join('?' for _ in names)})",
            [*row.values(), dt],
        )
    folder = root / name
    connection.execute(f"COPY rows TO '{folder}' (FORMAT parquet, PARTITION_BY (dt))")
    return folder


def engine_over(root: Path) -> LocalEngine:
    """Every processed table (its Parquet under root, or empty) and the metric views."""
    engine = LocalEngine(threads=1)
    for schema in processed_tables().values():
        engine.add_table(schema.name, schema.columns, root / schema.name, schema.partition_keys)
    engine.add_views(load_views())
    return engine
