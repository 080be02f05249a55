"""The generated catalog template (infrastructure/analytics/metric-views.yaml): current, and each view in
the Presto view encoding Athena reads - the base64 document decodes to the SQL file and to the columns the
view yields, the same columns the StorageDescriptor lists with Hive types."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from platformctl.analytics import metric_views
from platformctl.analytics.schemas import processed_tables
from platformctl.analytics.views import load_views
from platformctl.errors import UserError
from platformctl.templates import load_template

DATABASE = "acme_prod_processed"


def _resolve(node: Any) -> Any:
    """CloudFormation's Fn::Join, Fn::Base64 and Fn::Sub (of ProcessedDatabaseName and ${!...} escapes)."""
    if isinstance(node, dict) and len(node) == 1:
        [(key, value)] = node.items()
        if key == "Fn::Join":
            separator, parts = value
            return separator.join(_resolve(p) for p in parts)
        if key == "Fn::Base64":
            return base64.b64encode(_resolve(value).encode()).decode()
        if key == "Fn::Sub":
            text = re.sub(r"\$\{ProcessedDatabaseName\}", DATABASE, value)
            assert "${" not in text.replace("${!", ""), "an unknown variable in a Sub"
            return text.replace("${!", "${")
    return node


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(metric_views.OUTPUT_PATH)


def test_the_committed_template_is_current() -> None:
    assert not metric_views.stale(), (
        "infrastructure/analytics/metric-views.yaml is stale: run `platformctl metric-views --write` and commit it"
    )


def test_every_view_is_a_presto_view_of_its_sql_file(template: dict[str, Any]) -> None:
    views = {view.name: view for view in load_views()}
    tables = {body["Properties"]["TableInput"]["Name"]: body for body in template["Resources"].values()}
    assert set(tables) == set(views) == {"daily_sales", "customer_cohorts", "subscription_mrr", "blended_roas"}
    expected_columns = metric_views.view_columns(list(views.values()), processed_tables())
    for name, body in tables.items():
        assert body["Type"] == "AWS::Glue::Table"
        assert body["Properties"]["DatabaseName"] == {"Ref": "ProcessedDatabaseName"}
        table = body["Properties"]["TableInput"]
        assert table["TableType"] == "VIRTUAL_VIEW"
        assert table["Parameters"]["presto_view"] == "true"
        assert table["ViewExpandedText"] == "/* Presto View */"
        text = _resolve(table["ViewOriginalText"])
        assert text.startswith("/* Presto View: ")
        assert text.endswith(" */")
        document = json.loads(base64.b64decode(text[len("/* Presto View: ") : -len(" */")]))
        assert document["originalSql"] == Path(views[name].path).read_text(encoding="utf-8").strip().rstrip(";")
        assert document["catalog"] == "awsdatacatalog"
        assert document["schema"] == DATABASE
        columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        assert [(c["name"], c["type"]) for c in document["columns"]] == [(n, t) for n, t, _ in expected_columns[name]]
        assert columns == [(n, h) for n, _, h in expected_columns[name]]
        assert metric_views.decode_view_text(text) == document


def test_the_column_types_are_athena_types(template: dict[str, Any]) -> None:
    daily = next(b for b in template["Resources"].values() if b["Properties"]["TableInput"]["Name"] == "daily_sales")
    document = json.loads(base64.b64decode(_resolve(daily["Properties"]["TableInput"]["ViewOriginalText"])[16:-3]))
    assert {c["name"]: c["type"] for c in document["columns"]} == {
        "day": "date",
        "currency": "varchar",
        "orders": "bigint",
        "gross_sales": "decimal(38,4)",
        "discounts": "decimal(38,4)",
        "refunds": "decimal(38,4)",
        "net_sales": "decimal(38,4)",
        "average_order_value": "double",
    }


def test_a_view_reading_other_views_deploys_after_them(template: dict[str, Any]) -> None:
    assert template["Resources"]["BlendedRoasView"]["DependsOn"] == ["DailySalesView"]


def test_a_column_athena_would_type_differently_is_refused(tmp_path: Path) -> None:
    # DuckDB's sum of an integer is HUGEINT, Athena's is bigint: the generator asks for a cast.
    (tmp_path / "units.sql").write_text("-- units: a test view\nSELECT sum(refund_count) AS n FROM orders_enriched")
    with pytest.raises(UserError, match="CAST it"):
        metric_views.render(views_dir=tmp_path)


def test_a_view_of_an_unknown_table_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ghost.sql").write_text("-- ghost: a test view\nSELECT * FROM no_such_table")
    with pytest.raises(UserError, match="no_such_table"):
        metric_views.render(views_dir=tmp_path)
