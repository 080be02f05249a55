"""Demo step: the metric views over what the demo put in the lake, through ``platformctl query --env local``.

Each view of infrastructure/analytics/views/ runs with the same code as ``platformctl query --env local``
(the local engine over the emulated Glue catalog's processed tables and their Parquet in the emulated S3)
and its rows go in the report. daily_sales must show the orders the Glue step wrote; a view whose curated
input no demo step fills is shown empty.
"""

from __future__ import annotations

from typing import Any

from platformctl.analytics.output import text_value
from platformctl.analytics.views import load_views
from platformctl.commands.query import run
from platformctl.errors import UserError
from platformctl.scenarios.report import Report

ORDER = 99
SHOWN = 12  # rows of each view in the report: the newest first


def step(cloud: Any, report: Report) -> None:
    report.section("Metric views (platformctl query --env local: the local engine over the emulated lake)")
    for view in load_views():
        try:  # every view leads with its period, then a currency or a month count
            result = run(cloud.target, f"SELECT * FROM {view.name} ORDER BY 1 DESC, 2")  # noqa: S608 - a file's name
        except UserError as exc:
            report.expect(False, f"{view.name} did not run: {exc}")
            continue
        report.line(
            f"{view.name}: {len(result.rows)} rows" + (f" (the newest {SHOWN})" if len(result.rows) > SHOWN else "")
        )
        if result.rows:
            report.table(result.columns, [[text_value(v) for v in row] for row in result.rows[:SHOWN]])
        if view.name == "daily_sales":
            report.expect(bool(result.rows), "daily_sales has no row: the demo's orders did not reach the view")
