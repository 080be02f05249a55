"""The checks. Each takes one spec entry and the lake, and says pass, fail or skipped with a short reason.

- ``freshness``: the newest object landed in the ``dt=`` partitions that the window covers (today and
  yesterday for a window up to 24 hours), under every folder between the prefix and ``dt=``
  (``topic=...`` for webhooks). Fails when none is younger than ``max_age_hours``.
- ``quarantine``: objects kept under ``quarantine/<source>/dt=<today>/`` against ``max_objects``.
- ``bulk_freshness``, ``bulk_manifest``, ``webhook_coverage``: the Shopify bulk runs' manifests and
  reconciliations (``bulk``).
- ``volume_anomaly``: today's objects against the same weekday of the previous weeks (``volume``).

A source with nothing ever under its landing prefix is not deployed or not connected: its checks are
skipped, as are the checks of a source listed in ``DISABLED_SOURCES``. A freshness check whose own
prefix never held anything (a topic nobody subscribed) is skipped too. Reasons name prefixes, counts,
run ids and quarantine reasons: never the content of an object.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from common.timeutil import iso_utc, partition_date
from data_quality.checks import bulk as dq_bulk
from data_quality.checks import volume
from data_quality.checks.lake import LakeObject, LakeReader
from data_quality.checks.result import FAIL, PASS, SKIPPED, CheckResult, Defaults, hours
from data_quality.checks.spec import Check, Spec

__all__ = ["FAIL", "PASS", "SKIPPED", "CheckResult", "Defaults", "evaluate", "window_dates"]
# Kept here for the callers that know them by this module.
run_order = dq_bulk.run_order
manifest_problems = dq_bulk.manifest_problems
UNFINISHED_RUNS_LOOKED_PAST = dq_bulk.UNFINISHED_RUNS_LOOKED_PAST

# Errors that mean "this function may not read that prefix" rather than "try again": the check fails
# with the code in its reason instead of the whole run failing, so the other checks still report.
_PERMISSION_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "NoSuchBucket", "KMS.AccessDeniedException"})


def window_dates(now: datetime, max_age_hours: float) -> list[str]:
    """The ``dt=`` values (UTC days) that ``[now - max_age, now]`` touches, newest first."""
    day, first = now, now - timedelta(hours=max_age_hours)
    dates = []
    while partition_date(day) >= partition_date(first):
        dates.append(partition_date(day))
        day -= timedelta(days=1)
    return dates


# ------------------------------------------------------------------------------------------- freshness


def _freshness(check: Check, lake: LakeReader, now: datetime, defaults: Defaults) -> CheckResult:
    max_age = check.max_age_hours or defaults.freshness_max_age_hours
    if not lake.has_any(check.prefix):
        return CheckResult(check, SKIPPED, f"nothing has ever landed under {check.prefix} (not subscribed or not sent)")
    cutoff = now - timedelta(hours=max_age)
    folders = lake.folders_below(check.prefix, check.folders_before_dt)
    dates = window_dates(now, max_age)
    newest: LakeObject | None = None
    partitions = 0
    for date in dates:
        for folder in folders:
            partitions += 1
            for page in lake.object_pages(f"{folder}dt={date}/"):
                for item in page:
                    if newest is None or item.modified > newest.modified:
                        newest = item
                if newest is not None and newest.modified >= cutoff:
                    age = hours(now - newest.modified)
                    return CheckResult(
                        check,
                        PASS,
                        f"an object landed {age} h ago (limit {max_age:g} h)",
                        value=age,
                        details={"newest_seen": iso_utc(newest.modified), "max_age_hours": max_age, "dates": dates},
                    )
    details = {"max_age_hours": max_age, "dates": dates, "folders": len(folders), "partitions": partitions}
    where = f"{check.prefix} (dt={', dt='.join(dates)})"
    if newest is None:
        return CheckResult(check, FAIL, f"nothing landed in the last {max_age:g} h under {where}", details=details)
    age = hours(now - newest.modified)
    details["newest_seen"] = iso_utc(newest.modified)
    return CheckResult(check, FAIL, f"newest object is {age} h old (limit {max_age:g} h) under {where}", age, details)


# ------------------------------------------------------------------------------------------ quarantine


def _quarantine(check: Check, lake: LakeReader, now: datetime, defaults: Defaults) -> CheckResult:
    limit = check.max_objects if check.max_objects is not None else defaults.quarantine_max_objects
    today = partition_date(now)
    prefix = f"{check.prefix}dt={today}/"
    objects, truncated = lake.objects(prefix)
    count = len(objects)
    reasons = Counter(item.key[len(prefix) :].split("/", 1)[0] for item in objects)
    top = ", ".join(f"{reason} {n}" for reason, n in reasons.most_common(5))
    counted = f"{'at least ' if truncated else ''}{count}"
    details = {"date": today, "max_objects": limit, "by_reason": dict(reasons), "listing_truncated": truncated}
    summary = f"{counted} object(s) quarantined today under {prefix} (limit {limit})" + (f": {top}" if top else "")
    status = FAIL if count > limit else PASS
    return CheckResult(check, status, summary, float(count), details)


# ----------------------------------------------------------------------------------------------- run

Evaluator = Callable[[Check, LakeReader, datetime, Defaults], CheckResult]
_EVALUATORS: dict[str, Evaluator] = {
    "freshness": _freshness,
    "bulk_freshness": dq_bulk.bulk_freshness,
    "quarantine": _quarantine,
    "bulk_manifest": dq_bulk.bulk_manifest,
    "webhook_coverage": dq_bulk.webhook_coverage,
    "volume_anomaly": volume.volume_anomaly,
}


def evaluate(
    spec: Spec, lake: LakeReader, now: datetime, defaults: Defaults, disabled: Iterable[str] = ()
) -> list[CheckResult]:
    """Every check of the spec, in spec order."""
    disabled = set(disabled)
    results = []
    for check in spec.checks:
        source = spec.sources[check.source]
        if check.source in disabled:
            results.append(CheckResult(check, SKIPPED, f"source {check.source} is disabled (DisabledSources)"))
            continue
        try:
            if not lake.has_any(source.landing):
                reason = f"source {check.source} is not deployed or not connected: nothing under {source.landing}"
                results.append(CheckResult(check, SKIPPED, reason))
                continue
            results.append(_EVALUATORS[check.type](check, lake, now, defaults))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code not in _PERMISSION_CODES:
                raise
            reason = f"cannot read the lake ({code}) for {check.prefix}: check the function's role and the lake key"
            results.append(CheckResult(check, FAIL, reason, details={"error_code": code}))
    return results
