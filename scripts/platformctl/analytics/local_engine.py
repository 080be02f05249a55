"""The local query engine: DuckDB over Parquet folders laid out as the lake's processed zone, with the
catalog's columns and the metric views, answering Athena (Trino) SQL translated by sqlglot.

A table is registered as a DuckDB view over ``<folder>/**/*.parquet`` with hive partitioning (``dt`` stays
text, as the catalog declares it) that selects exactly the catalog's columns, cast to the catalog's types,
a column missing from the files reading as null - what Athena shows. A table without files is an empty
table of those columns, so the views still resolve. Files whose names start with ``_`` or ``.`` are
skipped, as Athena skips them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb

from platformctl.analytics.output import Result
from platformctl.analytics.schemas import ColumnSpec
from platformctl.analytics.types import hive_to_duckdb
from platformctl.analytics.views import View, to_duckdb
from platformctl.errors import UserError


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def parquet_files(folder: Path) -> list[Path]:
    """The Parquet files under a table's folder that Athena would read."""
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.rglob("*.parquet")
        if not any(part.startswith(("_", ".")) for part in path.relative_to(folder).parts)
    )


class LocalEngine:
    def __init__(self, *, threads: int | None = None) -> None:
        self.connection = duckdb.connect(":memory:")
        if threads:
            self.connection.execute(f"SET threads = {int(threads)}")
        self.tables: dict[str, tuple[ColumnSpec, ...]] = {}

    def add_table(
        self, name: str, columns: Sequence[ColumnSpec], folder: Path | None = None, partition_keys: Iterable[str] = ()
    ) -> None:
        """Register a catalog table: its Parquet under ``folder`` (hive-partitioned), or empty."""
        files = parquet_files(folder) if folder is not None else []
        typed = [(column, hive_to_duckdb(kind)) for column, kind in columns]
        if not files:
            body = ", ".join(f"{_quote(c)} {t}" for c, t in typed)
            self.connection.execute(f"CREATE OR REPLACE TABLE {_quote(name)} ({body})")
        else:
            keys = set(partition_keys)
            hive_types = "{" + ", ".join(f"{_literal(k)}: 'VARCHAR'" for k in sorted(keys)) + "}"
            listing = "[" + ", ".join(_literal(str(f)) for f in files) + "]"
            source = f"read_parquet({listing}, hive_partitioning = true, union_by_name = true" + (
                f", hive_types = {hive_types})" if keys else ")"
            )
            # Identifiers and paths are quoted (_quote, _literal); the catalog's names are not user input.
            described = self.connection.execute(f"DESCRIBE SELECT * FROM {source}")  # noqa: S608
            present = {row[0] for row in described.fetchall()}
            selected = ", ".join(
                f"CAST({_quote(c) if c in present else 'NULL'} AS {t}) AS {_quote(c)}" for c, t in typed
            )
            self.connection.execute(
                f"CREATE OR REPLACE VIEW {_quote(name)} AS SELECT {selected} FROM {source}"  # noqa: S608
            )
        self.tables[name] = tuple(columns)

    def add_views(self, views: Iterable[View]) -> None:
        """The metric views, in dependency order (load_views gives them so)."""
        for view in views:
            try:
                self.connection.execute(f"CREATE OR REPLACE VIEW {_quote(view.name)} AS {view.duckdb_sql}")
            except duckdb.Error as exc:
                raise UserError(f"{view.where}: the local engine refuses the view: {_message(exc)}") from None

    def describe(self, name: str) -> list[tuple[str, str]]:
        """(column, DuckDB type) of a table or view."""
        rows = self.connection.execute(f"DESCRIBE SELECT * FROM {_quote(name)}").fetchall()  # noqa: S608
        return [(str(row[0]), str(row[1])) for row in rows]

    def query(self, sql: str) -> Result:
        """Run Athena (Trino) SQL; a UserError for SQL the engine rejects (an unknown table, say)."""
        translated = to_duckdb(sql)
        try:
            cursor = self.connection.execute(translated)
            description = cursor.description or []
            rows = cursor.fetchall()
        except duckdb.CatalogException as exc:
            raise UserError(f"unknown table, view or function: {_message(exc)}") from None
        except duckdb.Error as exc:
            raise UserError(f"the query failed: {_message(exc)}") from None
        return Result([str(d[0]) for d in description], [tuple(row) for row in rows])


def _message(exc: Exception) -> str:
    return " ".join(str(exc).split())
