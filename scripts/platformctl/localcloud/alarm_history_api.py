"""``DescribeAlarmHistory`` for the emulated CloudWatch (moto 5.2.5 has no such operation), served from
the history the local alarm evaluator records: ``AlarmName``, ``HistoryItemType``, ``StartDate`` /
``EndDate``, ``AlarmTypes``, ``ScanBy`` (newest first by default), ``MaxRecords`` (default 100) and
``NextToken``, as CloudWatch answers them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from platformctl.localcloud.alarm_evaluator import AlarmHistory

_state: dict[str, Any] = {"history": None}


def _utc(moment: Any) -> datetime | None:
    if not isinstance(moment, datetime):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def select(history: AlarmHistory, params: dict[str, Any]) -> dict[str, Any]:
    """The answer to one DescribeAlarmHistory request."""
    items = history.items(params.get("AlarmName"))
    kind = params.get("HistoryItemType")
    start, end = _utc(params.get("StartDate")), _utc(params.get("EndDate"))
    types = params.get("AlarmTypes") or []
    chosen = [
        item
        for item in items
        if (not kind or item["HistoryItemType"] == kind)
        and (not types or item["AlarmType"] in types)
        and (start is None or item["Timestamp"] >= start)
        and (end is None or item["Timestamp"] <= end)
    ]
    chosen.sort(key=lambda item: item["Timestamp"], reverse=params.get("ScanBy") != "TimestampAscending")
    offset = int(params.get("NextToken") or 0)
    limit = int(params.get("MaxRecords") or 100)
    page = chosen[offset : offset + limit]
    answer: dict[str, Any] = {"AlarmHistoryItems": page}
    if offset + limit < len(chosen):
        answer["NextToken"] = str(offset + limit)
    return answer


def _describe_alarm_history(self: Any) -> Any:
    from moto.core.responses import ActionResult

    history: AlarmHistory | None = _state["history"]
    params = self._get_params()
    return ActionResult(select(history, params) if history is not None else {"AlarmHistoryItems": []})


def install(history: AlarmHistory) -> None:
    from moto.cloudwatch.responses import CloudWatchResponse

    _state["history"] = history
    if not hasattr(CloudWatchResponse, "describe_alarm_history"):
        setattr(CloudWatchResponse, "describe_alarm_history", _describe_alarm_history)  # noqa: B010 - moto lacks it


def uninstall() -> None:
    _state["history"] = None
