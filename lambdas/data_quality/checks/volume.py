"""``volume_anomaly``: today's objects under a raw prefix against the same weekday of the previous weeks.

Today is partial when the check runs, so both sides are counted up to the same time of day: today's
``dt=<today>`` partitions (UTC) against each of the previous ``weeks`` same weekdays' ``dt=`` partitions,
counting only the objects that **landed** (``LastModified``) before that weekday's midnight plus the
time of day now. The check fails when today's count is below ``median * (1 - lower_band)`` or above
``median * (1 + upper_band)`` of the weekdays that had data by that time; it is skipped while fewer than
``MIN_HISTORY`` of them had any (a new source) and when the median is below ``min_median`` (a handful
of objects is noise, and so is the first hour of the day).

A past day no longer changes below the time of day that matters (an object that lands in an old
partition now, a replay, landed too late to count), so the first run that needs a past day lists its
partitions once and keeps, per check, when its objects landed (minute of the day → count) in
``metadata/data-quality-volume/<check id>/dt=<date>.json``; later runs read that small object instead
of listing the day again. Only today's partitions are listed by every run.
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime, timedelta
from typing import Any

from common.timeutil import iso_utc, partition_date
from data_quality.checks.lake import LakeObject, LakeReader
from data_quality.checks.result import FAIL, PASS, SKIPPED, CheckResult, Defaults
from data_quality.checks.spec import Check

MIN_HISTORY = 2  # same weekdays with data needed before a median means anything
HISTORY_PREFIX = "metadata/data-quality-volume/"
HISTORY_SCHEMA = 1
# Pages of one dt= partition a volume check lists (300,000 objects: a topic of a shop with about 100,000
# orders a day); more is not counted and the check is skipped saying so.
PARTITION_MAX_PAGES = 300


class _TruncatedError(Exception):
    """A partition holds more objects than the run lists (PARTITION_MAX_PAGES pages)."""


def _minute(moment: datetime, day: datetime) -> int:
    """Minutes from ``day``'s midnight to ``moment``, 0 for an object that landed before the day began."""
    return max(0, int((moment - day).total_seconds() // 60))


def _landed(lake: LakeReader, folders: list[str], day: datetime) -> dict[int, int]:
    """When the objects of ``day``'s partitions landed: minute of the day → count (paged listings)."""
    landed: dict[int, int] = {}
    date = partition_date(day)
    for folder in folders:
        objects, truncated = lake.objects(f"{folder}dt={date}/", PARTITION_MAX_PAGES)
        if truncated:
            raise _TruncatedError(f"{folder}dt={date}/")
        for item in objects:
            minute = _minute(item.modified, day)
            landed[minute] = landed.get(minute, 0) + 1
    return landed


def history_key(check: Check, date: str) -> str:
    return f"{HISTORY_PREFIX}{check.id}/dt={date}.json"


def _past_day(check: Check, lake: LakeReader, folders: list[str], day: datetime, kept: set[str]) -> dict[int, int]:
    """A past day's landing minutes: from the kept history object when there is a valid one, else listed
    once and kept."""
    key = history_key(check, partition_date(day))
    if key in kept:
        try:
            document = json.loads(lake.read(key))
        except (UnicodeDecodeError, json.JSONDecodeError):
            document = None
        same = isinstance(document, dict) and document.get("schema") == HISTORY_SCHEMA
        same = same and document.get("prefix") == check.prefix and document.get("folders") == folders
        if same:
            return {int(minute): int(count) for minute, count in document.get("landed_by_minute", [])}
    landed = _landed(lake, folders, day)
    document = {
        "schema": HISTORY_SCHEMA,
        "check": check.id,
        "prefix": check.prefix,
        "folders": folders,
        "date": partition_date(day),
        "objects": sum(landed.values()),
        "landed_by_minute": sorted(landed.items()),
    }
    lake.write(key, (json.dumps(document, separators=(",", ":")) + "\n").encode("utf-8"))
    return landed


def _kept_history(check: Check, lake: LakeReader) -> set[str]:
    objects, _ = lake.objects(f"{HISTORY_PREFIX}{check.id}/")
    return {item.key for item in objects}


def _count(landed: dict[int, int], by_minute: int) -> int:
    return sum(count for minute, count in landed.items() if minute <= by_minute)


def _today(lake: LakeReader, folders: list[str], midnight: datetime, now: datetime) -> int:
    date = partition_date(midnight)
    count = 0
    for folder in folders:
        objects, truncated = lake.objects(f"{folder}dt={date}/", PARTITION_MAX_PAGES)
        if truncated:
            raise _TruncatedError(f"{folder}dt={date}/")
        count += sum(1 for item in objects if _landed_by(item, now))
    return count


def _landed_by(item: LakeObject, now: datetime) -> bool:
    return item.modified <= now


def volume_anomaly(check: Check, lake: LakeReader, now: datetime, defaults: Defaults) -> CheckResult:
    weeks = check.weeks or defaults.volume_weeks
    lower = check.lower_band if check.lower_band is not None else defaults.volume_lower_band
    upper = check.upper_band if check.upper_band is not None else defaults.volume_upper_band
    min_median = check.min_median if check.min_median is not None else defaults.volume_min_median
    if not lake.has_any(check.prefix):
        return CheckResult(check, SKIPPED, f"nothing has ever landed under {check.prefix} (not subscribed or not sent)")
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    by_minute = _minute(now, midnight)
    clock = now.strftime("%H:%M")
    weekday = now.strftime("%A")
    folders = lake.folders_below(check.prefix, check.folders_before_dt)
    kept = _kept_history(check, lake)
    history: list[dict[str, Any]] = []
    try:
        today = _today(lake, folders, midnight, now)
        for week in range(1, weeks + 1):
            day = midnight - timedelta(days=7 * week)
            landed = _past_day(check, lake, folders, day, kept)
            history.append({"date": partition_date(day), "objects": _count(landed, by_minute)})
    except _TruncatedError as exc:
        reason = f"{exc} holds more than {PARTITION_MAX_PAGES * 1000} objects, more than a run lists: not counted"
        return CheckResult(check, SKIPPED, reason)
    details: dict[str, Any] = {
        "today": today,
        "by": iso_utc(now),
        "history": history,
        "weeks": weeks,
        "lower_band": lower,
        "upper_band": upper,
        "min_median": min_median,
        "folders": len(folders),
    }
    with_data = [day["objects"] for day in history if day["objects"] > 0]
    if len(with_data) < MIN_HISTORY:
        reason = (
            f"{len(with_data)} of the previous {weeks} {weekday}s had objects under {check.prefix} by {clock} UTC "
            f"(at least {MIN_HISTORY} needed for a median): too little history"
        )
        return CheckResult(check, SKIPPED, reason, details=details)
    median = float(statistics.median(with_data))
    details["median"] = median
    past = ", ".join(str(n) for n in with_data)
    if median < min_median:
        reason = (
            f"median {median:g} of the previous {weekday}s by {clock} UTC is below {min_median} objects: "
            "too few to judge"
        )
        return CheckResult(check, SKIPPED, reason, details=details)
    low, high = median * (1 - lower), median * (1 + upper)
    ratio = round(today / median, 3)
    change = round((ratio - 1) * 100)
    trend = f"{-change}% below" if change < 0 else f"{change}% above"
    reason = (
        f"{today} objects under {check.prefix} today by {clock} UTC, {trend} the median {median:g} of the previous "
        f"{len(with_data)} {weekday}s by that time ({past}); expected {low:g} to {high:g}"
    )
    status = FAIL if today < low or today > high else PASS
    return CheckResult(check, status, reason, ratio, details)
