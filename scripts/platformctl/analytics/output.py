"""A query's result and its three output formats: an aligned table, CSV, or a JSON array of row objects.

Values are rendered the same way whichever engine produced them: decimals as their exact digits (a JSON
string, so no float rounding), dates ``YYYY-MM-DD``, timestamps ``YYYY-MM-DD HH:MM:SS.fff`` (Athena's
millisecond precision), arrays as JSON arrays, nulls as JSON null (empty in CSV, ``NULL`` in the table).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

FORMATS = ("table", "json", "csv")


@dataclass
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    notes: list[str] = field(default_factory=list)  # what ran where, for stderr

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def json_value(value: Any) -> Any:
    """A value as JSON would carry it, exactly and the same way on every run."""
    rendered = value
    if isinstance(value, Decimal):
        rendered = format(value, "f")
    elif isinstance(value, datetime):
        rendered = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    elif isinstance(value, date):
        rendered = value.isoformat()
    elif isinstance(value, float) and not math.isfinite(value):
        rendered = str(value)
    elif isinstance(value, (list, tuple)):
        rendered = [json_value(v) for v in value]
    elif isinstance(value, dict):
        rendered = {str(k): json_value(v) for k, v in value.items()}
    elif isinstance(value, (bytes, bytearray)):
        rendered = value.hex()
    return rendered


def text_value(value: Any) -> str:
    rendered = json_value(value)
    if rendered is None:
        return ""
    if isinstance(rendered, bool):
        return "true" if rendered else "false"
    if isinstance(rendered, (list, dict)):
        return json.dumps(rendered, separators=(",", ":"))
    return str(rendered)


def to_json(result: Result) -> str:
    return json.dumps(
        [{k: json_value(v) for k, v in record.items()} for record in result.records()], indent=2, allow_nan=False
    )


def to_csv(result: Result) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([text_value(v) for v in row])
    return buffer.getvalue().rstrip("\n")


def to_table(result: Result) -> str:
    cells: list[Sequence[str]] = [result.columns]
    cells += [[("NULL" if v is None else text_value(v)) for v in row] for row in result.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(result.columns))]
    numeric = [
        all(
            isinstance(row[i], (int, float, Decimal)) and not isinstance(row[i], bool)
            for row in result.rows
            if row[i] is not None
        )
        for i in range(len(result.columns))
    ]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            (cell.rjust(widths[i]) if numeric[i] and row is not cells[0] else cell.ljust(widths[i]))
            for i, cell in enumerate(row)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    body = [line(cells[0]), rule, *(line(row) for row in cells[1:])]
    count = len(result.rows)
    body.append(f"({count} row{'s' if count != 1 else ''})")
    return "\n".join(body)


def render(result: Result, output_format: str) -> str:
    return {"json": to_json, "csv": to_csv, "table": to_table}[output_format](result)
