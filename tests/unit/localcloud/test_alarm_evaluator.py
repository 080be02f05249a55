"""The local alarm evaluator against moto's CloudWatch, SNS and SQS (in-process), on a clock the test owns."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from platformctl.localcloud import alarm_history_api
from platformctl.localcloud.alarm_evaluator import AlarmEvaluator, local_period

REGION = "us-east-1"
T0 = 1_900_000_002.0  # a multiple of 3 s: a 300-second period lasts 3 s at scale 100


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        sns, sqs = session.client("sns"), session.client("sqs")
        topic = sns.create_topic(Name="acme-data-platform-alerts")["TopicArn"]
        inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        clock = Clock()
        evaluator = AlarmEvaluator(REGION, scale=100, tick=60, clock=clock)
        alarm_history_api.install(evaluator.history)
        try:
            yield {
                "cloudwatch": session.client("cloudwatch"),
                "sqs": sqs,
                "inbox": inbox,
                "topic": topic,
                "clock": clock,
                "evaluator": evaluator,
            }
        finally:
            alarm_history_api.uninstall()


def _put(name: str, value: float, at: float, namespace: str = "AWS/SQS", **dimensions: str) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch_backends["123456789012"][REGION].put_metric_data(
        namespace,
        [
            {
                "MetricName": name,
                "Value": value,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Timestamp": datetime.fromtimestamp(at, UTC).replace(tzinfo=None),
            }
        ],
    )


def _dlq_alarm(aws: dict[str, Any], **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "AlarmName": "acme-local-shopify-orders-dlq-not-empty",
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": "orders-dlq"}],
        "Statistic": "Maximum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [aws["topic"]],
        "OKActions": [aws["topic"]],
    }
    arguments.update(overrides)
    aws["cloudwatch"].put_metric_alarm(**{k: v for k, v in arguments.items() if v is not None})
    return str(arguments["AlarmName"])


def _state(aws: dict[str, Any], name: str) -> str:
    return str(aws["cloudwatch"].describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])


def _inbox(aws: dict[str, Any]) -> list[dict[str, Any]]:
    messages = aws["sqs"].receive_message(QueueUrl=aws["inbox"], MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        aws["sqs"].delete_message(QueueUrl=aws["inbox"], ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]


def _tick(aws: dict[str, Any], at: float) -> None:
    aws["clock"].now = at
    aws["evaluator"].evaluate_once()


def test_local_periods_are_the_alarm_period_over_the_time_scale_and_at_least_a_second() -> None:
    assert local_period(300, 100) == 3.0
    assert local_period(86400, 100) == 864.0
    assert local_period(60, 100) == 1.0
    assert local_period(300, 1) == 300.0


def test_a_queue_alarm_goes_to_alarm_and_back_and_pages_each_time(aws: dict[str, Any]) -> None:
    name = _dlq_alarm(aws)
    _tick(aws, T0 + 0.5)
    assert _state(aws, name) == "OK"  # created INSUFFICIENT_DATA; no data, treated as not breaching
    first = _inbox(aws)
    assert [json.loads(m["Message"])["OldStateValue"] for m in first] == ["INSUFFICIENT_DATA"]

    _put("ApproximateNumberOfMessagesVisible", 2, T0 + 1, QueueName="orders-dlq")
    _put("ApproximateNumberOfMessagesVisible", 5, T0 + 1, QueueName="another-dlq")
    _tick(aws, T0 + 1.2)
    alarm = aws["cloudwatch"].describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"] == (
        "Threshold Crossed: 1 datapoint [2.0 ("
        + datetime.fromtimestamp(T0, UTC).strftime("%d/%m/%y %H:%M:%S")
        + ")] was greater than the threshold (0.0)."
    )
    [page] = _inbox(aws)
    assert page["Subject"] == f'ALARM: "{name}" in US East (N. Virginia)'
    body = json.loads(page["Message"])
    assert (body["OldStateValue"], body["NewStateValue"], body["NewStateReason"]) == (
        "OK",
        "ALARM",
        alarm["StateReason"],
    )

    _tick(aws, T0 + 2.9)  # same period, nothing new: no second page
    assert _inbox(aws) == []
    _tick(aws, T0 + 3.5)  # the next period has no datapoint yet: it is not counted as missing
    assert _state(aws, name) == "ALARM"
    _put("ApproximateNumberOfMessagesVisible", 0, T0 + 3.6, QueueName="orders-dlq")
    _tick(aws, T0 + 3.7)
    assert _state(aws, name) == "OK"
    [cleared] = _inbox(aws)
    assert cleared["Subject"] == f'OK: "{name}" in US East (N. Virginia)'

    history = aws["cloudwatch"].describe_alarm_history(AlarmName=name, ScanBy="TimestampAscending")
    kinds = [(h["HistoryItemType"], h["HistorySummary"]) for h in history["AlarmHistoryItems"]]
    assert kinds == [
        ("ConfigurationUpdate", f'Alarm "{name}" created'),
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to OK"),
        ("Action", f"Successfully executed action {aws['topic']}"),
        ("StateUpdate", "Alarm updated from OK to ALARM"),
        ("Action", f"Successfully executed action {aws['topic']}"),
        ("StateUpdate", "Alarm updated from ALARM to OK"),
        ("Action", f"Successfully executed action {aws['topic']}"),
    ]
    only_updates = aws["cloudwatch"].describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")
    newest = only_updates["AlarmHistoryItems"][0]
    assert newest["HistorySummary"] == "Alarm updated from ALARM to OK"
    assert len(only_updates["AlarmHistoryItems"]) == 3


def test_metric_math_alarms_evaluate_their_expression(aws: dict[str, Any]) -> None:
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:acme-shopify-bulk-orders"

    def stat(query_id: str, metric: str) -> dict[str, Any]:
        dimensions = [{"Name": "StateMachineArn", "Value": machine}]
        return {
            "Id": query_id,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/States", "MetricName": metric, "Dimensions": dimensions},
                "Period": 300,
                "Stat": "Sum",
            },
        }

    name = _dlq_alarm(
        aws,
        AlarmName="acme-local-bulk-workflow-failed",
        Namespace=None,
        MetricName=None,
        Dimensions=None,
        Statistic=None,
        Period=None,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Metrics=[
            stat("failed", "ExecutionsFailed"),
            stat("timedout", "ExecutionsTimedOut"),
            {"Id": "unsuccessful", "Expression": "FILL(failed, 0) + FILL(timedout, 0)", "ReturnData": True},
        ],
    )
    _tick(aws, T0 + 0.5)
    assert _state(aws, name) == "OK"
    _put("ExecutionsTimedOut", 1, T0 + 0.6, namespace="AWS/States", StateMachineArn=machine)
    _tick(aws, T0 + 0.7)
    assert _state(aws, name) == "ALARM"
    _inbox(aws)
    _tick(aws, T0 + 3.1)  # the new period holds no datapoint yet: the last complete one still counts
    assert _state(aws, name) == "ALARM"
    _tick(aws, T0 + 6.1)  # once it is complete, FILL gives it a 0
    assert _state(aws, name) == "OK"
    trigger = json.loads(_inbox(aws)[-1]["Message"])["Trigger"]
    assert [m["Id"] for m in trigger["Metrics"]] == ["failed", "timedout", "unsuccessful"]


def test_an_alarm_on_dynamodb_metrics_keeps_its_state_without_data(aws: dict[str, Any]) -> None:
    name = _dlq_alarm(
        aws,
        AlarmName="acme-local-orders-table-throttled",
        Namespace="AWS/DynamoDB",
        MetricName="ReadThrottleEvents",
        Dimensions=[{"Name": "TableName", "Value": "acme-local-orders"}],
        Statistic="Sum",
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    _tick(aws, T0 + 0.5)
    assert _state(aws, name) == "INSUFFICIENT_DATA"  # notBreaching is ignored for AWS/DynamoDB
    _put("ReadThrottleEvents", 4, T0 + 0.6, namespace="AWS/DynamoDB", TableName="acme-local-orders")
    _tick(aws, T0 + 0.7)
    assert _state(aws, name) == "ALARM"
    _tick(aws, T0 + 10)
    assert _state(aws, name) == "ALARM"


def test_percentiles_and_datapoints_to_alarm(aws: dict[str, Any]) -> None:
    name = _dlq_alarm(
        aws,
        AlarmName="acme-local-recharge-webhook-latency",
        Namespace="AWS/ApiGateway",
        MetricName="Latency",
        Dimensions=[{"Name": "ApiId", "Value": "abc"}, {"Name": "Stage", "Value": "$default"}],
        Statistic=None,
        ExtendedStatistic="p99",
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Threshold=4000,
    )
    for offset, latency in ((0.1, 5000), (3.1, 10), (6.1, 4500)):
        for _ in range(3):
            _put("Latency", latency, T0 + offset, namespace="AWS/ApiGateway", ApiId="abc", Stage="$default")
    _tick(aws, T0 + 3.2)
    assert _state(aws, name) == "OK"  # 1 of 2 periods breach
    _tick(aws, T0 + 6.2)
    alarm = aws["cloudwatch"].describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM"
    assert "2 out of the last 3 datapoints [4500.0" in alarm["StateReason"]
    assert json.loads(alarm["StateReasonData"])["statistic"] == "p99"


def test_set_alarm_state_runs_the_actions_and_the_next_evaluation_corrects_it(aws: dict[str, Any]) -> None:
    name = _dlq_alarm(aws)
    _tick(aws, T0 + 0.5)
    _inbox(aws)
    aws["cloudwatch"].set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing the pager")
    _tick(aws, T0 + 0.6)
    pages = [json.loads(m["Message"]) for m in _inbox(aws)]
    assert [(p["OldStateValue"], p["NewStateValue"], p["NewStateReason"]) for p in pages] == [
        ("OK", "ALARM", "testing the pager"),
        ("ALARM", "OK", pages[-1]["NewStateReason"]),
    ]
    assert _state(aws, name) == "OK"


def test_datapoints_written_before_the_alarm_count_and_actions_can_be_disabled(aws: dict[str, Any]) -> None:
    _put("ApproximateNumberOfMessagesVisible", 1, T0 + 0.1, QueueName="orders-dlq")
    _tick(aws, T0 + 0.2)  # ingested while no alarm watches the queue
    name = _dlq_alarm(aws, ActionsEnabled=False)
    _tick(aws, T0 + 0.3)
    assert _state(aws, name) == "ALARM"
    assert _inbox(aws) == []


def test_the_evaluator_stops(aws: dict[str, Any]) -> None:
    evaluator = aws["evaluator"]
    evaluator.start()
    assert any(t.name == "alarm-evaluator" for t in threading.enumerate())
    evaluator.stop()
    assert not any(t.name == "alarm-evaluator" for t in threading.enumerate())  # the stop joined it
