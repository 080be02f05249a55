"""Alarms fire on the local cloud: a dead-letter queue that fills puts the template's alarm into ALARM,
with history, the alerts topic delivers CloudWatch's notification to a subscribed queue,
``platformctl alerts --env local`` lists it, and the alarm returns to OK once the queue is empty."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from platformctl.cli import main

pytestmark = pytest.mark.integration

NOTIFICATION_KEYS = [
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


WAIT = 120.0  # bounds on waiting, not assertions on speed


def _until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout:.0f}s: {what}")


def _state(cloudwatch: Any, name: str) -> str:
    return str(cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])


def _notifications(sqs: Any, queue_url: str, alarm: str) -> list[dict[str, Any]]:
    found = []
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        envelope = json.loads(message["Body"])
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        body = json.loads(envelope["Message"])
        if body.get("AlarmName") == alarm:
            found.append({"Subject": envelope.get("Subject"), "Message": envelope["Message"], "Body": body})
    return found


@pytest.fixture
def set_aside_orders_dlq(local_cloud: Any) -> Iterator[None]:
    """The orders DLQ empty for the test: what earlier tests of this process left there (the privacy
    proof dead-letters an event on purpose) is taken out first and sent back afterwards."""
    sqs = local_cloud.target.client("sqs")
    url = local_cloud.endpoints()["dlqs"]["orders"]
    kept: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60
    ).get("Messages", []):
        for message in batch:
            kept.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    yield
    for message in kept:
        attributes = {
            name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
            for name, value in message.get("MessageAttributes", {}).items()
        }
        sqs.send_message(QueueUrl=url, MessageBody=message["Body"], MessageAttributes=attributes)


@pytest.mark.usefixtures("set_aside_orders_dlq")
def test_a_dead_letter_queue_that_fills_pages_and_clears(
    local_cloud: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = local_cloud.target
    cloudwatch, sqs, sns = target.client("cloudwatch"), target.client("sqs"), target.client("sns")
    endpoints = local_cloud.endpoints()
    topic = local_cloud.stack_outputs()["monitoring/monitoring"]["AlertsTopicArn"]
    dlq_url = endpoints["dlqs"]["orders"]
    dlq_name = dlq_url.rsplit("/", 1)[1]
    # The template's alarm on that queue, found by its metric (not by a name the test repeats).
    alarms = cloudwatch.describe_alarms_for_metric(
        MetricName="ApproximateNumberOfMessagesVisible",
        Namespace="AWS/SQS",
        Dimensions=[{"Name": "QueueName", "Value": dlq_name}],
    )["MetricAlarms"]
    alarms = [a for a in alarms if a["Dimensions"] == [{"Name": "QueueName", "Value": dlq_name}]]  # moto: all
    assert len(alarms) == 1, alarms
    name = alarms[0]["AlarmName"]
    assert alarms[0]["AlarmActions"] == [topic]

    inbox_url = sqs.create_queue(QueueName=f"alerts-inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)

    _until(lambda: _state(cloudwatch, name) == "OK", WAIT, f"{name} evaluated to OK with an empty queue")
    started = time.monotonic()
    sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps({"detail": {"metadata": {}}, "id": "alarm-test"}))

    _until(lambda: _state(cloudwatch, name) == "ALARM", WAIT, f"{name} went to ALARM")
    fired_after = time.monotonic() - started
    alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 datapoint [1.0 (")
    assert alarm["StateReason"].endswith(")] was greater than the threshold (0.0).")
    reason_data = json.loads(alarm["StateReasonData"])
    assert (reason_data["statistic"], reason_data["period"]) == ("Maximum", 300)
    assert reason_data["recentDatapoints"] == [1.0]

    history = cloudwatch.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    updates = [h for h in history if h["HistoryItemType"] == "StateUpdate"]
    assert updates[0]["HistorySummary"] == "Alarm updated from OK to ALARM"  # newest first
    assert json.loads(updates[0]["HistoryData"])["newState"]["stateValue"] == "ALARM"
    actions = [h for h in history if h["HistoryItemType"] == "Action"]
    assert actions[0]["HistorySummary"] == f"Successfully executed action {topic}"

    delivered = _until(lambda: _notifications(sqs, inbox_url, name), WAIT, "the notification reached the queue")
    assert delivered[0]["Subject"] == f'ALARM: "{name}" in US East (N. Virginia)'
    body = delivered[0]["Body"]
    assert list(json.loads(delivered[0]["Message"])) == NOTIFICATION_KEYS
    assert (body["OldStateValue"], body["NewStateValue"]) == ("OK", "ALARM")
    assert body["NewStateReason"] == alarm["StateReason"]
    assert (body["AlarmArn"], body["Region"]) == (alarm["AlarmArn"], "US East (N. Virginia)")
    assert body["Trigger"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert body["Trigger"]["Dimensions"] == [{"value": dlq_name, "name": "QueueName"}]
    assert (body["Trigger"]["Statistic"], body["Trigger"]["Threshold"]) == ("MAXIMUM", 0.0)

    monkeypatch.setenv("PLATFORMCTL_ENDPOINTS_FILE", str(local_cloud.endpoints_file))
    capsys.readouterr()
    assert main(["alerts", "--env", "local", "--since", "10m", "--json"]) == 0
    listed = [a for a in json.loads(capsys.readouterr().out) if a["alarm"] == name]
    assert [(a["old_state"], a["new_state"]) for a in listed][-1] == ("OK", "ALARM")
    assert listed[-1]["subject"] == f'ALARM: "{name}" in US East (N. Virginia)'

    for message in sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", []):
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
    cleared = time.monotonic()
    _until(lambda: _state(cloudwatch, name) == "OK", WAIT, f"{name} returned to OK")
    recovered_after = time.monotonic() - cleared
    ok = _until(lambda: _notifications(sqs, inbox_url, name), WAIT, "the OK notification reached the queue")
    assert (ok[0]["Body"]["OldStateValue"], ok[0]["Body"]["NewStateValue"]) == ("ALARM", "OK")
    assert ok[0]["Subject"] == f'OK: "{name}" in US East (N. Virginia)'
    # Within a fraction of the alarm's real five-minute period (time scale 60: one period lasts 5 s locally,
    # the queue is sampled every second). A bound, not a speed target: a loaded machine stays far under it.
    assert fired_after < 120, fired_after
    assert recovered_after < 120, recovered_after
