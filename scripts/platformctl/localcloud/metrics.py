"""Datapoints into the emulated CloudWatch, written in-process.

What the emulator observes (invocations, queue depths, executions, HTTP requests) and what functions
print in the embedded metric format become datapoints of moto's CloudWatch backend, exactly as if
PutMetricData had stored them: GetMetricData, GetMetricStatistics, ListMetrics and the dashboards see
them, and the alarm evaluator reads them. In-process, so no request is signed and IAM is not involved
(on AWS the services publish their own metrics, outside any role's permissions).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from platformctl.localcloud.emf import Datum

logger = logging.getLogger(__name__)

DEFAULT_ACCOUNT = "123456789012"  # moto's account, the one every local resource lives in


def _naive_utc(moment: datetime | None) -> datetime:
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment  # moto keeps metric timestamps as naive UTC


def _backend(account: str, region: str) -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[account][region]


class MetricSink:
    """Where the local layer's metrics go: moto's CloudWatch backend of one account and region."""

    def __init__(self, region: str, account: str = DEFAULT_ACCOUNT) -> None:
        self.region, self.account = region, account

    def put(
        self,
        namespace: str,
        name: str,
        value: float,
        dimensions: Mapping[str, str],
        *,
        unit: str | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        datum: dict[str, Any] = {
            "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            "Value": float(value),
            "Timestamp": _naive_utc(timestamp),
        }
        if unit:
            datum["Unit"] = unit
        self._store(namespace, [datum])

    def put_datums(self, datums: Iterable[Datum]) -> None:
        for datum in datums:
            entry: dict[str, Any] = {
                "MetricName": datum.name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in datum.dimensions],
                "Values": list(datum.values),
                "Timestamp": _naive_utc(datum.timestamp),
            }
            if datum.unit:
                entry["Unit"] = datum.unit
            self._store(datum.namespace, [entry])

    def _store(self, namespace: str, data: list[dict[str, Any]]) -> None:
        try:
            _backend(self.account, self.region).put_metric_data(namespace, data)
        except Exception:  # a metric must never fail what it observes
            logger.exception("metric %s/%s could not be stored", namespace, data[0].get("MetricName"))
