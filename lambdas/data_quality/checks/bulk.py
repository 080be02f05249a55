"""The checks that read the Shopify bulk runs' results under ``metadata/shopify/bulk/run=<id>/``.

- ``bulk_freshness``: ``raw/shopify/bulk/`` has no ``dt=`` partitions; a bulk run writes its manifest
  when its parts are complete, so the newest run manifest of the check's resource tells when bulk data
  last landed.
- ``bulk_manifest``: the latest ``runs`` run manifests of the check's resource: partial results and
  counts that disagree with Shopify's ``objectCount`` fail.
- ``webhook_coverage``: the reconciliation of the newest complete, incremental orders run(s)
  (``reconciliation.json``): the share of the orders updated in the run's window whose version the hot
  store already held (a webhook brought it) or a newer one. Low coverage is the usual sign of a removed
  webhook subscription.

They never list a run folder's contents (a download in progress keeps thousands of checkpoints there):
they list the ``run=<id>/`` folders with a delimiter, take them newest first by run id and look for each
one's ``manifest.json`` (and ``reconciliation.json``) with a one-key listing. A run's resource is its
manifest's ``resource`` field (``orders`` when absent: manifests written before customers and products
were exported), so the manifests of newer runs of other resources are read on the way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from common.timeutil import iso_utc
from data_quality.checks.lake import LakeReader
from data_quality.checks.result import FAIL, PASS, SKIPPED, CheckResult, Defaults, hours
from data_quality.checks.spec import Check

_RUN_FOLDER = re.compile(r"^run=(?P<run>[^/]+)/$")
_NUMBER = re.compile(r"[0-9]+")
# Run folders without a manifest (a download in progress, or one that never finished) the bulk checks
# look past before they stop: when the newest this many have none, bulk runs are not finishing.
UNFINISHED_RUNS_LOOKED_PAST = 10
# Besides the runs it wants, a check looks past at most this many run folders (runs of other resources,
# unfinished, partial or full runs): each costs a one-key listing and a manifest read, shared by the checks.
OTHER_RUNS_LOOKED_PAST = 30
COVERAGE_ENTITY = "orders"
_COVERAGE_COUNTS = ("in_window", "missing", "stale", "current", "newer_in_store")


@dataclass(frozen=True)
class Run:
    run_id: str
    key: str
    modified: datetime
    manifest: Any  # the parsed manifest; None when it is not valid JSON

    @property
    def resource(self) -> str:
        manifest = self.manifest if isinstance(self.manifest, dict) else {}
        return str(manifest.get("resource") or "orders")


def run_order(run_id: str) -> tuple[str, str]:
    """Sort key of a run id. Shopify's operation ids grow with time but the folder names sort as text
    (``run=99/`` after ``run=100/``), so numbers are compared as numbers."""
    return _NUMBER.sub(lambda number: number[0].zfill(40), run_id), run_id


@dataclass
class RunScan:
    """The runs with a manifest, newest first, bounded; what was looked past is kept for the reasons."""

    lake: LakeReader
    prefix: str
    wanted: int = 1
    unfinished: list[str] = field(default_factory=list)  # newest first, at most UNFINISHED_RUNS_LOOKED_PAST
    looked_at: int = 0

    @property
    def stopped_on_unfinished(self) -> bool:
        return len(self.unfinished) >= UNFINISHED_RUNS_LOOKED_PAST

    @property
    def limit(self) -> int:
        return self.wanted + OTHER_RUNS_LOOKED_PAST

    def __iter__(self) -> Iterator[Run]:
        folders = (_RUN_FOLDER.match(folder[len(self.prefix) :]) for folder in self.lake.folders(self.prefix))
        run_ids = sorted((match["run"] for match in folders if match), key=run_order, reverse=True)
        for run_id in run_ids[: self.limit]:
            if self.stopped_on_unfinished:
                return
            self.looked_at += 1
            key = f"{self.prefix}run={run_id}/manifest.json"
            found = self.lake.first(key)
            if found is None or found.key != key:
                self.unfinished.append(run_id)
                continue
            try:
                manifest = json.loads(self.lake.read(key))
            except (UnicodeDecodeError, json.JSONDecodeError):
                manifest = None
            yield Run(run_id, key, found.modified, manifest)


def _runs(lake: LakeReader, check: Check, wanted: int) -> tuple[list[Run], RunScan]:
    scan = RunScan(lake, check.prefix, wanted)
    runs: list[Run] = []
    for run in scan:
        if run.resource == check.resource:
            runs.append(run)
            if len(runs) == wanted:
                break
    return runs, scan


def _no_runs(check: Check, scan: RunScan) -> CheckResult:
    if scan.stopped_on_unfinished:
        reason = (
            f"none of the newest {len(scan.unfinished)} bulk runs wrote a manifest (newest run "
            f"{scan.unfinished[0]}): downloads are not finishing"
        )
        return CheckResult(check, FAIL, reason, details={"runs_without_manifest": scan.unfinished})
    what = "bulk run" if check.resource == "orders" else f"{check.resource} bulk run"
    reason = f"no {what} has written a manifest yet"
    if scan.looked_at >= scan.limit:
        reason = f"no {what} among the newest {scan.looked_at} bulk runs wrote a manifest"
    return CheckResult(check, SKIPPED, reason)


def bulk_freshness(check: Check, lake: LakeReader, now: datetime, defaults: Defaults) -> CheckResult:
    max_age = check.max_age_hours or defaults.bulk_freshness_max_age_hours
    runs, scan = _runs(lake, check, 1)
    if not runs:
        return _no_runs(check, scan)
    newest = runs[0]
    age = hours(now - newest.modified)
    details = {
        "run_id": newest.run_id,
        "resource": check.resource,
        "manifest_written": iso_utc(newest.modified),
        "max_age_hours": max_age,
    }
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


def bulk_manifest(check: Check, lake: LakeReader, now: datetime, defaults: Defaults) -> CheckResult:
    wanted = check.runs or defaults.bulk_runs_checked
    runs, scan = _runs(lake, check, wanted)
    if not runs:
        return _no_runs(check, scan)
    failures, checked = [], []
    objects = 0
    for run in runs:
        problems = manifest_problems(run.manifest) if run.manifest is not None else ["the manifest is not valid JSON"]
        checked.append({"run_id": run.run_id, "manifest": run.key, "problems": problems})
        if problems:
            failures.append(f"run {run.run_id}: {'; '.join(problems)}")
        else:
            objects += int(run.manifest.get("objects_written") or 0)
    details = {"resource": check.resource, "runs": checked}
    if failures:
        return CheckResult(check, FAIL, " | ".join(failures), float(len(failures)), details)
    latest = runs[0].run_id
    what = f"run {latest}" if len(runs) == 1 else f"the latest {len(runs)} runs (newest {latest})"
    return CheckResult(check, PASS, f"{what}: complete, counts match objectCount ({objects} objects)", 0.0, details)


# ------------------------------------------------------------------------------------- webhook coverage


def _entity_counts(document: Any) -> dict[str, int] | None:
    """The orders counts of a reconciliation.json, or None when they are not there as integers."""
    entities = document.get("entities") if isinstance(document, dict) else None
    counts = entities.get(COVERAGE_ENTITY) if isinstance(entities, dict) else None
    if not isinstance(counts, dict):
        return None
    found = {name: counts.get(name) for name in _COVERAGE_COUNTS}
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in found.values()):
        return None
    return {name: int(n) for name, n in found.items() if n is not None}


@dataclass
class _Coverage:
    runs: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COVERAGE_COUNTS, 0))
    passed_over: list[str] = field(default_factory=list)  # why newer orders runs were not used
    invalid: list[str] = field(default_factory=list)


def _collect_coverage(lake: LakeReader, check: Check, wanted: int) -> tuple[_Coverage, RunScan]:
    scan = RunScan(lake, check.prefix, wanted)
    found = _Coverage()
    for run in scan:
        if run.resource != COVERAGE_ENTITY:
            continue
        if run.manifest is None or manifest_problems(run.manifest):
            found.passed_over.append(f"{run.run_id} (incomplete)")
            continue
        key = f"{check.prefix}run={run.run_id}/reconciliation.json"
        listed = lake.first(key)
        if listed is None or listed.key != key:
            found.passed_over.append(f"{run.run_id} (no reconciliation.json)")
            continue
        try:
            document = json.loads(lake.read(key))
        except (UnicodeDecodeError, json.JSONDecodeError):
            document = None
        counts = _entity_counts(document)
        if counts is None or not isinstance(document, dict):
            found.invalid.append(run.run_id)
            continue
        if document.get("since") is None:
            # A full export holds every order ever, most from before the webhooks were subscribed.
            found.passed_over.append(f"{run.run_id} (full export)")
            continue
        found.runs.append(
            {"run_id": run.run_id, "since": document.get("since"), "until": document.get("until"), **counts}
        )
        for name in _COVERAGE_COUNTS:
            found.totals[name] += counts[name]
        if len(found.runs) == wanted:
            break
    return found, scan


def webhook_coverage(check: Check, lake: LakeReader, now: datetime, defaults: Defaults) -> CheckResult:
    minimum = check.min_coverage if check.min_coverage is not None else defaults.webhook_coverage_min
    sample = check.min_sample if check.min_sample is not None else defaults.webhook_coverage_min_sample
    found, scan = _collect_coverage(lake, check, check.runs or 1)
    details: dict[str, Any] = {"min_coverage": minimum, "min_sample": sample, "runs": found.runs}
    details |= {"passed_over": found.passed_over, **found.totals}
    if found.invalid:
        reason = (
            f"the reconciliation.json of run(s) {', '.join(found.invalid)} has no integer counts for "
            f"{COVERAGE_ENTITY} ({', '.join(_COVERAGE_COUNTS)})"
        )
        return CheckResult(check, FAIL, reason, details=details)
    if not found.runs:
        if found.passed_over:
            reason = (
                f"no reconciled incremental orders bulk run yet (newest looked past: {', '.join(found.passed_over)})"
            )
        elif scan.stopped_on_unfinished:
            reason = f"none of the newest {len(scan.unfinished)} bulk runs wrote a manifest"
        else:
            reason = "no complete orders bulk run yet"
        return CheckResult(check, SKIPPED, reason, details=details)
    totals = found.totals
    window = totals["in_window"]
    ids = ", ".join(run["run_id"] for run in found.runs)
    whose = f"run {ids}" if len(found.runs) == 1 else f"runs {ids}"
    if window < sample:
        reason = f"only {window} order(s) updated in the window of {whose} (minimum sample {sample})"
        return CheckResult(check, SKIPPED, reason, details=details)
    covered = totals["current"] + totals["newer_in_store"]
    coverage = round(covered / window, 4)
    uncovered = window - covered
    figures = f"missing {totals['missing']}, stale {totals['stale']}"
    if coverage < minimum:
        reason = (
            f"coverage {coverage:.2f}: {uncovered} of {window} orders updated in the window of {whose} had no "
            f"webhook ({figures}; limit {minimum:g})"
        )
        return CheckResult(check, FAIL, reason, coverage, details)
    reason = (
        f"coverage {coverage:.2f}: {covered} of {window} orders updated in the window of {whose} had arrived by "
        f"webhook ({figures}; limit {minimum:g})"
    )
    return CheckResult(check, PASS, reason, coverage, details)
