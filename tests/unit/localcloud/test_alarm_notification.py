"""The notification, subject, reasons and history items CloudWatch writes for an alarm's state change."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from platformctl.localcloud.alarm_math import ALARM, INSUFFICIENT_DATA, OK, Decision
from platformctl.localcloud.alarm_notification import (
    Evaluation,
    action_item,
    aws_time,
    notification,
    reason,
    reason_data,
    state_update_item,
    subject,
)

TOPIC = "arn:aws:sns:us-east-1:123456789012:acme-data-platform-alerts"
START = datetime(2031, 3, 4, 5, 6, 0, tzinfo=UTC)
CHANGED = datetime(2031, 3, 4, 5, 7, 37, 811000, tzinfo=UTC)


def _dimension(name: str, value: str) -> Any:
    return SimpleNamespace(name=name, value=value)


def _alarm(**overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "name": "acme-local-shopify-orders-dlq-not-empty",
        "alarm_arn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:acme-local-shopify-orders-dlq-not-empty",
        "description": "Orders DLQ not empty. Runbook: docs/runbooks/shopify-dlq-not-empty.md",
        "configuration_updated_timestamp": datetime(2031, 3, 4, 4, 0, 0, 563000),
        "metric_name": "ApproximateNumberOfMessagesVisible",
        "namespace": "AWS/SQS",
        "statistic": "Maximum",
        "extended_statistic": None,
        "unit": None,
        "dimensions": [_dimension("QueueName", "acme-local-shopify-orders-events-dlq")],
        "period": 300,
        "evaluation_periods": 1,
        "datapoints_to_alarm": None,
        "comparison_operator": "GreaterThanThreshold",
        "threshold": 0.0,
        "treat_missing_data": "notBreaching",
        "evaluate_low_sample_count_percentile": None,
        "metric_data_queries": [],
        "ok_actions": [TOPIC],
        "alarm_actions": [TOPIC],
        "insufficient_data_actions": [],
    }
    fields.update(overrides)
    return SimpleNamespace(**fields)


def test_the_notification_has_cloudwatchs_fields_in_cloudwatchs_order() -> None:
    message = notification(
        _alarm(),
        account="123456789012",
        region="us-east-1",
        old_state=OK,
        new_state=ALARM,
        reason_text="Threshold Crossed: ...",
        changed=CHANGED,
    )
    assert json.loads(json.dumps(message)) == {
        "AlarmName": "acme-local-shopify-orders-dlq-not-empty",
        "AlarmDescription": "Orders DLQ not empty. Runbook: docs/runbooks/shopify-dlq-not-empty.md",
        "AWSAccountId": "123456789012",
        "AlarmConfigurationUpdatedTimestamp": "2031-03-04T04:00:00.563+0000",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: ...",
        "StateChangeTime": "2031-03-04T05:07:37.811+0000",
        "Region": "US East (N. Virginia)",
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:acme-local-shopify-orders-dlq-not-empty",
        "OldStateValue": "OK",
        "OKActions": [TOPIC],
        "AlarmActions": [TOPIC],
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "StatisticType": "Statistic",
            "Statistic": "MAXIMUM",
            "Unit": None,
            "Dimensions": [{"value": "acme-local-shopify-orders-events-dlq", "name": "QueueName"}],
            "Period": 300,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0.0,
            "TreatMissingData": "notBreaching",
            "EvaluateLowSampleCountPercentile": "",
        },
    }
    assert list(message) == [
        "AlarmName",
        "AlarmDescription",
        "AWSAccountId",
        "AlarmConfigurationUpdatedTimestamp",
        "NewStateValue",
        "NewStateReason",
        "StateChangeTime",
        "Region",
        "AlarmArn",
        "OldStateValue",
        "OKActions",
        "AlarmActions",
        "InsufficientDataActions",
        "Trigger",
    ]


def test_a_percentile_alarm_and_a_metric_math_alarm_describe_their_trigger_like_cloudwatch() -> None:
    latency = notification(
        _alarm(extended_statistic="p99", statistic=None, datapoints_to_alarm=2, evaluation_periods=3, description=""),
        account="1",
        region="eu-west-1",
        old_state=OK,
        new_state=ALARM,
        reason_text="r",
        changed=CHANGED,
    )
    assert latency["AlarmDescription"] is None
    assert latency["Region"] == "EU (Ireland)"
    assert (latency["Trigger"]["StatisticType"], latency["Trigger"]["ExtendedStatistic"]) == (
        "ExtendedStatistic",
        "p99",
    )
    assert latency["Trigger"]["DatapointsToAlarm"] == 2
    errors = SimpleNamespace(
        id="errors",
        label=None,
        expression=None,
        return_data=False,
        metric_stat=SimpleNamespace(
            metric=SimpleNamespace(
                namespace="AWS/Lambda", metric_name="Errors", dimensions=[_dimension("FunctionName", "f")]
            ),
            period=300,
            stat="Sum",
        ),
    )
    failures = SimpleNamespace(
        id="failures", label="Step failures", expression="FILL(errors, 0)", return_data=True, metric_stat=None
    )
    math_alarm = _alarm(metric_data_queries=[errors, failures], metric_name=None, namespace=None, period=None)
    trigger = notification(
        math_alarm, account="1", region="us-east-1", old_state=OK, new_state=ALARM, reason_text="r", changed=CHANGED
    )["Trigger"]
    assert "MetricName" not in trigger
    assert trigger["Period"] == 300
    assert trigger["Metrics"] == [
        {
            "Id": "errors",
            "MetricStat": {
                "Metric": {
                    "Dimensions": [{"value": "f", "name": "FunctionName"}],
                    "MetricName": "Errors",
                    "Namespace": "AWS/Lambda",
                },
                "Period": 300,
                "Stat": "Sum",
            },
            "ReturnData": False,
        },
        {"Expression": "FILL(errors, 0)", "Id": "failures", "Label": "Step failures", "ReturnData": True},
    ]


@pytest.mark.parametrize(
    ("name", "state", "expected"),
    [
        ("acme-local-x", "ALARM", 'ALARM: "acme-local-x" in US East (N. Virginia)'),
        ("acme-local-x", "OK", 'OK: "acme-local-x" in US East (N. Virginia)'),
        ("caf\u00e9 \u2603", "ALARM", 'ALARM: "caf_ _" in US East (N. Virginia)'),
    ],
)
def test_subject(name: str, state: str, expected: str) -> None:
    assert subject(name, state, "us-east-1") == expected


def test_a_subject_never_exceeds_what_sns_accepts() -> None:
    long = "acme-local-shopify-fulfillment-processor-concurrency-near-limit"
    text = subject(long, INSUFFICIENT_DATA, "us-east-1")
    assert len(text) == 100
    assert text.startswith('INSUFFICIENT_DATA: "acme-local-shopify-fulfillment-processor-concurrenc..."')
    assert text.endswith('..." in US East (N. Virginia)')


def _evaluation(values: tuple[float | None, ...], decision: Decision) -> Evaluation:
    starts = tuple(datetime(2031, 3, 4, 5, minute, 0, tzinfo=UTC) for minute in range(len(values)))
    return Evaluation(starts, values, decision, tuple(1.0 if v is not None else None for v in values))


@pytest.mark.parametrize(
    ("values", "decision", "m", "old", "treat", "comparison", "expected"),
    [
        (
            (1.0,),
            Decision(ALARM, (0,), (0,), 0),
            None,
            OK,
            "notBreaching",
            "GreaterThanThreshold",
            "Threshold Crossed: 1 datapoint [1.0 (04/03/31 05:00:00)] was greater than the threshold (0.0).",
        ),
        (
            (0.0,),
            Decision(OK, (), (0,), 0),
            1,
            ALARM,
            "notBreaching",
            "GreaterThanThreshold",
            "Threshold Crossed: 1 out of the last 1 datapoints [0.0 (04/03/31 05:00:00)] was not greater than the "
            "threshold (0.0) (minimum 1 datapoint for ALARM -> OK transition).",
        ),
        (
            (5.0, None, 7.0),
            Decision(ALARM, (0, 2), (0, 2), 0),
            2,
            OK,
            "missing",
            "GreaterThanOrEqualToThreshold",
            "Threshold Crossed: 2 out of the last 3 datapoints [7.0 (04/03/31 05:02:00), 5.0 (04/03/31 05:00:00)] "
            "were greater than or equal to the threshold (0.0) (minimum 2 datapoints for OK -> ALARM transition).",
        ),
        (
            (None,),
            Decision(OK, (), (), 1),
            None,
            INSUFFICIENT_DATA,
            "notBreaching",
            "GreaterThanThreshold",
            "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as "
            "[NonBreaching].",
        ),
        (
            (None, None),
            Decision(ALARM, (0, 1), (), 2),
            2,
            INSUFFICIENT_DATA,
            "breaching",
            "LessThanThreshold",
            "Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were treated as "
            "[Breaching].",
        ),
        (
            (None, None, None),
            Decision(INSUFFICIENT_DATA, (), (), 0),
            None,
            OK,
            "missing",
            "GreaterThanThreshold",
            "Insufficient Data: 3 datapoints were unknown.",
        ),
    ],
)
def test_reasons(
    values: tuple[float | None, ...],
    decision: Decision,
    m: int | None,
    old: str,
    treat: str,
    comparison: str,
    expected: str,
) -> None:
    text = reason(
        _evaluation(values, decision),
        threshold=0.0,
        comparison=comparison,
        datapoints_to_alarm=m,
        old_state=old,
        treat_missing=treat,
    )
    assert text == expected


def test_reason_data_lists_the_evaluated_periods_newest_first() -> None:
    data = reason_data(
        _evaluation((None, 3.0), Decision(ALARM, (1,), (1,), 0)),
        query_date=CHANGED,
        period=300,
        threshold=1.0,
        statistic="Sum",
        extended_statistic=None,
        unit=None,
    )
    assert data == {
        "version": "1.0",
        "queryDate": "2031-03-04T05:07:37.811+0000",
        "startDate": "2031-03-04T05:00:00.000+0000",
        "statistic": "Sum",
        "period": 300,
        "recentDatapoints": [3.0],
        "threshold": 1.0,
        "evaluatedDatapoints": [
            {"timestamp": "2031-03-04T05:01:00.000+0000", "sampleCount": 1.0, "value": 3.0},
            {"timestamp": "2031-03-04T05:00:00.000+0000"},
        ],
    }


def test_history_items() -> None:
    update = state_update_item(
        "a",
        old_state=OK,
        old_reason="before",
        new_state=ALARM,
        new_reason="after",
        new_reason_data={"version": "1.0"},
        at=CHANGED,
    )
    assert update["HistoryItemType"] == "StateUpdate"
    assert update["HistorySummary"] == "Alarm updated from OK to ALARM"
    assert json.loads(update["HistoryData"]) == {
        "version": "1.0",
        "oldState": {"stateValue": "OK", "stateReason": "before"},
        "newState": {"stateValue": "ALARM", "stateReason": "after", "stateReasonData": {"version": "1.0"}},
    }
    done = action_item("a", action=TOPIC, at=CHANGED, published="{}", error=None)
    assert done["HistorySummary"] == f"Successfully executed action {TOPIC}"
    assert json.loads(done["HistoryData"]) == {
        "actionState": "Succeeded",
        "stateUpdateTimestamp": aws_time(CHANGED),
        "notificationResource": TOPIC,
        "publishedMessage": "{}",
    }
    failed = action_item("a", action=TOPIC, at=CHANGED, published=None, error="Topic does not exist")
    assert failed["HistorySummary"] == f"Failed to execute action {TOPIC}. Reason: Topic does not exist"
    assert json.loads(failed["HistoryData"])["actionState"] == "Failed"
