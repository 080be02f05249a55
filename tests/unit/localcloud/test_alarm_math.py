"""Statistics, metric math and the alarm decision, against CloudWatch's documented semantics."""

from __future__ import annotations

import math

import pytest

from platformctl.localcloud.alarm_math import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    AlarmMathError,
    Point,
    breaches,
    decide,
    evaluate_expression,
    statistic,
)

POINTS = [Point.of_values(0, [1.0]), Point.of_values(1, [5.0, 2.0]), Point(2, 10.0, 4.0, 0.5, 4.0)]


@pytest.mark.parametrize(
    ("stat", "expected"),
    [
        ("Sum", 18.0),
        ("SampleCount", 7.0),
        ("Average", 18.0 / 7.0),
        ("Minimum", 0.5),
        ("Maximum", 5.0),
        ("p50", 2.0),  # raw values 1, 2, 5 (a statistic set has none): nearest rank 2
        ("p99", 5.0),
        ("p0.5", 1.0),
    ],
)
def test_statistics_of_one_period(stat: str, expected: float) -> None:
    assert statistic(POINTS, stat) == pytest.approx(expected)


def test_a_period_without_datapoints_has_no_statistic() -> None:
    assert statistic([], "Sum") is None
    assert statistic([Point(0, 3.0, 2.0, 1.0, 2.0)], "p90") is None  # only a statistic set: no percentile


def test_an_unknown_statistic_is_refused() -> None:
    with pytest.raises(AlarmMathError):
        statistic(POINTS, "tm99")


# The templates' expressions, evaluated over three periods (0, 1, 2); a missing period is absent.
PERIODS = [0, 1, 2]


@pytest.mark.parametrize(
    ("expression", "series", "expected"),
    [
        # privacy-requests-errors
        ("FILL(errors, 0) - FILL(busy, 0)", {"errors": {1: 3.0}, "busy": {1: 1.0, 2: 1.0}}, {0: 0.0, 1: 2.0, 2: -1.0}),
        # shopify bulk-workflow-failed
        (
            "FILL(failed, 0) + FILL(timedout, 0) + FILL(aborted, 0)",
            {"failed": {2: 1.0}, "timedout": {}, "aborted": {0: 2.0}},
            {0: 2.0, 1: 0.0, 2: 1.0},
        ),
        # recharge-webhook-signature-failures
        (
            "IF(FILL(rejected, 0) >= 5, 100 * FILL(rejected, 0) / (FILL(rejected, 0) + FILL(accepted, 0)), 0)",
            {"rejected": {0: 4.0, 1: 5.0}, "accepted": {1: 15.0, 2: 9.0}},
            {0: 0.0, 1: 25.0, 2: 0.0},
        ),
        # recharge-webhook-4xx
        (
            "IF(FILL(errors, 0) >= 50, 100 * FILL(errors, 0) / MAX([FILL(requests, 0), FILL(errors, 0)]), 0)",
            {"errors": {0: 60.0}, "requests": {0: 50.0, 1: 10.0}},
            {0: 100.0, 1: 0.0, 2: 0.0},
        ),
        # recharge-webhook-429
        (
            "MAX([FILL(errors, 0) - FILL(answered, 0), 0])",
            {"errors": {0: 7.0, 1: 1.0}, "answered": {1: 3.0}},
            {0: 7.0, 1: 0.0, 2: 0.0},
        ),
        # <table>-table-throttled: SUM over an array keeps a period any series has
        ("SUM([a, b, c])", {"a": {0: 1.0}, "b": {0: 2.0, 2: 4.0}, "c": {}}, {0: 3.0, 2: 4.0}),
        # between two series only the periods both have
        ("a / b", {"a": {0: 1.0, 1: 4.0, 2: 1.0}, "b": {1: 2.0, 2: 0.0}}, {1: 2.0}),
        ("FILL(a, REPEAT)", {"a": {1: 7.0}}, {1: 7.0, 2: 7.0}),
        ("ABS(-a) * 2 ^ 2", {"a": {0: -1.5}}, {0: 6.0}),
        ("a > 1 AND b < 1 || 0", {"a": {0: 2.0, 1: 2.0}, "b": {0: 0.0, 1: 3.0}}, {0: 1.0, 1: 0.0}),
        ("SUM(a) + 1", {"a": {0: 1.0, 2: 2.0}}, {0: 4.0, 1: 4.0, 2: 4.0}),
        ("IF(a, 1)", {"a": {0: 0.0, 1: 2.0}}, {1: 1.0}),
    ],
)
def test_metric_math(expression: str, series: dict[str, dict[int, float]], expected: dict[int, float]) -> None:
    assert evaluate_expression(expression, series, PERIODS) == pytest.approx(expected)


@pytest.mark.parametrize(
    "expression",
    ["ANOMALY_DETECTION_BAND(a, 2)", "a +", "unknown + 1", "[a, b] + 1", "SUM([a], [b])", "FILL(a)", "a $ b"],
)
def test_what_the_evaluator_cannot_compute_is_refused(expression: str) -> None:
    with pytest.raises(AlarmMathError):
        evaluate_expression(expression, {"a": {0: 1.0}, "b": {0: 2.0}}, PERIODS)


@pytest.mark.parametrize(
    ("comparison", "value", "expected"),
    [
        ("GreaterThanThreshold", 1.0, False),
        ("GreaterThanThreshold", 1.5, True),
        ("GreaterThanOrEqualToThreshold", 1.0, True),
        ("LessThanThreshold", 1.0, False),
        ("LessThanThreshold", 0.5, True),
        ("LessThanOrEqualToThreshold", 1.0, True),
    ],
)
def test_comparisons_take_the_value_as_first_operand(comparison: str, value: float, expected: bool) -> None:
    assert breaches(value, 1.0, comparison) is expected


B, N, X = 2.0, 0.0, None  # breaching, not breaching, missing (threshold 1, GreaterThanOrEqualToThreshold)


@pytest.mark.parametrize(
    ("values", "m", "treat", "expected"),
    [
        # every value present: M of N
        ([B, B, B], 3, "missing", ALARM),
        ([N, B, B], 3, "missing", OK),
        ([N, B, B], 2, "missing", ALARM),
        # the user guide's table (3 of 3): all missing
        ([X, X, X], 3, "missing", INSUFFICIENT_DATA),
        ([X, X, X], 3, None, INSUFFICIENT_DATA),  # missing is the default
        ([X, X, X], 3, "ignore", None),  # the current state is kept
        ([X, X, X], 3, "breaching", ALARM),
        ([X, X, X], 3, "notBreaching", OK),
        # some missing
        ([N, X, X], 3, "missing", OK),
        ([N, X, X], 3, "ignore", OK),
        ([N, X, X], 3, "breaching", OK),
        ([N, X, X], 3, "notBreaching", OK),
        ([B, X, B], 2, "missing", ALARM),
        ([B, X, X], 3, "breaching", ALARM),
        ([B, X, X], 3, "notBreaching", OK),
        # a stale alarm (LessThan 1 with breaching) with one run in two periods
        ([X, 1.0], 2, "breaching", OK),
    ],
)
def test_decision(values: list[float | None], m: int, treat: str | None, expected: str | None) -> None:
    comparison = "LessThanThreshold" if values == [X, 1.0] else "GreaterThanOrEqualToThreshold"
    decision = decide(values, 1.0, comparison, m, treat)
    assert decision.state == expected


def test_the_decision_says_which_periods_breached_and_how_many_missing_were_treated() -> None:
    decision = decide([B, X, N, B], 1.0, "GreaterThanOrEqualToThreshold", 3, "breaching")
    assert (decision.state, decision.breaching, decision.present, decision.treated_missing) == (
        ALARM,
        (0, 1, 3),
        (0, 2, 3),
        1,
    )


def test_nan_never_comes_out_of_a_series() -> None:
    assert all(not math.isnan(v) for v in evaluate_expression("a / b", {"a": {0: 0.0}, "b": {0: 0.0}}, [0]).values())
