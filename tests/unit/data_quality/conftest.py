"""The data-quality function under moto: a lake bucket with the shipped spec uploaded where the deploy tool puts it,
the alerts topic with a queue subscribed to it, and runners with a clock the test chooses."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from platformctl.manifest import REPO_ROOT
from tests.unit import lambda_loader

SPEC_FILE = REPO_ROOT / "data-ingestion" / "data-quality" / "checks.json"

REGION = "us-east-1"
BUCKET = "acme-data-lake-123456789012"
SPEC_KEY = "artifacts/data-quality/checks.json"
NAMESPACE = "acme/DataQuality"


def environment(topic_arn: str = "", **overrides: str) -> dict[str, str]:
    values = {
        "DATA_LAKE_BUCKET_NAME": BUCKET,
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
        "SPEC_KEY": SPEC_KEY,
        "ALERTS_TOPIC_ARN": topic_arn,
        "ALERT_LABEL": "acme test",
        "FRESHNESS_MAX_AGE_HOURS": "24",
        "BULK_FRESHNESS_MAX_AGE_HOURS": "36",
        "QUARANTINE_MAX_OBJECTS": "10",
        "BULK_RUNS_CHECKED": "1",
        "DISABLED_SOURCES": "",
    }
    values.update(overrides)
    return values


@dataclass
class Lake:
    """The moto account the function runs against."""

    s3: Any
    sns: Any
    sqs: Any
    cloudwatch: Any
    topic_arn: str = ""
    queue_url: str = ""

    def log_line(self, line: str) -> None:
        """What CloudWatch Logs does with the function's embedded-metric lines: metrics in CloudWatch."""
        from platformctl.localcloud.emf import parse_line

        datums = parse_line(line, datetime.now(UTC))
        assert datums, f"not an embedded-metric document: {line[:200]}"
        for datum in datums:
            self.cloudwatch.put_metric_data(
                Namespace=datum.namespace,
                MetricData=[
                    {
                        "MetricName": datum.name,
                        "Dimensions": [{"Name": n, "Value": v} for n, v in datum.dimensions],
                        "Values": list(datum.values),
                        "Unit": datum.unit or "None",
                        "Timestamp": datum.timestamp,
                    }
                ],
            )

    def put(self, key: str, body: bytes | str = b"{}") -> str:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode() if isinstance(body, str) else body)
        return key

    def put_spec(self, document: Any) -> None:
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        self.s3.put_object(Bucket=BUCKET, Key=SPEC_KEY, Body=body)

    def put_manifest(self, run_id: str, **fields: Any) -> str:
        manifest = {
            "run_id": run_id,
            "status": "COMPLETED",
            "error_code": None,
            "partial": False,
            "complete": True,
            "object_count_reported": 10,
            "root_object_count_reported": 4,
            "objects_written": 10,
            "root_objects_written": 4,
            "counts_match": True,
        }
        manifest.update(fields)
        return self.put(f"metadata/shopify/bulk/run={run_id}/manifest.json", json.dumps(manifest))

    def put_reconciliation(
        self, run_id: str, *, since: str | None = "2026-03-09T00:00:00Z", raw: bytes | None = None, **orders: int
    ) -> str:
        """``run=<id>/reconciliation.json`` as the reconcile step writes it (contract item 3); ``orders``
        are the orders counts (in_window, missing, stale, current, newer_in_store)."""
        counts = {"exported": 0, "in_window": 0, "missing": 0, "stale": 0, "current": 0, "newer_in_store": 0}
        counts |= orders
        counts["exported"] = counts["exported"] or counts["in_window"]
        counts |= {"written": counts["missing"] + counts["stale"], "skipped_invalid": 0}
        document = {
            "schema": 1,
            "run_id": run_id,
            "resource": "orders",
            "since": since,
            "until": "2026-03-10T00:00:00Z",
            "finished_at": "2026-03-10T00:20:00Z",
            "entities": {"orders": counts, "customers": {**counts, "in_window": 0}},
        }
        body = raw if raw is not None else json.dumps(document).encode()
        return self.put(f"metadata/shopify/bulk/run={run_id}/reconciliation.json", body)

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return [entry["Key"] for page in pages for entry in page.get("Contents", [])]

    def document(self, key: str) -> dict[str, Any]:
        return dict(json.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))

    def alerts(self) -> list[dict[str, Any]]:
        found = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                envelope = json.loads(message["Body"])
                found.append({"subject": envelope.get("Subject"), "message": envelope["Message"]})
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def lake(monkeypatch: pytest.MonkeyPatch) -> Iterator[Lake]:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "data-quality")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE)
    with mock_aws():
        found = Lake(
            s3=boto3.client("s3", region_name=REGION),
            sns=boto3.client("sns", region_name=REGION),
            sqs=boto3.client("sqs", region_name=REGION),
            cloudwatch=boto3.client("cloudwatch", region_name=REGION),
        )
        found.s3.create_bucket(Bucket=BUCKET)
        found.put_spec(SPEC_FILE.read_bytes())
        found.topic_arn = found.sns.create_topic(Name="acme-data-platform-alerts")["TopicArn"]
        found.queue_url = found.sqs.create_queue(QueueName="alerts-copy")["QueueUrl"]
        queue_arn = found.sqs.get_queue_attributes(QueueUrl=found.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        found.sns.subscribe(TopicArn=found.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        yield found


@pytest.fixture(scope="session")
def app_classes() -> ModuleType:
    """app.py's classes, imported once with placeholder settings (its module-level runner is not used)."""
    placeholders = {**environment(), "AWS_DEFAULT_REGION": REGION, "POWERTOOLS_TRACE_DISABLED": "true"}
    placeholders["POWERTOOLS_SERVICE_NAME"] = "data-quality"
    return lambda_loader.load_app("data_quality/checks", placeholders, name="data_quality_app_classes")


class Clock:
    """'Now' for the runner: real time plus an offset, so moto's LastModified ages as the test wants."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


RunnerFactory = Callable[..., Any]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_runner(lake: Lake, app_classes: ModuleType, clock: Clock) -> RunnerFactory:
    def make(*, alerts: bool = True, s3: Any = None, **overrides: str) -> Any:
        from common.config import load_settings

        settings = load_settings(app_classes.Settings, environment(lake.topic_arn if alerts else "", **overrides))
        return app_classes.Runner(
            settings,
            s3=s3 or lake.s3,
            metrics_out=lake.log_line,
            sns=lake.sns if alerts else None,
            clock=clock,
        )

    return make


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def by_id(summary_document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {result["id"]: result for result in summary_document["results"]}
