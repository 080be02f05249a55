"""What every check returns (``CheckResult``) and the thresholds a check takes when the spec does not set
its own (``Defaults``, the stack's parameters). Shared by the check modules and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from data_quality.checks.spec import Check

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"


@dataclass(frozen=True)
class Defaults:
    """Thresholds a check takes when the spec does not set its own (the stack's parameters)."""

    freshness_max_age_hours: float = 24.0
    bulk_freshness_max_age_hours: float = 36.0
    quarantine_max_objects: int = 10
    bulk_runs_checked: int = 1
    webhook_coverage_min: float = 0.95
    webhook_coverage_min_sample: int = 20
    volume_weeks: int = 4
    volume_lower_band: float = 0.5
    volume_upper_band: float = 2.0
    volume_min_median: int = 20


@dataclass(frozen=True)
class CheckResult:
    check: Check
    status: str
    reason: str
    value: float | None = None  # what the check measured (age in hours, object count, ratio), the metric's value
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


def hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)
