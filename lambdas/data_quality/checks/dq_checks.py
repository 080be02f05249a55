"""The checks. Each takes one spec entry and the lake, and says pass, fail or skipped with a short reason.

- ``freshness``: the newest object landed in the ``dt=`` partitions that the window covers (today and
  yesterday for a window up to 24 hours), under every folder between the prefix and ``dt=``
  (``topic=...`` for webhooks). Fails when none is younger than ``max_age_hours``.
- ``bulk_freshness``: ``raw/shopify/bulk/`` has no ``dt=`` partitions; a bulk run writes its manifest
  when its parts are complete, so the newest run manifest tells when bulk data last landed.
- ``quarantine``: objects kept under ``quarantine/<source>/dt=<today>/`` against ``max_objects``.
- ``bulk_manifest``: the latest ``runs`` bulk run manifests: partial results and counts that disagree
  with Shopify's ``objectCount`` fail.

The bulk checks never list the run folders' contents (a download in progress keeps thousands of
checkpoints there): they list the ``run=<id>/`` folders with a delimiter, take the newest by run id and
look for each one's ``manifest.json`` with a one-key listing, newest first.

A source with nothing ever under its landing prefix is not deployed or not connected: its checks are
skipped, as are the checks of a source listed in ``DISABLED_SOURCES``. A freshness check whose own
prefix never held anything (a topic nobody subscribed) is skipped too. Reasons name prefixes, counts,
run ids and quarantine reasons: never the content of an object.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from common.timeutil import iso_utc, partition_date

if TYPE_CHECKING:
    from data_quality.checks.dq_lake import LakeObject, LakeReader
    from data_quality.checks.dq_spec import Check, Spec
else:
    from dq_lake import LakeObject, LakeReader
    from dq_spec import Check, Spec

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"
_RUN_FOLDER = re.compile(r"^run=(?P<run>[^/]+)/$")
_NUMBER = re.compile(r"[0-9]+")
# Run folders without a manifest (a download in progress, or one that never finished) the bulk checks
# look past before they stop: when the newest this many have none, bulk runs are not finishing.
UNFINISHED_RUNS_LOOKED_PAST = 10
# Errors that mean "this function may not read that prefix" rather than "try again": the check fails
# with the code in its reason instead of the whole run failing, so the other checks still report.
_PERMISSION_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "NoSuchBucket", "KMS.AccessDeniedException"})


@dataclass(frozen=True)
class Defaults:
    """Thresholds a check takes when the spec does not set its own (the stack's parameters)."""

    freshness_max_age_hours: float = 24.0
    bulk_freshness_max_age_hours: float = 36.0
    quarantine_max_objects: int = 10
    bulk_runs_checked: int = 1


@dataclass(frozen=True)
class CheckResult:
    check: Check
    status: str
    reason: str
    value: float | None = None  # what the check measured (age in hours, object count), the metric's value
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.check.id,
            "type": self.check.type,
            "source": self.check.source,
            "prefix": self.check.prefix,
            "status": self.status,
            "reason": self.reason,
            "value": self.value,
            "details": self.details,
        }


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


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
    folders = [check.prefix]
    for _ in range(check.folders_before_dt):
        folders = [child for folder in folders for child in lake.folders(folder)]
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
                    age = _hours(now - newest.modified)
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
    age = _hours(now - newest.modified)
    details["newest_seen"] = iso_utc(newest.modified)
    return CheckResult(check, FAIL, f"newest object is {age} h old (limit {max_age:g} h) under {where}", age, details)


# ------------------------------------------------------------------------------------------ bulk runs


@dataclass(frozen=True)
class _Run:
    run_id: str
    key: str
    modified: datetime


def run_order(run_id: str) -> tuple[str, str]:
    """Sort key of a run id. Shopify's operation ids grow with time but the folder names sort as text
    (``run=99/`` after ``run=100/``), so numbers are compared as numbers."""
    return _NUMBER.sub(lambda number: number[0].zfill(40), run_id), run_id


def _run_ids(lake: LakeReader, prefix: str) -> list[str]:
    """The ids of the ``run=<id>/`` folders under ``prefix`` (one delimiter listing, not their contents)."""
    matches = (_RUN_FOLDER.match(folder[len(prefix) :]) for folder in lake.folders(prefix))
    return [match["run"] for match in matches if match]


def _runs(lake: LakeReader, prefix: str, wanted: int) -> tuple[list[_Run], list[str]]:
    """The newest ``wanted`` runs with a manifest, newest first, and the run folders without one that
    were looked past (newest first, at most ``UNFINISHED_RUNS_LOOKED_PAST``)."""
    runs: list[_Run] = []
    unfinished: list[str] = []
    for run_id in sorted(_run_ids(lake, prefix), key=run_order, reverse=True):
        if len(runs) == wanted or len(unfinished) == UNFINISHED_RUNS_LOOKED_PAST:
            break
        key = f"{prefix}run={run_id}/manifest.json"
        manifest = lake.first(key)
        if manifest is not None and manifest.key == key:
            runs.append(_Run(run_id, key, manifest.modified))
        else:
            unfinished.append(run_id)
    return runs, unfinished


def _no_runs(check: Check, unfinished: list[str]) -> CheckResult:
    if len(unfinished) < UNFINISHED_RUNS_LOOKED_PAST:
        return CheckResult(check, SKIPPED, "no bulk run has written a manifest yet")
    reason = (
        f"none of the newest {len(unfinished)} bulk runs wrote a manifest (newest run {unfinished[0]}): "
        "downloads are not finishing"
    )
    return CheckResult(check, FAIL, reason, details={"runs_without_manifest": unfinished})


def _bulk_freshness(check: Check, lake: LakeReader, now: datetime, defaults: Defaults) -> CheckResult:
    max_age = check.max_age_hours or defaults.bulk_freshness_max_age_hours
    runs, unfinished = _runs(lake, check.prefix, 1)
    if not runs:
        return _no_runs(check, unfinished)
    newest = runs[0]
    age = _hours(now - newest.modified)
    details = {"run_id": newest.run_id, "manifest_written": iso_utc(newest.modified), "max_age_hours": max_age}
    if age <= max_age:
        reason = f"bulk run {newest.run_id} finished {age} h ago (limit {max_age:g} h)"
        return CheckResult(check, PASS, reason, age, details)
    reason = f"the newest bulk run ({newest.run_id}) finished {age} h ago (limit {max_age:g} h)"
    return CheckResult(check, FAIL, reason, age, details)


def manifest_problems(manifest: Any) -> list[str]:
    """What is wrong with one run manifest (empty: the run is complete and its counts agree)."""
    if not isinstance(manifest, dict):
        return ["the manifest is not a JSON object"]
    problems = []
    if manifest.get("partial"):
        status, code = manifest.get("status") or "?", manifest.get("error_code") or "none"
        problems.append(f"partial result (status {status}, error {code})")
    written, reported = manifest.get("objects_written"), manifest.get("object_count_reported")
    if reported is not None and written != reported:
        problems.append(f"{written} objects written, Shopify's objectCount is {reported}")
    roots, reported_roots = manifest.get("root_objects_written"), manifest.get("root_object_count_reported")
    if reported_roots is not None and roots != reported_roots:
        problems.append(f"{roots} root objects written, Shopify's rootObjectCount is {reported_roots}")
    if manifest.get("counts_match") is False and not problems:
        problems.append("the manifest says its counts do not match")
    return problems


def _bulk_manifest(check: Check, lake: LakeReader, now: datetime, defaults: Defaults) -> CheckResult:
    wanted = check.runs or defaults.bulk_runs_checked
    runs, unfinished = _runs(lake, check.prefix, wanted)
    if not runs:
        return _no_runs(check, unfinished)
    failures, checked = [], []
    objects = 0
    for run in runs:
        try:
            manifest = json.loads(lake.read(run.key))
        except (UnicodeDecodeError, json.JSONDecodeError):
            manifest = None
        problems = manifest_problems(manifest) if manifest is not None else ["the manifest is not valid JSON"]
        checked.append({"run_id": run.run_id, "manifest": run.key, "problems": problems})
        if problems:
            failures.append(f"run {run.run_id}: {'; '.join(problems)}")
        elif isinstance(manifest, dict):
            objects += int(manifest.get("objects_written") or 0)
    details = {"runs": checked}
    if failures:
        return CheckResult(check, FAIL, " | ".join(failures), float(len(failures)), details)
    latest = runs[0].run_id
    what = f"run {latest}" if len(runs) == 1 else f"the latest {len(runs)} runs (newest {latest})"
    return CheckResult(check, PASS, f"{what}: complete, counts match objectCount ({objects} objects)", 0.0, details)


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

_EVALUATORS = {
    "freshness": _freshness,
    "bulk_freshness": _bulk_freshness,
    "quarantine": _quarantine,
    "bulk_manifest": _bulk_manifest,
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
