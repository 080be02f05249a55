"""``platformctl alerts --env ENV [--since DURATION] [--json]``: what the alerts topic delivered.

On the local cloud, every message the alerts topic (the ``monitoring`` stack's ``AlertsTopicArn``)
accepted is in its mailbox (``<state dir>/mailbox/<topic>.jsonl``, named by the endpoints file's
``mailbox``): the alarm notifications CloudWatch sends and anything else published to it. On AWS no API
lists what SNS delivered, so the command reads the platform's alarm history instead
(``DescribeAlarmHistory``, alarms named ``<brand>-<env>-...``): each action that published to the alerts
topic, with the state change that triggered it and whether the publish succeeded.

``--since`` takes ``30s``, ``15m``, ``12h``, ``2d`` or ``PT12H`` (default ``24h``); ``--json`` prints the list as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from platformctl.aws_target import add_env_argument
from platformctl.durations import parse_since
from platformctl.errors import UserError


@dataclass(frozen=True)
class Alert:
    time: str  # ISO 8601, UTC
    alarm: str | None
    old_state: str | None
    new_state: str | None
    reason: str
    subject: str | None
    result: str  # "delivered", or why the publish failed
    message: Any  # the message's body (an alarm notification is decoded)


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_mailbox(entries: Any, since: datetime) -> list[Alert]:
    """The alerts of a topic's mailbox (``localcloud.mailbox`` records), oldest first."""
    alerts = []
    for entry in entries:
        moment = _parse_time(str(entry.get("Timestamp", "")))
        if moment < since:
            continue
        body: Any = entry.get("Message", "")
        try:
            decoded = json.loads(body)
        except (TypeError, ValueError):
            decoded = None
        if isinstance(decoded, dict) and "AlarmName" in decoded and "NewStateValue" in decoded:
            body = decoded
            alarm, old, new = decoded["AlarmName"], decoded.get("OldStateValue"), decoded["NewStateValue"]
            reason = str(decoded.get("NewStateReason", ""))
        else:
            alarm, old, new, reason = None, None, None, str(body)[:300]
        alerts.append(Alert(_iso(moment), alarm, old, new, reason, entry.get("Subject"), "delivered", body))
    return alerts


def from_history(items: list[dict[str, Any]], topic_arn: str, prefix: str) -> list[Alert]:
    """Alarm history items (DescribeAlarmHistory) as alerts: each action that published to the topic,
    with the state change of the same alarm just before it."""
    ours = sorted((i for i in items if str(i.get("AlarmName", "")).startswith(prefix)), key=lambda i: i["Timestamp"])
    last_change: dict[str, dict[str, Any]] = {}
    alerts = []
    for item in ours:
        data = _json(item.get("HistoryData"))
        if item.get("HistoryItemType") == "StateUpdate":
            last_change[item["AlarmName"]] = data
            continue
        if item.get("HistoryItemType") != "Action" or topic_arn not in (
            str(data.get("notificationResource", "")) + str(item.get("HistorySummary", ""))
        ):
            continue
        change = last_change.get(item["AlarmName"], {})
        new = (change.get("newState") or {}).get("stateValue")
        succeeded = data.get("actionState", "Succeeded") == "Succeeded" and "Failed" not in item.get(
            "HistorySummary", ""
        )
        alerts.append(
            Alert(
                time=_iso(item["Timestamp"]),
                alarm=item["AlarmName"],
                old_state=(change.get("oldState") or {}).get("stateValue"),
                new_state=new,
                reason=str((change.get("newState") or {}).get("stateReason", "")),
                subject=f'{new}: "{item["AlarmName"]}"' if new else None,
                result="delivered" if succeeded else str(item.get("HistorySummary", "")),
                message=_json(data.get("publishedMessage")) or None,
            )
        )
    return alerts


def _json(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _topic_arn(target: Any) -> str:
    from platformctl.aws_target import stack_output

    return stack_output(target, "monitoring", "monitoring", "AlertsTopicArn")


def alerts(environment: str, since: timedelta, *, now: datetime | None = None) -> list[Alert]:
    from platformctl.aws_target import LOCAL_ENVIRONMENT, read_endpoints, target_for

    start = (now or datetime.now(UTC)) - since
    target = target_for(environment)
    topic = _topic_arn(target)
    if environment == LOCAL_ENVIRONMENT:
        from platformctl.localcloud.mailbox import mailbox_path, read

        folder = read_endpoints().get("mailbox")
        if not folder:
            raise UserError("the running local cloud keeps no mailbox: restart it with this version")
        return from_mailbox(read(mailbox_path(Path(folder), topic)), start)
    from platformctl.manifest import load_manifest
    from platformctl.params import brand_of

    prefix = f"{brand_of(environment, load_manifest().stacks)}-{environment}-"
    paginator = target.client("cloudwatch").get_paginator("describe_alarm_history")
    items = [
        item
        for page in paginator.paginate(StartDate=start, ScanBy="TimestampAscending")
        for item in page.get("AlarmHistoryItems", [])
    ]
    return from_history(items, topic, prefix)


def render(found: list[Alert], out: TextIO) -> None:
    if not found:
        print("the alerts topic delivered nothing in that time", file=out)
        return
    rows = [("TIME (UTC)", "ALARM", "STATE", "RESULT", "REASON")]
    for alert in found:
        state = f"{alert.old_state} -> {alert.new_state}" if alert.new_state else "-"
        name = alert.alarm or (alert.subject or "(message)")
        rows.append((alert.time, name, state, alert.result, alert.reason[:120]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4], file=out)


def command(args: argparse.Namespace) -> int:
    found = alerts(args.env, parse_since(args.since))
    if args.json:
        json.dump([asdict(a) for a in found], sys.stdout, indent=2)
        print()
    else:
        render(found, sys.stdout)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "alerts",
        help="list what the alerts topic delivered (local: its mailbox; AWS: the alarms' history)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_env_argument(parser)
    parser.add_argument("--since", default="24h", help="how far back: 30s, 15m, 12h, 2d (default 24h)")
    parser.add_argument("--json", action="store_true", help="print the alerts as JSON")
    parser.set_defaults(func=command)
