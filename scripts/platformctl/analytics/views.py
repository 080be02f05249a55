"""The metric views: one Athena (Trino) SQL file each in infrastructure/analytics/views/, the one definition
both engines run - Athena as written (the catalog template carries it), the local engine translated to
DuckDB by sqlglot."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import sqlglot
import sqlglot.errors
from sqlglot import exp

from platformctl.errors import UserError
from platformctl.manifest import REPO_ROOT

VIEWS_DIR = REPO_ROOT / "infrastructure" / "analytics" / "views"


def parse_trino(sql: str, where: str) -> exp.Expr:
    try:
        statements = [s for s in sqlglot.parse(sql, read="trino") if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise UserError(f"{where}: not valid Athena (Trino) SQL: {exc}") from None
    if len(statements) != 1:
        raise UserError(f"{where}: expected one SQL statement, found {len(statements)}")
    return statements[0]


def to_duckdb(sql: str, where: str = "the query") -> str:
    """Athena (Trino) SQL as the local engine's (DuckDB) SQL."""
    try:
        return parse_trino(sql, where).sql(dialect="duckdb")
    except sqlglot.errors.SqlglotError as exc:
        raise UserError(f"{where}: cannot translate it for the local engine: {exc}") from None


def referenced_tables(sql: str, where: str) -> set[str]:
    """Unqualified names of the tables and views a statement reads (its own CTEs left out)."""
    tree = parse_trino(sql, where)
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table) if t.name and t.name not in ctes}


@dataclass(frozen=True)
class View:
    name: str
    path: Path
    sql: str  # the file's statement as written (comments kept), without a final semicolon

    @property
    def where(self) -> str:
        return str(self.path.relative_to(REPO_ROOT) if self.path.is_relative_to(REPO_ROOT) else self.path)

    @cached_property
    def description(self) -> str:
        """The file's opening comment, up to its first empty comment line, as one line."""
        lines = []
        for line in self.sql.splitlines():
            text = line.strip()
            if not text.startswith("--") or not text[2:].strip():
                break
            lines.append(text[2:].strip())
        return " ".join(lines)

    @cached_property
    def reads(self) -> set[str]:
        return referenced_tables(self.sql, self.where)

    @cached_property
    def duckdb_sql(self) -> str:
        return to_duckdb(self.sql, self.where)


def load_views(folder: Path | None = None) -> list[View]:
    """Every ``<view>.sql`` of the folder, ordered so a view comes after the views it reads."""
    folder = folder or VIEWS_DIR
    found = {}
    for path in sorted(folder.glob("*.sql")):
        sql = path.read_text(encoding="utf-8").strip().rstrip(";").rstrip()
        view = View(path.stem, path, sql)
        if not view.description:
            raise UserError(f"{view.where}: open the file with a comment that defines the view")
        parse_trino(sql, view.where)
        found[view.name] = view
    ordered: list[View] = []
    visiting: set[str] = set()

    def visit(view: View) -> None:
        if view in ordered:
            return
        if view.name in visiting:
            raise UserError(f"{view.where}: the views read each other in a cycle")
        visiting.add(view.name)
        for name in sorted(view.reads & set(found)):
            visit(found[name])
        ordered.append(view)

    for view in found.values():
        visit(view)
    return ordered
