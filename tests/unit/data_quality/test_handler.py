"""What a run leaves: the results document and its key, the metrics, and one alert only when a check failed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType

import pytest

from tests.unit import lambda_loader
from tests.unit.data_quality.conftest import (
    NAMESPACE,
    SPEC_FILE,
    Clock,
    Lake,
    RunnerFactory,
    by_id,
    environment,
    today,
)

ORDERS = "raw/shopify/webhooks/orders/"
SCHEDULED = {"scheduled_time": "2026-03-02T13:00:00Z", "execution_id": "3f1c2a9b-7d4e-4c6b-9a51-0e2f6b1d8c70"}
CHECKS = len(json.loads(SPEC_FILE.read_text(encoding="utf-8"))["checks"])
PLACEHOLDERS = {"scheduled_time": "<aws.scheduler.scheduled-time>", "execution_id": "<aws.scheduler.execution-id>"}


def _healthy(lake: Lake) -> None:
    lake.put(f"{ORDERS}topic=orders_create/dt={today()}/event-1.json")
    lake.put_manifest("900")


def _broken(lake: Lake) -> None:
    lake.put(f"{ORDERS}topic=orders_create/dt={today()}/event-1.json", b'{"email": "jane@example.com"}')
    lake.put_manifest("901", partial=True, status="FAILED", error_code="INTERNAL_SERVER_ERROR")
    for n in range(12):
        lake.put(f"quarantine/shopify/dt={today()}/missing-id/{n:064d}.json", b'{"email": "jane@example.com"}')


# ---------------------------------------------------------------------------------------- results key


def test_results_land_under_the_run_date_with_one_document_per_run(lake: Lake, make_runner: RunnerFactory) -> None:
    _healthy(lake)
    runner = make_runner()
    first = runner.run(PLACEHOLDERS, "0a1b2c3d-aaaa-bbbb-cccc-000000000001")
    second = runner.run({}, "9f8e7d6c-aaaa-bbbb-cccc-000000000002")
    pattern = rf"^metadata/data-quality/dt={today()}/run=\d{{8}}T\d{{6}}Z-(?P<id>[0-9a-f]{{8}})/results\.json$"
    assert re.match(pattern, first["results_key"])
    assert re.match(pattern, first["results_key"])["id"] == "0a1b2c3d"  # type: ignore[index]
    assert re.match(pattern, second["results_key"])["id"] == "9f8e7d6c"  # type: ignore[index]
    assert sorted(lake.keys("metadata/data-quality/")) == sorted([first["results_key"], second["results_key"]])


def test_a_scheduled_run_is_named_after_its_scheduled_time_so_a_retry_overwrites_it(
    lake: Lake, make_runner: RunnerFactory
) -> None:
    _healthy(lake)
    runner = make_runner()
    first = runner.run(SCHEDULED, "request-1")
    retry = runner.run(SCHEDULED, "request-2")
    assert first["results_key"] == "metadata/data-quality/dt=2026-03-02/run=20260302T130000Z-3f1c2a9b/results.json"
    assert retry["results_key"] == first["results_key"]
    assert lake.keys("metadata/data-quality/") == [first["results_key"]]
    assert lake.document(first["results_key"])["scheduled_time"] == "2026-03-02T13:00:00Z"


def test_the_results_document(lake: Lake, make_runner: RunnerFactory) -> None:
    _broken(lake)
    summary = make_runner().run({}, "req-12345678")
    document = lake.document(summary["results_key"])
    assert document["run_id"] == summary["run_id"]
    assert document["spec"] == "s3://acme-data-lake-123456789012/artifacts/data-quality/checks.json"
    assert document["summary"] == {"checks": CHECKS, "passed": 2, "failed": 2, "skipped": CHECKS - 4}
    results = by_id(document)
    assert results["bulk-manifest-latest"]["status"] == "fail"
    assert results["quarantine-shopify"]["status"] == "fail"
    assert results["freshness-shopify-orders"]["status"] == "pass"
    for result in document["results"]:
        assert result["reason"], f"{result['id']} has no reason"
        assert set(result) >= {"id", "type", "source", "prefix", "status", "reason"}
    assert summary["failed_checks"] == ["quarantine-shopify", "bulk-manifest-latest"]


# --------------------------------------------------------------------------------------------- metrics


def _metrics(lake: Lake) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for metric in lake.cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]:
        dimensions = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
        statistics = lake.cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName=metric["MetricName"],
            Dimensions=metric.get("Dimensions", []),
            StartTime=datetime.now(UTC) - timedelta(hours=1),
            EndTime=datetime.now(UTC) + timedelta(hours=1),
            Period=7200,
            Statistics=["Maximum"],
        )["Datapoints"]
        found[(metric["MetricName"], dimensions)] = max(p["Maximum"] for p in statistics)
    return found


def test_metrics_per_check_and_totals(lake: Lake, make_runner: RunnerFactory) -> None:
    _broken(lake)
    make_runner().run({}, "req-1")
    metrics = _metrics(lake)
    assert metrics[("ChecksFailed", ())] == 2
    assert metrics[("ChecksPassed", ())] == 2
    assert metrics[("ChecksSkipped", ())] == CHECKS - 4
    assert metrics[("Runs", ())] == 1
    assert metrics[("CheckFailed", (("Check", "quarantine-shopify"),))] == 1
    assert metrics[("CheckFailed", (("Check", "freshness-shopify-orders"),))] == 0
    assert metrics[("QuarantinedObjects", (("Check", "quarantine-shopify"),))] == 12
    assert metrics[("FreshnessAgeHours", (("Check", "freshness-shopify-orders"),))] < 1
    assert ("CheckFailed", (("Check", "freshness-recharge-subscription"),)) not in metrics  # skipped: no datapoint


# ---------------------------------------------------------------------------------------------- alerts


def test_one_concise_alert_when_checks_fail_without_pii(lake: Lake, make_runner: RunnerFactory) -> None:
    _broken(lake)
    summary = make_runner().run({}, "req-1")
    alerts = lake.alerts()
    assert len(alerts) == 1
    assert alerts[0]["subject"] == f"[acme test] data quality: 2 of {CHECKS} checks failed"
    message = json.loads(alerts[0]["message"])  # the queue gets the JSON form
    assert message["kind"] == "data-quality-failed"
    assert [f["id"] for f in message["failed"]] == ["quarantine-shopify", "bulk-manifest-latest"]
    assert message["results"] == f"s3://acme-data-lake-123456789012/{summary['results_key']}"
    assert message["runbook"] == "docs/runbooks/data-quality-check-failed.md"
    assert "jane@example.com" not in alerts[0]["message"]
    assert summary["alert_published"] is True


def test_the_email_form_lists_each_failed_check(app_classes: ModuleType) -> None:
    from data_quality.checks import definitions, report
    from data_quality.checks import spec as dq_spec

    check = dq_spec.Check(id="quarantine-shopify", type="quarantine", source="shopify", prefix="quarantine/shopify/")
    results = [definitions.CheckResult(check, "fail", "12 object(s) quarantined today")]
    run = report.RunInfo("20260302T130000Z-abcdef12", datetime(2026, 3, 2, 13, tzinfo=UTC), None)
    subject, body = report.alert(results, run, label="acme prod", bucket="b", results_key="k") or ("", "")
    email = json.loads(body)["email"]
    assert "FAILED quarantine-shopify: 12 object(s) quarantined today" in email
    assert "Results: s3://b/k" in email
    assert subject == "[acme prod] data quality: 1 of 1 checks failed"


def test_no_alert_when_nothing_failed(lake: Lake, make_runner: RunnerFactory) -> None:
    _healthy(lake)
    summary = make_runner().run({}, "req-1")
    assert summary["failed"] == 0
    assert summary["alert_published"] is False
    assert lake.alerts() == []


def test_no_alert_without_a_topic_but_results_and_metrics_still_land(lake: Lake, make_runner: RunnerFactory) -> None:
    _broken(lake)
    summary = make_runner(alerts=False).run({}, "req-1")
    assert summary["failed"] == 2
    assert lake.alerts() == []
    assert lake.keys("metadata/data-quality/") == [summary["results_key"]]


def test_one_alert_per_run_however_many_checks_fail(lake: Lake, make_runner: RunnerFactory, clock: Clock) -> None:
    _broken(lake)
    lake.put("raw/recharge/charge/topic=charge_created/dt=2020-01-01/1-x.json")
    clock.offset = timedelta(hours=50)
    summary = make_runner().run({}, "req-1")
    assert summary["failed"] >= 4
    assert len(lake.alerts()) == 1


# ---------------------------------------------------------------------------------------------- handler


class _Context:
    function_name = "acme-test-data-quality"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:acme-test-data-quality"
    memory_limit_in_mb = 256
    aws_request_id = "c0ffee00-1111-2222-3333-444455556666"
    log_group_name = "/aws/lambda/acme-test-data-quality"
    log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@pytest.fixture
def app_module(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """app.py imported whole with the function's environment, as the runtime imports it."""
    from common import aws

    for name, value in environment(lake.topic_arn).items():
        monkeypatch.setenv(name, value)
    yield lambda_loader.load_app("data_quality/checks", name="data_quality_app_under_test", fresh=True)
    aws.client.cache_clear()  # its clients belong to this test's moto


def test_the_handler_runs_the_checks_with_the_deployed_environment(lake: Lake, app_module: ModuleType) -> None:
    _broken(lake)
    summary = app_module.handler(PLACEHOLDERS, _Context())
    assert summary["results_key"].endswith("-c0ffee00/results.json")
    assert summary["failed"] == 2
    assert lake.keys("metadata/data-quality/") == [summary["results_key"]]
    assert len(lake.alerts()) == 1
