"""``platformctl query``'s formats: a JSON array of row objects, CSV, an aligned table - the same rendering
whichever engine answered."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

from platformctl.analytics.output import Result, render

RESULT = Result(
    ["day", "currency", "orders", "net", "aov", "at", "tags", "ok"],
    [
        (
            date(2026, 3, 1),
            "USD",
            2,
            Decimal("130.2500"),
            75.25,
            datetime(2026, 3, 1, 23, 59, 59, 123456),
            ["a", "b"],
            True,
        ),
        (date(2026, 3, 2), None, 10, Decimal("-0.5000"), None, None, [], False),
    ],
)


def test_json_is_an_array_of_row_objects_with_exact_decimals() -> None:
    assert json.loads(render(RESULT, "json")) == [
        {
            "day": "2026-03-01",
            "currency": "USD",
            "orders": 2,
            "net": "130.2500",
            "aov": 75.25,
            "at": "2026-03-01 23:59:59.123",
            "tags": ["a", "b"],
            "ok": True,
        },
        {
            "day": "2026-03-02",
            "currency": None,
            "orders": 10,
            "net": "-0.5000",
            "aov": None,
            "at": None,
            "tags": [],
            "ok": False,
        },
    ]


def test_an_empty_result_is_an_empty_array() -> None:
    assert json.loads(render(Result(["a"], []), "json")) == []


def test_csv_has_a_header_and_empty_nulls() -> None:
    assert render(RESULT, "csv").splitlines() == [
        "day,currency,orders,net,aov,at,tags,ok",
        '2026-03-01,USD,2,130.2500,75.25,2026-03-01 23:59:59.123,"[""a"",""b""]",true',
        "2026-03-02,,10,-0.5000,,,[],false",
    ]


def test_the_table_aligns_numbers_right_and_counts_rows() -> None:
    lines = render(RESULT, "table").splitlines()
    assert lines[0].split() == RESULT.columns
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split()[:4] == ["2026-03-01", "USD", "2", "130.2500"]
    assert lines[3].split()[:4] == ["2026-03-02", "NULL", "10", "-0.5000"]
    orders = lines[0].index("orders") + len("orders")
    assert lines[2][orders - 1] == "2"
    assert lines[3][orders - 2 : orders] == "10"
    assert lines[-1] == "(2 rows)"
