"""What CloudWatch writes when an alarm changes state: the reason, its data, the SNS notification and
the history items, in the shapes and wording CloudWatch uses.

- the notification a topic in ``AlarmActions`` / ``OKActions`` / ``InsufficientDataActions`` receives:
  the JSON object ``AlarmName``, ``AlarmDescription`` (null without one), ``AWSAccountId``,
  ``AlarmConfigurationUpdatedTimestamp``, ``NewStateValue``, ``NewStateReason``, ``StateChangeTime``,
  ``Region`` (the region's long name), ``AlarmArn``, ``OldStateValue``, ``OKActions``, ``AlarmActions``,
  ``InsufficientDataActions`` and ``Trigger`` (the metric, statistic and threshold; ``Metrics`` for a
  metric math alarm), with the subject ``ALARM: "<name>" in US East (N. Virginia)``;
- reasons such as ``Threshold Crossed: 1 out of the last 1 datapoints [3.0 (26/05/26 14:20:00)] was
  greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition).``;
- history items ``StateUpdate`` ("Alarm updated from OK to ALARM", old and new state in ``HistoryData``)
  and ``Action`` ("Successfully executed action <arn>").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from platformctl.localcloud.alarm_math import ALARM, COMPARISONS, OK, Decision

SUBJECT_LIMIT = 100  # SNS refuses a longer subject
REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "ca-central-1": "Canada (Central)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-north-1": "EU (Stockholm)",
    "eu-south-1": "EU (Milan)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "sa-east-1": "South America (Sao Paulo)",
}


def aws_time(moment: datetime) -> str:
    """CloudWatch's notification timestamps: ``2022-09-25T18:50:37.811+0000``."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _reason_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%d/%m/%y %H:%M:%S")


def _number(value: float) -> str:
    return repr(float(value))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of an alarm: the periods' starts and values (oldest first) and the decision."""

    starts: tuple[datetime, ...]
    values: tuple[float | None, ...]
    decision: Decision
    sample_counts: tuple[float | None, ...] = field(default=())


def reason(
    evaluation: Evaluation,
    *,
    threshold: float,
    comparison: str,
    datapoints_to_alarm: int | None,
    old_state: str,
    treat_missing: str | None,
) -> str:
    decision, values, starts = evaluation.decision, evaluation.values, evaluation.starts
    periods = len(values)
    if decision.state not in (ALARM, OK):
        missing = sum(1 for v in values if v is None)
        verb = "was" if missing == 1 else "were"
        return f"Insufficient Data: {_plural(missing, 'datapoint')} {verb} unknown."
    treated_as = "Breaching" if treat_missing == "breaching" else "NonBreaching"
    if not decision.present:
        verb = "was" if periods == 1 else "were"
        return (
            f"Threshold Crossed: no datapoints were received for {_plural(periods, 'period')} and "
            f"{_plural(periods, 'missing datapoint')} {verb} treated as [{treated_as}]."
        )
    shown = [i for i in decision.present if (i in decision.breaching) == (decision.state == ALARM)]
    shown = shown or list(decision.present)
    listed = ", ".join(f"{_number(values[i] or 0.0)} ({_reason_time(starts[i])})" for i in reversed(shown))
    relation = COMPARISONS[comparison][1]
    if decision.state == OK:
        relation = f"not {relation}"
    verb = "was" if len(shown) == 1 else "were"
    missing_note = ""
    if decision.treated_missing:
        treated_verb = "was" if decision.treated_missing == 1 else "were"
        missing_note = (
            f" and {_plural(decision.treated_missing, 'missing datapoint')} {treated_verb} treated as [{treated_as}]"
        )
    if datapoints_to_alarm is None:
        return (
            f"Threshold Crossed: {_plural(len(shown), 'datapoint')} [{listed}] {verb} {relation} the threshold "
            f"({_number(threshold)}){missing_note}."
        )
    minimum = datapoints_to_alarm if decision.state == ALARM else periods - datapoints_to_alarm + 1
    return (
        f"Threshold Crossed: {len(shown)} out of the last {periods} datapoints [{listed}] {verb} "
        f"{relation} the threshold ({_number(threshold)}){missing_note} "
        f"(minimum {_plural(minimum, 'datapoint')} for {old_state} -> {decision.state} transition)."
    )


def reason_data(
    evaluation: Evaluation,
    *,
    query_date: datetime,
    period: int,
    threshold: float,
    statistic: str | None,
    extended_statistic: str | None,
    unit: str | None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"version": "1.0", "queryDate": aws_time(query_date)}
    if evaluation.starts:
        data["startDate"] = aws_time(evaluation.starts[0])
    if unit:
        data["unit"] = unit
    if extended_statistic:
        data["statistic"] = extended_statistic
    elif statistic:
        data["statistic"] = statistic
    data["period"] = period
    data["recentDatapoints"] = [v for v in evaluation.values if v is not None]
    data["threshold"] = float(threshold)
    evaluated = []
    for index in reversed(range(len(evaluation.values))):
        item: dict[str, Any] = {"timestamp": aws_time(evaluation.starts[index])}
        value = evaluation.values[index]
        if value is not None:
            counts = evaluation.sample_counts
            if index < len(counts) and counts[index] is not None:
                item["sampleCount"] = counts[index]
            item["value"] = value
        evaluated.append(item)
    data["evaluatedDatapoints"] = evaluated
    return data


def _dimensions(dimensions: Sequence[Any]) -> list[dict[str, str]]:
    return [{"value": d.value, "name": d.name} for d in dimensions]


def trigger(alarm: Any) -> dict[str, Any]:
    """The notification's ``Trigger``: the alarm's metric (or metrics) and its threshold."""
    found: dict[str, Any] = {}
    if alarm.metric_data_queries:
        period = next((int(q.metric_stat.period) for q in alarm.metric_data_queries if q.metric_stat), alarm.period)
        found["Period"] = int(period or 0)
    else:
        found.update(MetricName=alarm.metric_name, Namespace=alarm.namespace)
        if alarm.extended_statistic:
            found.update(StatisticType="ExtendedStatistic", ExtendedStatistic=alarm.extended_statistic)
        else:
            found.update(StatisticType="Statistic", Statistic=str(alarm.statistic or "").upper())
        found.update(Unit=alarm.unit, Dimensions=_dimensions(alarm.dimensions), Period=int(alarm.period))
    found["EvaluationPeriods"] = int(alarm.evaluation_periods)
    if alarm.datapoints_to_alarm is not None:
        found["DatapointsToAlarm"] = int(alarm.datapoints_to_alarm)
    found["ComparisonOperator"] = alarm.comparison_operator
    found["Threshold"] = float(alarm.threshold)
    found["TreatMissingData"] = alarm.treat_missing_data or ""
    found["EvaluateLowSampleCountPercentile"] = alarm.evaluate_low_sample_count_percentile or ""
    if alarm.metric_data_queries:
        found["Metrics"] = [_query(q) for q in alarm.metric_data_queries]
    return found


def _query(query: Any) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if query.expression:
        item["Expression"] = query.expression
    item["Id"] = query.id
    if query.label:
        item["Label"] = query.label
    if query.metric_stat is not None:
        stat = query.metric_stat
        item["MetricStat"] = {
            "Metric": {
                "Dimensions": _dimensions(stat.metric.dimensions),
                "MetricName": stat.metric.metric_name,
                "Namespace": stat.metric.namespace,
            },
            "Period": int(stat.period),
            "Stat": stat.stat,
        }
    item["ReturnData"] = query.return_data is not False and str(query.return_data).lower() != "false"
    return item


def notification(
    alarm: Any, *, account: str, region: str, old_state: str, new_state: str, reason_text: str, changed: datetime
) -> dict[str, Any]:
    """The JSON object CloudWatch publishes to an SNS action of the alarm (the message's body)."""
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description or None,
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": aws_time(alarm.configuration_updated_timestamp),
        "NewStateValue": new_state,
        "NewStateReason": reason_text,
        "StateChangeTime": aws_time(changed),
        "Region": REGION_NAMES.get(region, region),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions or []),
        "AlarmActions": list(alarm.alarm_actions or []),
        "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
        "Trigger": trigger(alarm),
    }


def subject(name: str, state: str, region: str) -> str:
    """``ALARM: "<name>" in US East (N. Virginia)``: printable ASCII only (others become ``_``); a name too
    long for SNS's 100-character subject is cut."""
    where = REGION_NAMES.get(region, region)
    clean = "".join(c if " " <= c <= "~" else "_" for c in name)
    room = SUBJECT_LIMIT - len(f'{state}: "" in {where}')
    if len(clean) > room:
        clean = clean[: max(0, room - 3)] + "..."
    return f'{state}: "{clean}" in {where}'


def state_update_item(
    alarm_name: str,
    *,
    old_state: str,
    old_reason: str,
    new_state: str,
    new_reason: str,
    new_reason_data: dict[str, Any] | None,
    at: datetime,
) -> dict[str, Any]:
    new: dict[str, Any] = {"stateValue": new_state, "stateReason": new_reason}
    if new_reason_data is not None:
        new["stateReasonData"] = new_reason_data
    history = {"version": "1.0", "oldState": {"stateValue": old_state, "stateReason": old_reason}, "newState": new}
    return {
        "AlarmName": alarm_name,
        "AlarmType": "MetricAlarm",
        "Timestamp": at,
        "HistoryItemType": "StateUpdate",
        "HistorySummary": f"Alarm updated from {old_state} to {new_state}",
        "HistoryData": json.dumps(history, separators=(",", ":")),
    }


def action_item(
    alarm_name: str, *, action: str, at: datetime, published: str | None, error: str | None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "actionState": "Failed" if error else "Succeeded",
        "stateUpdateTimestamp": aws_time(at),
        "notificationResource": action,
    }
    if published is not None:
        data["publishedMessage"] = published
    if error:
        data["error"] = error
    summary = (
        f"Failed to execute action {action}. Reason: {error}" if error else f"Successfully executed action {action}"
    )
    return {
        "AlarmName": alarm_name,
        "AlarmType": "MetricAlarm",
        "Timestamp": at,
        "HistoryItemType": "Action",
        "HistorySummary": summary,
        "HistoryData": json.dumps(data, separators=(",", ":")),
    }
