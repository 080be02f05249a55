"""Column types across the three systems a table or view passes through: the Glue catalog (Hive type names),
the local engine (DuckDB) and Athena engine 3 (Trino type names, which a Presto view's JSON carries)."""

from __future__ import annotations

import re

from platformctl.errors import UserError

_HIVE_SCALARS = {
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "char": "VARCHAR",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "binary": "BLOB",
}
# DuckDB type -> (Trino type, Hive type). Timestamps: Athena reads Parquet timestamps at millisecond
# precision, timestamp(3), which the catalog calls timestamp.
_DUCKDB_SCALARS = {
    "VARCHAR": ("varchar", "string"),
    "TINYINT": ("tinyint", "tinyint"),
    "SMALLINT": ("smallint", "smallint"),
    "INTEGER": ("integer", "int"),
    "BIGINT": ("bigint", "bigint"),
    "FLOAT": ("real", "float"),
    "DOUBLE": ("double", "double"),
    "BOOLEAN": ("boolean", "boolean"),
    "DATE": ("date", "date"),
    "TIMESTAMP": ("timestamp(3)", "timestamp"),
    "BLOB": ("varbinary", "binary"),
}
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$", re.IGNORECASE)


def _split_top(text: str) -> list[str]:
    """``a:int,b:array<x,y>`` -> [``a:int``, ``b:array<x,y>``]: commas outside brackets."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def hive_to_duckdb(hive: str) -> str:
    """A catalog (Hive) column type as a DuckDB type: ``array<string>`` -> ``VARCHAR[]``."""
    text = hive.strip()
    lower = text.lower()
    if lower in _HIVE_SCALARS:
        return _HIVE_SCALARS[lower]
    if lower.startswith(("varchar(", "char(")):
        return "VARCHAR"
    decimal = _DECIMAL.match(text)
    if decimal:
        return f"DECIMAL({decimal.group(1)},{decimal.group(2)})"
    if lower.startswith("array<") and lower.endswith(">"):
        return f"{hive_to_duckdb(text[6:-1])}[]"
    if lower.startswith("map<") and lower.endswith(">"):
        key, value = _split_top(text[4:-1])
        return f"MAP({hive_to_duckdb(key)}, {hive_to_duckdb(value)})"
    if lower.startswith("struct<") and lower.endswith(">"):
        fields = [field.split(":", 1) for field in _split_top(text[7:-1])]
        return "STRUCT(" + ", ".join(f'"{name.strip()}" {hive_to_duckdb(kind)}' for name, kind in fields) + ")"
    raise UserError(f"catalog column type {hive!r} has no DuckDB equivalent known here")


def duckdb_to_catalog(duckdb_type: str, where: str) -> tuple[str, str]:
    """A DuckDB result type as (Trino type, Hive type); a UserError naming ``where`` for a type Athena would
    not give the same column (HUGEINT from sum(int), say: cast it in the view)."""
    text = duckdb_type.strip().upper()
    if text in _DUCKDB_SCALARS:
        return _DUCKDB_SCALARS[text]
    decimal = _DECIMAL.match(text)
    if decimal:
        kind = f"decimal({decimal.group(1)},{decimal.group(2)})"
        return kind, kind
    if text.endswith("[]"):
        trino, hive = duckdb_to_catalog(text[:-2], where)
        return f"array({trino})", f"array<{hive}>"
    raise UserError(
        f"{where}: the local engine types it {duckdb_type}, which has no Athena equivalent here: "
        "CAST it in the view (bigint, integer, double, decimal(p,s), varchar, date, timestamp, boolean)"
    )
