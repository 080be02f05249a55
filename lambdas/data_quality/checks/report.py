"""What a run leaves behind: its results document, its metrics and, when a check failed, one alert.

- ``metadata/data-quality/dt=<YYYY-MM-DD>/run=<YYYYMMDDTHHMMSSZ>-<id>/results.json``: one object per
  run, so every run's results are kept. The time is the schedule's ``scheduled-time`` when the
  scheduler passed it (a retry of the same run overwrites its own results), else the start of the run;
  ``<id>`` is the first 8 characters of the scheduler's execution id or of the Lambda request id.
- Metrics in ``${Brand}/DataQuality``, as embedded-metric-format log lines (one per dimension set; CloudWatch
  Logs turns them into metrics, as for every other function): per check ``CheckFailed`` (0/1) and its measurement
  (``FreshnessAgeHours``, ``QuarantinedObjects``, ``BulkRunsFailed``, ``WebhookCoverage``,
  ``VolumeRatio``) with dimension ``Check``; per run, without dimensions, ``ChecksFailed``,
  ``ChecksPassed``, ``ChecksSkipped`` and ``Runs`` (1); per run and check type that was evaluated,
  ``ChecksFailed`` with dimension ``CheckType`` (the alarms of the types that have their own runbook).
- One SNS message per run with a failed check: a JSON summary for machines and a short text for e-mail,
  each failed check with its runbook.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from common.timeutil import iso_utc, parse_timestamp, partition_date
from data_quality.checks.result import CheckResult

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricDatumTypeDef

RESULTS_PREFIX = "metadata/data-quality/"
RUNBOOK = "docs/runbooks/data-quality-check-failed.md"
# Check types with an alarm and a runbook of their own (infrastructure/data-quality/data-quality.yaml).
RUNBOOKS = {
    "webhook_coverage": "docs/runbooks/data-quality-webhook-coverage.md",
    "volume_anomaly": "docs/runbooks/data-quality-volume-anomaly.md",
}
_TOKEN = re.compile(r"^[A-Za-z0-9-]{8,}$")
_MEASURE = {"freshness": "FreshnessAgeHours", "bulk_freshness": "FreshnessAgeHours"}
_MEASURE |= {"quarantine": "QuarantinedObjects", "bulk_manifest": "BulkRunsFailed"}
_MEASURE |= {"webhook_coverage": "WebhookCoverage", "volume_anomaly": "VolumeRatio"}
_UNITS = {"FreshnessAgeHours": "None", "QuarantinedObjects": "Count", "BulkRunsFailed": "Count"}
_UNITS |= {"WebhookCoverage": "None", "VolumeRatio": "None"}


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    started_at: datetime
    scheduled_time: str | None  # as the scheduler gave it, when it gave one

    @property
    def results_key(self) -> str:
        return f"{RESULTS_PREFIX}dt={partition_date(self.started_at)}/run={self.run_id}/results.json"


def run_info(event: Any, request_id: str, now: datetime) -> RunInfo:
    """The run's identity from the schedule's input, ``{"scheduled_time": ..., "execution_id": ...}``.

    EventBridge Scheduler fills ``<aws.scheduler.scheduled-time>`` and ``<aws.scheduler.execution-id>``;
    an invocation by hand (or ``platformctl local fire``, which passes the input as written) leaves the
    placeholders, which are ignored: the run is then named after its start and its request id.
    """
    event = event if isinstance(event, dict) else {}
    moment, scheduled = now, None
    raw_time = event.get("scheduled_time")
    if isinstance(raw_time, str):
        try:
            moment, scheduled = parse_timestamp(raw_time), raw_time
        except ValueError:
            moment = now
    execution = event.get("execution_id")
    token_source = execution if isinstance(execution, str) and _TOKEN.match(execution) else request_id
    token = re.sub(r"[^A-Za-z0-9]", "", token_source)[:8] or "manual"
    return RunInfo(f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{token.lower()}", moment, scheduled)


def summary(results: Sequence[CheckResult]) -> dict[str, int]:
    counts = {"checks": len(results), "passed": 0, "failed": 0, "skipped": 0}
    for result in results:
        counts[{"pass": "passed", "fail": "failed", "skipped": "skipped"}[result.status]] += 1
    return counts


def results_document(
    run: RunInfo,
    results: Sequence[CheckResult],
    *,
    now: datetime,
    finished: datetime,
    spec_location: str,
    context: dict[str, Any],
) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "started_at": iso_utc(run.started_at),
        "evaluated_at": iso_utc(now),
        "finished_at": iso_utc(finished),
        "scheduled_time": run.scheduled_time,
        "spec": spec_location,
        **context,
        "summary": summary(results),
        "results": [result.as_dict() for result in results],
    }


def metric_data(results: Sequence[CheckResult], timestamp: datetime) -> list[MetricDatumTypeDef]:
    data: list[MetricDatumTypeDef] = []
    for result in results:
        if result.status == "skipped":
            continue
        dimensions: list[DimensionTypeDef] = [{"Name": "Check", "Value": result.check.id}]
        failed = 1.0 if result.status == "fail" else 0.0
        data.append({"MetricName": "CheckFailed", "Dimensions": dimensions, "Value": failed, "Unit": "Count"})
        measure = _MEASURE[result.check.type]
        if result.value is not None:
            unit: Any = _UNITS[measure]
            data.append({"MetricName": measure, "Dimensions": dimensions, "Value": result.value, "Unit": unit})
    counts = summary(results)
    totals = (("ChecksFailed", "failed"), ("ChecksPassed", "passed"), ("ChecksSkipped", "skipped"))
    for name, key in totals:
        data.append({"MetricName": name, "Value": float(counts[key]), "Unit": "Count"})
    data.append({"MetricName": "Runs", "Value": 1.0, "Unit": "Count"})
    by_type: dict[str, float] = {}
    for result in results:
        if result.status != "skipped":
            by_type[result.check.type] = by_type.get(result.check.type, 0.0) + (result.status == "fail")
    for check_type, failed_of_type in sorted(by_type.items()):
        dimension: list[DimensionTypeDef] = [{"Name": "CheckType", "Value": check_type}]
        data.append({"MetricName": "ChecksFailed", "Dimensions": dimension, "Value": failed_of_type, "Unit": "Count"})
    for datum in data:
        datum["Timestamp"] = timestamp
    return data


def emf_lines(namespace: str, data: Sequence[MetricDatumTypeDef]) -> list[str]:
    """The metrics as embedded-metric-format documents, one JSON line per dimension set (each metric name
    appears once per set, so every set is one document)."""
    groups: dict[tuple[tuple[str, str], ...], list[MetricDatumTypeDef]] = {}
    for datum in data:
        dimensions = tuple((d["Name"], d["Value"]) for d in datum.get("Dimensions", []))
        groups.setdefault(dimensions, []).append(datum)
    lines = []
    for dimensions, datums in groups.items():
        moment = datums[0]["Timestamp"]
        if not isinstance(moment, datetime):
            raise TypeError("metric_data stamps every datum with a datetime")
        directive = {
            "Namespace": namespace,
            # One set, empty for the run's totals: CloudWatch refuses an empty list of sets.
            "Dimensions": [[name for name, _ in dimensions]],
            "Metrics": [{"Name": d["MetricName"], "Unit": d.get("Unit", "None")} for d in datums],
        }
        document: dict[str, Any] = {
            "_aws": {"Timestamp": int(moment.timestamp() * 1000), "CloudWatchMetrics": [directive]}
        }
        document |= dict(dimensions)
        document |= {d["MetricName"]: d["Value"] for d in datums}
        lines.append(json.dumps(document, separators=(",", ":")))
    return lines


def runbook(result: CheckResult) -> str:
    return RUNBOOKS.get(result.check.type, RUNBOOK)


def _see(result: CheckResult) -> str:
    return f" (runbook {RUNBOOKS[result.check.type]})" if result.check.type in RUNBOOKS else ""


def alert(
    results: Sequence[CheckResult], run: RunInfo, *, label: str, bucket: str, results_key: str
) -> tuple[str, str] | None:
    """``(subject, message)`` for SNS with ``MessageStructure="json"``, or None when nothing failed."""
    failed = [r for r in results if r.status == "fail"]
    if not failed:
        return None
    counts = summary(results)
    subject = f"[{label}] data quality: {counts['failed']} of {counts['checks']} checks failed"
    location = f"s3://{bucket}/{results_key}"
    lines = [
        f"Data-quality run {run.run_id} ({label}): {counts['failed']} failed, {counts['passed']} passed, "
        f"{counts['skipped']} skipped.",
        "",
        *[f"FAILED {r.check.id}: {r.reason}" + _see(r) for r in failed],
        "",
        f"Results: {location}",
        f"Runbook: {RUNBOOK}",
    ]
    document = {
        "kind": "data-quality-failed",
        "run_id": run.run_id,
        "summary": counts,
        "failed": [
            {"id": r.check.id, "source": r.check.source, "reason": r.reason, "runbook": runbook(r)} for r in failed
        ],
        "results": location,
        "runbook": RUNBOOK,
    }
    body = {"default": json.dumps(document, sort_keys=True), "email": "\n".join(lines)}
    return subject[:100], json.dumps(body)
