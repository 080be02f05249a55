"""``platformctl alerts``: a mailbox's messages and an account's alarm history, as alert rows."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from platformctl.commands.alerts import from_history, from_mailbox, render
from platformctl.durations import parse_since
from platformctl.errors import UserError

TOPIC = "arn:aws:sns:us-east-1:123456789012:acme-data-platform-alerts"
AT = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)


def _entry(minutes: int, message: str, subject: str | None) -> dict[str, object]:
    stamp = (AT + timedelta(minutes=minutes)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"Timestamp": stamp, "MessageId": "m", "TopicArn": TOPIC, "Subject": subject, "Message": message}


def test_a_mailbox_lists_alarm_notifications_and_other_messages_since_a_time() -> None:
    page = {"AlarmName": "acme-local-x", "OldStateValue": "OK", "NewStateValue": "ALARM", "NewStateReason": "why"}
    entries = [
        _entry(-5, json.dumps(page), "too old"),
        _entry(1, json.dumps(page), 'ALARM: "acme-local-x" in US East (N. Virginia)'),
        _entry(2, "Glue crawler acme-raw failed", None),
    ]
    found = from_mailbox(entries, AT)
    assert [(a.alarm, a.old_state, a.new_state, a.reason) for a in found] == [
        ("acme-local-x", "OK", "ALARM", "why"),
        (None, None, None, "Glue crawler acme-raw failed"),
    ]
    assert found[0].message == page
    out = io.StringIO()
    render(found, out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["TIME", "(UTC)", "ALARM", "STATE", "RESULT", "REASON"]
    assert "acme-local-x" in lines[1]
    assert "OK -> ALARM" in lines[1]


def test_alarm_history_gives_each_publish_to_the_topic_with_its_state_change() -> None:
    change = {
        "version": "1.0",
        "oldState": {"stateValue": "OK", "stateReason": "before"},
        "newState": {"stateValue": "ALARM", "stateReason": "Threshold Crossed: ..."},
    }
    items = [
        {
            "AlarmName": "acme-prod-shopify-orders-dlq-not-empty",
            "Timestamp": AT,
            "HistoryItemType": "StateUpdate",
            "HistorySummary": "Alarm updated from OK to ALARM",
            "HistoryData": json.dumps(change),
        },
        {
            "AlarmName": "acme-prod-shopify-orders-dlq-not-empty",
            "Timestamp": AT + timedelta(seconds=1),
            "HistoryItemType": "Action",
            "HistorySummary": f"Successfully executed action {TOPIC}",
            "HistoryData": json.dumps({"actionState": "Succeeded", "notificationResource": TOPIC}),
        },
        {
            "AlarmName": "acme-prod-shopify-orders-dlq-not-empty",
            "Timestamp": AT + timedelta(seconds=2),
            "HistoryItemType": "Action",
            "HistorySummary": f"Failed to execute action {TOPIC}. Reason: AuthorizationError",
            "HistoryData": json.dumps({"actionState": "Failed", "notificationResource": TOPIC}),
        },
        {
            "AlarmName": "someone-elses-alarm",
            "Timestamp": AT,
            "HistoryItemType": "Action",
            "HistorySummary": f"Successfully executed action {TOPIC}",
            "HistoryData": "{}",
        },
    ]
    found = from_history(items, TOPIC, "acme-prod-")
    assert [(a.alarm, a.old_state, a.new_state, a.result) for a in found] == [
        ("acme-prod-shopify-orders-dlq-not-empty", "OK", "ALARM", "delivered"),
        (
            "acme-prod-shopify-orders-dlq-not-empty",
            "OK",
            "ALARM",
            f"Failed to execute action {TOPIC}. Reason: AuthorizationError",
        ),
    ]
    assert found[0].time == "2031-03-04T05:06:08.000Z"


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("12h", 43200), ("2d", 172800), ("PT1H", 3600)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_since(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "0m", "1y", "-3h", "P"])
def test_a_duration_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(UserError):
        parse_since(text)
