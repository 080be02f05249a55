"""``platformctl query`` on AWS: the query starts in the workgroup and database given, progress and the bytes
scanned go to stderr, every page of results is read (the header row once), and cells are typed from the
result metadata; a failed query is an error with Athena's reason. Athena is a botocore Stubber here."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from platformctl.analytics.athena import run_query
from platformctl.errors import UserError

COLUMNS = [{"Name": "day", "Type": "date"}, {"Name": "orders", "Type": "bigint"}, {"Name": "net", "Type": "decimal"}]


def _row(*cells: str | None) -> dict[str, Any]:
    return {"Data": [{} if c is None else {"VarCharValue": c} for c in cells]}


def _execution(state: str, scanned: int, reason: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"State": state}
    if reason:
        status["StateChangeReason"] = reason
    return {
        "QueryExecution": {"QueryExecutionId": "q-1", "Status": status, "Statistics": {"DataScannedInBytes": scanned}}
    }


def _client() -> tuple[Any, Stubber]:
    athena = boto3.client("athena", region_name="us-east-1")
    return athena, Stubber(athena)


def test_a_query_runs_in_the_workgroup_and_reads_every_page() -> None:
    athena, stub = _client()
    stub.add_response(
        "start_query_execution",
        {"QueryExecutionId": "q-1"},
        {
            "QueryString": "SELECT 1",
            "WorkGroup": "acme-prod-analytics",
            "QueryExecutionContext": {"Catalog": "AwsDataCatalog", "Database": "acme_prod_processed"},
        },
    )
    stub.add_response("get_query_execution", _execution("RUNNING", 0), {"QueryExecutionId": "q-1"})
    stub.add_response("get_query_execution", _execution("SUCCEEDED", 2_500_000), {"QueryExecutionId": "q-1"})
    metadata = {"ColumnInfo": [{**c, "Nullable": "UNKNOWN"} for c in COLUMNS]}
    stub.add_response(
        "get_query_results",
        {
            "ResultSet": {
                "ResultSetMetadata": metadata,
                "Rows": [_row("day", "orders", "net"), _row("2026-03-01", "2", "130.2500")],
            },
            "NextToken": "page-2",
        },
        {"QueryExecutionId": "q-1"},
    )
    stub.add_response(
        "get_query_results",
        {"ResultSet": {"ResultSetMetadata": metadata, "Rows": [_row("2026-03-02", "1", None)]}},
        {"QueryExecutionId": "q-1", "NextToken": "page-2"},
    )
    progress = io.StringIO()
    ticks = iter(range(100))
    with stub:
        result = run_query(
            athena,
            "SELECT 1",
            workgroup="acme-prod-analytics",
            database="acme_prod_processed",
            progress=progress,
            sleep=lambda _: None,
            clock=lambda: float(next(ticks)),
        )
    stub.assert_no_pending_responses()
    assert result.columns == ["day", "orders", "net"]
    assert result.rows == [(date(2026, 3, 1), 2, Decimal("130.2500")), (date(2026, 3, 2), 1, None)]
    assert "running" in progress.getvalue()
    assert "succeeded" in progress.getvalue()
    assert "2.5 MB scanned (2500000 bytes)" in result.notes[0]


def test_a_failed_query_is_an_error_with_athenas_reason() -> None:
    athena, stub = _client()
    stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    stub.add_response(
        "get_query_execution",
        _execution("FAILED", 0, "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.db.nope' does not exist"),
    )
    with stub, pytest.raises(UserError, match="TABLE_NOT_FOUND"):
        run_query(
            athena, "SELECT * FROM nope", workgroup="w", database="d", progress=io.StringIO(), sleep=lambda _: None
        )
