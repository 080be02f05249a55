"""The Triple Whale raw table (glue-catalog.yaml): partition projection over the keys the function writes,
and columns that read the summary pages Triple Whale sends.

The keys come from the function's own ``store.summary_key``; the pages from the local
simulator and, when present, Triple Whale's published sample (``../shared/fixtures/real/triplewhale/``).
Each page is read against the table's column type the way the JSON SerDe maps JSON onto Hive types.
"""

from __future__ import annotations

import importlib.util
import json
import re
from datetime import date
from types import ModuleType
from typing import Any

import pytest

from platformctl.manifest import REPO_ROOT
from platformctl.simulators.triplewhale import summary_page
from tests.templates import iam_fixtures as iam

TABLE = "TripleWhaleSummaryPageTable"
SAMPLE = REPO_ROOT.parent / "shared" / "fixtures" / "real" / "triplewhale" / "summary_page__tw-public-apis.json"


def _store() -> ModuleType:
    path = REPO_ROOT / "lambdas" / "triplewhale" / "summary" / "store.py"
    spec = importlib.util.spec_from_file_location("triplewhale_store_for_catalog", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table() -> dict[str, Any]:
    resolver = iam.resolvers()["shared/glue-catalog"]
    assert resolver.exists(TABLE)
    return resolver.properties(TABLE)


def _bucket() -> str:
    return iam.output(iam.resolvers()["shared/data-lake"], "DataLakeBucketName")


# ------------------------------------------------------------------------------------ the keys


def test_the_table_is_in_the_raw_database_over_the_functions_prefix() -> None:
    table = _table()
    raw = iam.output(iam.resolvers()["shared/glue-catalog"], "RawDatabaseName")
    assert table["DatabaseName"] == raw
    assert table["TableInput"]["Name"] == "triplewhale_summary_page"
    prefix = _store().RAW_PREFIX
    assert table["TableInput"]["StorageDescriptor"]["Location"] == f"s3://{_bucket()}/{prefix}"


@pytest.mark.parametrize("day", [date(2015, 1, 1), date(2025, 3, 9), date(2028, 2, 29)])
def test_projection_finds_the_object_the_function_writes_for_a_day(day: date) -> None:
    parameters = _table()["TableInput"]["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.dt.type"] == "date"
    assert (parameters["projection.dt.interval"], parameters["projection.dt.interval.unit"]) == ("1", "DAYS")
    # Java's yyyy-MM-dd, as the key writes the day (date.isoformat)
    assert parameters["projection.dt.format"] == "yyyy-MM-dd"
    key = _store().summary_key(day, "acme.myshopify.com")
    folder = parameters["storage.location.template"].replace("${dt}", day.strftime("%Y-%m-%d"))
    assert f"s3://{_bucket()}/{key}" == f"{folder}acme.myshopify.com.json"
    start, end = parameters["projection.dt.range"].split(",")
    assert date.fromisoformat(start) <= day
    assert end == "NOW+1DAYS", "a shop east of UTC is on tomorrow already: its today must be queryable"


def test_dt_is_the_only_partition_and_nothing_crawls_the_prefix() -> None:
    table = _table()
    assert [k["Name"] for k in table["TableInput"]["PartitionKeys"]] == ["dt"]
    resolver = iam.resolvers()["shared/glue-catalog"]
    crawled = [
        str(target["Path"])
        for logical_id, body in resolver.resources.items()
        if body["Type"] == "AWS::Glue::Crawler"
        for target in resolver.properties(logical_id)["Targets"]["S3Targets"]
    ]
    assert crawled, "no crawler found: this test no longer sees the catalog"
    assert [path for path in crawled if "/raw/triplewhale" in path] == []


# --------------------------------------------------------------------------------- the columns


def _parse_type(text: str) -> Any:
    """A Hive type string as nested tuples: ("array", t), ("struct", {name: t}), or a primitive's name."""
    tokens = re.findall(r"[A-Za-z_][A-Za-z0-9_]*|[<>,:]", text)
    position = 0

    def take() -> str:
        nonlocal position
        token: str = tokens[position]
        position += 1
        return token

    def parse() -> Any:
        name = take().lower()
        if name == "array":
            assert take() == "<"
            element = parse()
            assert take() == ">"
            return ("array", element)
        if name == "struct":
            assert take() == "<"
            fields: dict[str, Any] = {}
            while True:
                field = take()
                assert take() == ":"
                fields[field] = parse()
                separator = take()
                if separator == ">":
                    return ("struct", fields)
                assert separator == ","
        return name

    parsed = parse()
    assert position == len(tokens), f"trailing tokens in {text}"
    return parsed


def _read(value: Any, hive: Any, where: str) -> list[str]:
    """What the JSON SerDe could not map (case-insensitive keys; null fits every type; a number fits a
    string column; a float does not fit an int)."""
    if value is None:
        return []
    if isinstance(hive, tuple) and hive[0] == "array":
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__} for an array"]
        return [problem for i, item in enumerate(value) for problem in _read(item, hive[1], f"{where}[{i}]")]
    if isinstance(hive, tuple) and hive[0] == "struct":
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} for a struct"]
        by_lower = {str(k).lower(): v for k, v in value.items()}
        return [p for name, t in hive[1].items() for p in _read(by_lower.get(name), t, f"{where}.{name}")]
    fits = {
        "string": (str, int, float, bool),
        "double": (int, float),
        "int": (int,),
        "bigint": (int,),
        "boolean": (bool,),
    }[hive]
    if isinstance(value, bool) and hive in {"double", "int", "bigint"}:
        return [f"{where}: a boolean for {hive}"]
    return [] if isinstance(value, fits) else [f"{where}: {type(value).__name__} {value!r} for {hive}"]


def _columns() -> dict[str, Any]:
    return {c["Name"]: _parse_type(c["Type"]) for c in _table()["TableInput"]["StorageDescriptor"]["Columns"]}


def _pages() -> list[tuple[str, dict[str, Any]]]:
    pages = [("simulator", summary_page("acme.myshopify.com", date(2025, 3, 9), date(2025, 3, 9), seed=7))]
    if SAMPLE.exists():
        pages.append(("published sample", json.loads(SAMPLE.read_text(encoding="utf-8"))))
    return pages


@pytest.mark.parametrize(("origin", "page"), _pages(), ids=lambda value: value if isinstance(value, str) else "")
def test_every_summary_page_reads_into_the_columns(origin: str, page: dict[str, Any]) -> None:
    columns = _columns()
    assert set(columns) == {"metrics"}
    assert page["metrics"], f"{origin}: no metric to read"
    problems = [p for name, hive in columns.items() for p in _read(page.get(name), hive, name)]
    assert problems == [], f"{origin}: the table cannot read: {problems[:5]}"
    metric = columns["metrics"][1][1]
    keys = {str(k).lower() for m in page["metrics"] for k in m}
    assert {"id", "metricid", "title", "values", "charts"} <= set(metric) & keys


def test_the_reader_refuses_what_the_serde_would_refuse() -> None:
    """The check above can fail: a shape the columns do not describe is reported."""
    metrics = _columns()["metrics"]
    assert _read([{"values": {"current": 1.5}, "charts": {"current": [{"x": 1.5, "y": 2}]}}], metrics, "m") == [
        "m[0].charts.current[0].x: float 1.5 for int"
    ]
    assert _read({"id": "sales"}, metrics, "m") == ["m: dict for an array"]


def test_a_malformed_day_fails_the_query_instead_of_vanishing() -> None:
    serde = _table()["TableInput"]["StorageDescriptor"]["SerdeInfo"]
    assert serde["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert serde["Parameters"]["ignore.malformed.json"] == "false"


def test_the_table_doc_names_the_query_shape() -> None:
    doc = (REPO_ROOT / "docs" / "triplewhale.md").read_text(encoding="utf-8")
    assert "triplewhale_summary_page" in doc
    assert "projection" in doc
