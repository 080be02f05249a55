"""The data-quality job on the local cloud: the deployed stack, its schedule fired as EventBridge Scheduler
would, the handler in its own process with the function's environment, and what a run leaves: results.json,
metrics in acme/DataQuality, one alert on the alerts topic when a check failed, and the dead-letter queue
when a run cannot run at all. Objects the test plants in the shared lake are removed afterwards."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from platformctl.localcloud.schedules import fire_schedule

pytestmark = pytest.mark.integration

STACK = "data-quality/data-quality"
RESULTS_PREFIX = "metadata/data-quality/"
SPEC_KEY = "artifacts/data-quality/checks.json"


class Cloud:
    def __init__(self, local_cloud: Any) -> None:
        self.cloud = local_cloud
        outputs = local_cloud.stack_outputs()
        self.stack = outputs[STACK]
        self.bucket: str = local_cloud.endpoints()["bucket"]
        self.topic: str = outputs["monitoring/monitoring"]["AlertsTopicArn"]
        self.namespace: str = self.stack["DataQualityMetricsNamespace"]
        self.planted: list[str] = []
        self.fired_at: datetime | None = None

    def client(self, name: str) -> Any:
        return self.cloud.target.client(name)

    def put(self, key: str, body: bytes) -> None:
        self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body)
        self.planted.append(key)

    def keys(self, prefix: str) -> set[str]:
        pages = self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return {entry["Key"] for page in pages for entry in page.get("Contents", [])}

    def fire(self) -> dict[str, Any]:
        """Fire the schedule; the one results.json the run wrote.

        The run starts on a whole second, and ``metric`` reads from that second on: the local cloud is
        shared, and an earlier run's datapoints (kept to the second) must not count as this run's (a
        coverage of 1.0 from another test's run would be the Maximum of a window that held both)."""
        before = self.keys(RESULTS_PREFIX)
        time.sleep(1 - datetime.now(UTC).microsecond / 1_000_000)
        self.fired_at = datetime.now(UTC).replace(microsecond=0)
        fire_schedule(self.cloud.target, self.stack["DataQualityScheduleName"])
        assert self.cloud.wait_idle(timeout=120)
        new = sorted(self.keys(RESULTS_PREFIX) - before)
        assert len(new) == 1, new
        body = self.client("s3").get_object(Bucket=self.bucket, Key=new[0])["Body"].read()
        return {"key": new[0], **json.loads(body)}

    def alert_queue(self) -> str:
        sqs = self.client("sqs")
        url = str(sqs.create_queue(QueueName=f"it-data-quality-{uuid.uuid4().hex[:8]}")["QueueUrl"])
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.client("sns").subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=arn)
        return url

    def alerts(self, queue_url: str) -> list[dict[str, Any]]:
        sqs, found = self.client("sqs"), []
        while True:
            batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                envelope = json.loads(message["Body"])
                body = json.loads(envelope["Message"])
                if body.get("kind") == "data-quality-failed":
                    found.append({"subject": envelope.get("Subject"), **body})
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def metric(self, name: str, dimensions: list[dict[str, str]]) -> float | None:
        """The Maximum of the metric's datapoints since the last ``fire``."""
        assert self.fired_at is not None, "fire the run first"
        now = datetime.now(UTC)
        points = self.client("cloudwatch").get_metric_statistics(
            Namespace=self.namespace,
            MetricName=name,
            Dimensions=dimensions,
            StartTime=self.fired_at,
            EndTime=now + timedelta(minutes=1),
            Period=360,
            Statistics=["Maximum"],
        )["Datapoints"]
        return max((float(p["Maximum"]) for p in points), default=None)

    def cleanup(self) -> None:
        for key in self.planted:
            self.client("s3").delete_object(Bucket=self.bucket, Key=key)


@pytest.fixture
def cloud(local_cloud: Any) -> Iterator[Cloud]:
    found = Cloud(local_cloud)
    try:
        yield found
    finally:
        found.cleanup()


def test_the_stack_deploys_the_function_its_schedule_and_its_alarms(cloud: Cloud) -> None:
    assert cloud.stack["DataQualityScheduleName"] == "acme-local-data-quality"
    schedule = cloud.client("scheduler").get_schedule(Name="acme-local-data-quality")
    assert schedule["Target"]["Arn"] == cloud.stack["DataQualityFunctionArn"]
    assert "<aws.scheduler.scheduled-time>" in schedule["Target"]["Input"]
    names = {
        a["AlarmName"]
        for a in cloud.client("cloudwatch").describe_alarms(AlarmNamePrefix="acme-local-data-q")["MetricAlarms"]
    }
    assert names == {
        "acme-local-data-quality-errors",
        "acme-local-data-quality-dlq-not-empty",
        "acme-local-data-quality-check-failed",
        "acme-local-data-quality-stale",
        "acme-local-data-quality-webhook-coverage",
        "acme-local-data-quality-volume-anomaly",
    }
    assert cloud.keys(SPEC_KEY) == {SPEC_KEY}, "the deploy tool did not upload data-ingestion/data-quality/"


def test_a_scheduled_run_writes_results_metrics_and_one_alert(cloud: Cloud) -> None:
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    run = uuid.uuid4().hex[:12]
    # Fresh Recharge data: its freshness check passes whatever else is in the lake.
    cloud.put(f"raw/recharge/subscription/topic=subscription_created/dt={today}/it-{run}.json", b"{}")
    # The newest bulk run is partial: the manifest check fails.
    manifest = {"run_id": f"it{run}", "status": "FAILED", "error_code": "TIMEOUT", "partial": True,
                "objects_written": 5, "object_count_reported": 7, "counts_match": False}  # fmt: skip
    cloud.put(f"metadata/shopify/bulk/run=it{run}/manifest.json", json.dumps(manifest).encode())
    queue_url = cloud.alert_queue()

    document = cloud.fire()

    assert document["key"].startswith(f"{RESULTS_PREFIX}dt={today}/run=")
    assert document["key"].endswith("/results.json")
    assert document["key"] == f"{RESULTS_PREFIX}dt={today}/run={document['run_id']}/results.json"
    results = {r["id"]: r for r in document["results"]}
    assert results["freshness-recharge-subscription"]["status"] == "pass"
    bulk = results["bulk-manifest-latest"]
    assert bulk["status"] == "fail"
    assert f"run it{run}: partial result (status FAILED, error TIMEOUT)" in bulk["reason"]
    assert "5 objects written, Shopify's objectCount is 7" in bulk["reason"]
    assert all(r["status"] in {"pass", "fail", "skipped"} and r["reason"] for r in results.values())
    failed = document["summary"]["failed"]
    assert failed >= 1

    assert cloud.metric("CheckFailed", [{"Name": "Check", "Value": "bulk-manifest-latest"}]) == 1
    assert (cloud.metric("ChecksFailed", []) or 0) >= failed
    assert cloud.metric("Runs", []) == 1

    alerts = [a for a in cloud.alerts(queue_url) if a["run_id"] == document["run_id"]]
    assert len(alerts) == 1
    assert alerts[0]["subject"].startswith("[acme local] data quality: ")
    assert "bulk-manifest-latest" in [f["id"] for f in alerts[0]["failed"]]
    assert alerts[0]["results"] == f"s3://{cloud.bucket}/{document['key']}"


def test_a_run_that_cannot_read_its_spec_ends_in_the_dead_letter_queue(cloud: Cloud) -> None:
    s3, sqs = cloud.client("s3"), cloud.client("sqs")
    original = s3.get_object(Bucket=cloud.bucket, Key=SPEC_KEY)["Body"].read()
    queue_url = cloud.stack["DataQualityDlqUrl"]
    try:
        s3.put_object(Bucket=cloud.bucket, Key=SPEC_KEY, Body=b'{"version": 1, "sources": {}, "checks": []}')
        before = cloud.keys(RESULTS_PREFIX)
        fire_schedule(cloud.cloud.target, cloud.stack["DataQualityScheduleName"])
        assert cloud.cloud.wait_idle(timeout=120)
        assert cloud.keys(RESULTS_PREFIX) == before
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
        ).get("Messages", [])
        assert len(messages) == 1
        error = messages[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
        assert "data-quality spec" in error
        assert "sources must be a non-empty object" in error
        assert "<aws.scheduler.scheduled-time>" in messages[0]["Body"]  # the run's input, as scheduled
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
    finally:
        s3.put_object(Bucket=cloud.bucket, Key=SPEC_KEY, Body=original)


def test_low_webhook_coverage_fails_the_check_and_is_alerted(cloud: Cloud) -> None:
    """A complete incremental orders run whose reconciliation found most orders without their webhook."""
    # "zz-" sorts after every run id the other tests write (numbers, "it<hex>"): this run is the newest.
    run = f"zz-it{uuid.uuid4().hex[:12]}"
    manifest = {"run_id": run, "status": "COMPLETED", "partial": False, "resource": "orders",
                "objects_written": 100, "object_count_reported": 100, "counts_match": True}  # fmt: skip
    orders = {"exported": 100, "in_window": 100, "missing": 20, "stale": 9, "current": 60, "newer_in_store": 11,
              "written": 29, "skipped_invalid": 0}  # fmt: skip
    reconciliation = {"schema": 1, "run_id": run, "resource": "orders", "since": "2026-03-09T00:00:00Z",
                      "until": "2026-03-10T00:00:00Z", "finished_at": "2026-03-10T00:20:00Z",
                      "entities": {"orders": orders}}  # fmt: skip
    cloud.put(f"metadata/shopify/bulk/run={run}/manifest.json", json.dumps(manifest).encode())
    cloud.put(f"metadata/shopify/bulk/run={run}/reconciliation.json", json.dumps(reconciliation).encode())
    queue_url = cloud.alert_queue()

    document = cloud.fire()

    result = {r["id"]: r for r in document["results"]}["webhook-coverage-orders"]
    assert result["status"] == "fail"
    assert result["reason"] == (
        f"coverage 0.71: 29 of 100 orders updated in the window of run {run} had no webhook "
        "(missing 20, stale 9; limit 0.95)"
    )
    assert cloud.metric("WebhookCoverage", [{"Name": "Check", "Value": "webhook-coverage-orders"}]) == 0.71
    assert cloud.metric("ChecksFailed", [{"Name": "CheckType", "Value": "webhook_coverage"}]) == 1
    alerts = [a for a in cloud.alerts(queue_url) if a["run_id"] == document["run_id"]]
    assert len(alerts) == 1
    [failed] = [f for f in alerts[0]["failed"] if f["id"] == "webhook-coverage-orders"]
    assert failed["runbook"] == "docs/runbooks/data-quality-webhook-coverage.md"
    assert "coverage 0.71" in failed["reason"]
