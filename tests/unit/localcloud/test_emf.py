"""Embedded metric format lines become datapoints as CloudWatch Logs extracts them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from platformctl.localcloud.emf import MAX_VALUES, Datum, LineSplitter, parse_line

NOW = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
STAMP = int(datetime(2031, 3, 4, 5, 0, 0, tzinfo=UTC).timestamp() * 1000)


def _document(**root: Any) -> dict[str, Any]:
    directive = {"Namespace": "acme/Recharge", "Dimensions": [["service"]], "Metrics": [{"Name": "Quarantined"}]}
    return {"_aws": {"Timestamp": STAMP, "CloudWatchMetrics": [directive]}, "service": "recharge-webhook", **root}


def test_powertools_flushed_metrics_become_one_datum_per_metric_and_dimension_set() -> None:
    metrics = Metrics(namespace="acme/Recharge", service="recharge-webhook")
    metrics.add_metric(name="Quarantined", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Quarantined", unit=MetricUnit.Count, value=2)
    metrics.add_metric(name="SignatureAccepted", unit=MetricUnit.Count, value=1)
    line = json.dumps(metrics.serialize_metric_set())
    found = sorted(parse_line(line.encode(), NOW), key=lambda d: d.name)
    assert [(d.namespace, d.name, d.dimensions, d.values, d.unit) for d in found] == [
        ("acme/Recharge", "Quarantined", (("service", "recharge-webhook"),), (1.0, 2.0), "Count"),
        ("acme/Recharge", "SignatureAccepted", (("service", "recharge-webhook"),), (1.0,), "Count"),
    ]


def test_the_timestamp_comes_from_the_document_else_from_ingestion() -> None:
    assert parse_line(json.dumps(_document(Quarantined=1)), NOW)[0].timestamp == datetime(2031, 3, 4, 5, tzinfo=UTC)
    document = _document(Quarantined=1)
    del document["_aws"]["Timestamp"]
    assert parse_line(json.dumps(document), NOW)[0].timestamp == NOW


def test_every_dimension_set_is_its_own_metric_and_an_empty_set_means_no_dimensions() -> None:
    document = _document(Quarantined=3, topic="orders/create")
    document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = [["service"], ["service", "topic"], []]
    found = parse_line(json.dumps(document), NOW)
    assert [d.dimensions for d in found] == [
        (("service", "recharge-webhook"),),
        (("service", "recharge-webhook"), ("topic", "orders/create")),
        (),
    ]
    document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = [[]]
    assert parse_line(json.dumps(document), NOW)[0].dimensions == ()
    # no set at all breaks the specification's schema (Dimensions: minItems 1): CloudWatch extracts nothing
    document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = []
    assert parse_line(json.dumps(document), NOW) == []


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda d: d.pop("service"), "a dimension names no member"),
        (lambda d: d.update(service=7), "a dimension value is not a string"),
        (lambda d: d.update(Quarantined="1"), "a value is not a number"),
        (lambda d: d.update(Quarantined=[1, None]), "a value in the list is not a number"),
        (lambda d: d.update(Quarantined=list(range(MAX_VALUES + 1))), "more than 100 values"),
        (lambda d: d.update(Quarantined=True), "a boolean is not a number"),
        (lambda d: d.pop("Quarantined"), "the metric has no value"),
        (lambda d: d["_aws"].pop("CloudWatchMetrics"), "no metric directives"),
        (lambda d: d["_aws"]["CloudWatchMetrics"][0].pop("Namespace"), "no namespace"),
    ],
)
def test_a_document_that_breaks_the_specification_yields_nothing(change: Any, why: str) -> None:
    document = _document(Quarantined=1)
    change(document)
    assert parse_line(json.dumps(document), NOW) == [], why


@pytest.mark.parametrize(
    "line",
    [
        '{"level": "INFO", "message": "order stored", "correlation_id": "1"}',
        "Traceback (most recent call last):",
        '{"_aws": "broken',
        "[1, 2, 3]",
        '"_aws"',
    ],
)
def test_ordinary_log_lines_are_no_metrics(line: str) -> None:
    assert parse_line(line, NOW) == []


def test_lines_are_cut_across_chunks_and_an_overlong_line_is_dropped_whole() -> None:
    splitter = LineSplitter(limit=10)
    assert splitter.feed(b"abc") == []
    assert splitter.feed(b"def\nxy") == [b"abcdef"]
    assert splitter.feed(b"z\n0123456789") == [b"xyz"]
    assert splitter.feed(b"0123\nok\n") == [b"ok"]  # the 14-byte line is gone, the next one is kept
    assert splitter.feed(b"") == []


def test_datum_values_keep_their_order() -> None:
    found = parse_line(json.dumps(_document(Quarantined=[3, 1, 2])), NOW)
    assert found == [
        Datum(
            "acme/Recharge",
            "Quarantined",
            (("service", "recharge-webhook"),),
            (3.0, 1.0, 2.0),
            None,
            found[0].timestamp,
        )
    ]
