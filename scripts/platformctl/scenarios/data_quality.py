"""Demo step: the data-quality checks, fired by their schedule after the other steps' traffic.

The step subscribes a queue to the alerts topic (to show what an on-call engineer receives), fires the
``<brand>-local-data-quality`` schedule as EventBridge Scheduler would at the top of the hour, waits for
the asynchronous run, and reports each check's result, where the run's ``results.json`` landed, the
metrics in ``<brand>/DataQuality`` and the alert. What the demo fed must pass (the Recharge deliveries of
today, the complete bulk run); a source the demo did not feed is skipped; the alert is there exactly when
a check failed. The Shopify webhooks step sends the 24 hours before the current hour, so its freshness
checks see live traffic; its malformed event is in today's or yesterday's quarantine. Its orders/*
subscription outage must be noticed: the webhook-coverage check reads the reconciliation of the bulk
step's run over the webhook day, fails below its threshold, and its alarm (``<brand>-local-data-quality-
webhook-coverage``, an hour's period lasts a minute locally) goes to ALARM with the alerts topic's
notification.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from platformctl.localcloud.schedules import fire_schedule
from platformctl.scenarios.report import Report

ORDER = 90
STACK = "data-quality/data-quality"
RESULTS_PREFIX = "metadata/data-quality/"
ALERT_QUEUE = "demo-data-quality-alerts"
COVERAGE_CHECK = "webhook-coverage-orders"
COVERAGE_ALARM = "data-quality-webhook-coverage"  # after <brand>-<environment>-
MUST_PASS = (
    "freshness-shopify-orders",
    "freshness-recharge-subscription",
    "freshness-shopify-bulk",
    "bulk-manifest-latest",
)


def _keys(cloud: Any, bucket: str, prefix: str) -> set[str]:
    pages = cloud.target.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {entry["Key"] for page in pages for entry in page.get("Contents", [])}


def _alert_queue(cloud: Any, topic_arn: str) -> str:
    sqs, sns = cloud.target.client("sqs"), cloud.target.client("sns")
    queue_url = str(sqs.create_queue(QueueName=ALERT_QUEUE)["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscribed = sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", [])
    if not any(s.get("Endpoint") == queue_arn for s in subscribed):  # a second run reuses the first's
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    _drain(cloud, queue_url)
    return queue_url


def _drain(cloud: Any, queue_url: str) -> list[dict[str, Any]]:
    """The data-quality alerts in the queue (other alerts on the topic are dropped)."""
    sqs = cloud.target.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            envelope = json.loads(message["Body"])
            try:
                body = json.loads(envelope.get("Message", ""))
            except json.JSONDecodeError:
                body = {}
            if isinstance(body, dict) and body.get("kind") == "data-quality-failed":
                found.append({"subject": envelope.get("Subject"), **body})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _metric(cloud: Any, namespace: str, name: str, dimensions: list[dict[str, str]]) -> float | None:
    now = datetime.now(UTC)
    points = (
        cloud.target.client("cloudwatch")
        .get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=dimensions,
            StartTime=now - timedelta(minutes=10),
            EndTime=now + timedelta(minutes=1),
            Period=660,
            Statistics=["Maximum"],
        )
        .get("Datapoints", [])
    )
    return max((float(p["Maximum"]) for p in points), default=None)


def step(cloud: Any, report: Report) -> None:
    report.section("Data quality: the scheduled checks of the lake")
    outputs = cloud.stack_outputs()
    stack = outputs.get(STACK, {})
    schedule = stack.get("DataQualityScheduleName")
    namespace = stack.get("DataQualityMetricsNamespace", "")
    topic = outputs.get("monitoring/monitoring", {}).get("AlertsTopicArn")
    bucket = cloud.endpoints().get("bucket")
    if not schedule or not topic or not bucket:
        report.expect(False, "the data-quality stack (with its schedule), monitoring and the lake must be deployed")
        return
    queue_url = _alert_queue(cloud, topic)
    before = _keys(cloud, bucket, RESULTS_PREFIX)
    fired_at = time.time()
    report.line(f"fire schedule {schedule}: {fire_schedule(cloud.target, schedule)}")
    report.expect(cloud.wait_idle(timeout=300), "the data-quality run did not settle within 5 minutes")
    new = sorted(_keys(cloud, bucket, RESULTS_PREFIX) - before)
    report.expect(len(new) == 1, f"expected one new results.json, found {len(new)}: {new}")
    if not new:
        return
    key = new[0]
    document = json.loads(cloud.target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    results = {r["id"]: r for r in document["results"]}
    report.table(
        ("CHECK", "SOURCE", "STATUS", "REASON"),
        [(r["id"], r["source"], r["status"].upper(), r["reason"]) for r in document["results"]],
    )
    counts = document["summary"]
    report.line("")
    report.line(f"results: s3://{bucket}/{key}")
    report.line(
        f"{counts['checks']} checks: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
    )
    for check in MUST_PASS:
        status = results.get(check, {}).get("status")
        report.expect(status == "pass", f"{check} should pass after the demo's traffic, got {status}")
    report.expect(all(r["reason"] for r in results.values()), "a check result has no reason")

    failed_metric = _metric(cloud, namespace, "ChecksFailed", [])
    runs_metric = _metric(cloud, namespace, "Runs", [])
    report.line(f"metrics {namespace}: ChecksFailed {failed_metric}, Runs {runs_metric} (and CheckFailed per Check)")
    report.expect(runs_metric == 1, "no Runs datapoint in the metrics")
    report.expect(
        failed_metric is not None and failed_metric >= counts["failed"],
        f"ChecksFailed {failed_metric} does not show the run's {counts['failed']} failed check(s)",
    )

    _report_coverage(cloud, report, results.get(COVERAGE_CHECK, {}), fired_at)

    alerts = [a for a in _drain(cloud, queue_url) if a.get("run_id") == document["run_id"]]
    for alert in alerts:
        report.line(f"alert on the alerts topic: {alert['subject']}")
        for failure in alert["failed"]:
            report.line(f"  FAILED {failure['id']}: {failure['reason']}")
    if not counts["failed"]:
        report.line("no check failed: no alert was published")
    report.expect(
        len(alerts) == (1 if counts["failed"] else 0),
        f"{len(alerts)} alert(s) for a run with {counts['failed']} failed check(s); expected one alert only on failure",
    )


def _report_coverage(cloud: Any, report: Report, result: dict[str, Any], fired_at: float) -> None:
    """The webhook day lost its orders/* deliveries for hours: the coverage check and its alarm notice."""
    from platformctl.scenarios.shopify_realtime import _report_alarm

    details = result.get("details") or {}
    report.line("")
    report.line(
        f"{COVERAGE_CHECK}: {str(result.get('status')).upper()}, coverage {result.get('value')} "
        f"(threshold {details.get('min_coverage')}, sample {details.get('in_window')} orders)"
    )
    report.expect(
        result.get("status") == "fail" and float(result.get("value") or 1) < float(details.get("min_coverage") or 0),
        f"{COVERAGE_CHECK} should fail below its threshold after the webhook day's outage, got {result.get('status')}",
    )
    pages = cloud.target.client("cloudwatch").get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"])
    names = [a["AlarmName"] for page in pages for a in page["MetricAlarms"] if a["AlarmName"].endswith(COVERAGE_ALARM)]
    if not names:
        report.expect(False, f"no *-{COVERAGE_ALARM} alarm is deployed")
        return
    _report_alarm(cloud, report, names[0], "ALARM", (fired_at, "after the schedule fired"))
