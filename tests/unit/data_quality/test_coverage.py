"""The webhook coverage check and the bulk checks per resource, against a moto lake, through the runner."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.data_quality.conftest import NAMESPACE, SPEC_FILE, Lake, RunnerFactory, by_id

COVERAGE = "webhook-coverage-orders"


def run(make_runner: RunnerFactory, lake: Lake, **overrides: str) -> dict[str, dict[str, Any]]:
    summary = make_runner(**overrides).run({}, "req-00000000")
    return by_id(lake.document(summary["results_key"]))


def set_fields(lake: Lake, check_id: str, **fields: Any) -> None:
    spec = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    next(c for c in spec["checks"] if c["id"] == check_id).update(fields)
    lake.put_spec(spec)


def coverage(make_runner: RunnerFactory, lake: Lake, **overrides: str) -> dict[str, Any]:
    return run(make_runner, lake, **overrides)[COVERAGE]


def test_low_coverage_fails_naming_the_figures(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("123")
    lake.put_reconciliation("123", in_window=100, missing=20, stale=9, current=60, newer_in_store=11)
    result = coverage(make_runner, lake)
    assert result["status"] == "fail"
    assert result["reason"] == (
        "coverage 0.71: 29 of 100 orders updated in the window of run 123 had no webhook "
        "(missing 20, stale 9; limit 0.95)"
    )
    assert result["value"] == 0.71
    assert result["details"]["runs"][0]["since"] == "2026-03-09T00:00:00Z"


def test_high_coverage_passes(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("123")
    lake.put_reconciliation("123", in_window=100, missing=1, stale=2, current=90, newer_in_store=7)
    result = coverage(make_runner, lake)
    assert result["status"] == "pass"
    assert result["reason"].startswith("coverage 0.97: 97 of 100 orders updated in the window of run 123 had arrived")


def test_the_threshold_is_a_stack_parameter_and_a_spec_field(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("123")
    lake.put_reconciliation("123", in_window=100, missing=10, current=90)
    assert coverage(make_runner, lake)["status"] == "fail"  # 0.90 < 0.95
    assert coverage(make_runner, lake, WEBHOOK_COVERAGE_MIN="0.9")["status"] == "pass"  # the limit is inclusive
    set_fields(lake, COVERAGE, min_coverage=0.8)
    assert coverage(make_runner, lake)["status"] == "pass"


def test_a_small_sample_is_skipped_with_the_reason(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("123")
    lake.put_reconciliation("123", in_window=19, missing=19)
    result = coverage(make_runner, lake)
    assert result["status"] == "skipped"
    assert result["reason"] == "only 19 order(s) updated in the window of run 123 (minimum sample 20)"
    assert coverage(make_runner, lake, WEBHOOK_COVERAGE_MIN_SAMPLE="10")["status"] == "fail"


def test_skipped_before_any_complete_run(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put("metadata/shopify/bulk/run=700/checkpoints/step-00001.ckpt", b"x")  # a run still downloading
    result = coverage(make_runner, lake)
    assert result["status"] == "skipped"
    assert result["reason"] == "no complete orders bulk run yet"


def test_a_run_without_reconciliation_is_skipped(lake: Lake, make_runner: RunnerFactory) -> None:
    """A deployment from before reconciliation, or a run still reconciling."""
    lake.put_manifest("123")
    result = coverage(make_runner, lake)
    assert result["status"] == "skipped"
    assert result["reason"] == (
        "no reconciled incremental orders bulk run yet (newest looked past: 123 (no reconciliation.json))"
    )


def test_a_partial_run_is_looked_past(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("122")
    lake.put_reconciliation("122", in_window=50, current=50)
    lake.put_manifest("123", partial=True, status="FAILED", error_code="TIMEOUT", complete=False)
    lake.put_reconciliation("123", in_window=50, missing=50)  # never written for a partial run; ignored anyway
    result = coverage(make_runner, lake)
    assert result["status"] == "pass"
    assert "run 122" in result["reason"]
    assert result["details"]["passed_over"] == ["123 (incomplete)"]


def test_only_partial_runs_skip(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("123", partial=True, status="FAILED", error_code="TIMEOUT", complete=False)
    result = coverage(make_runner, lake)
    assert result["status"] == "skipped"
    assert "123 (incomplete)" in result["reason"]


def test_the_newest_run_is_chosen_numerically(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("99")
    lake.put_reconciliation("99", in_window=100, missing=50, current=50)
    lake.put_manifest("100")  # run=100/ sorts before run=99/ as text, but is the newer run
    lake.put_reconciliation("100", in_window=100, current=100)
    result = coverage(make_runner, lake)
    assert result["status"] == "pass"
    assert "window of run 100" in result["reason"]


def test_runs_of_other_resources_and_full_exports_are_looked_past(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("10")
    lake.put_reconciliation("10", in_window=100, missing=40, current=60)
    lake.put_manifest("11")
    lake.put_reconciliation("11", since=None, in_window=5000, missing=4000, current=1000)  # the first, full run
    lake.put_manifest("12", resource="customers")
    lake.put_reconciliation("12", in_window=100, current=100)
    lake.put_manifest("13", resource="products")
    result = coverage(make_runner, lake)
    assert result["status"] == "fail"
    assert "window of run 10 " in result["reason"]
    assert result["details"]["passed_over"] == ["11 (full export)"]


def test_several_runs_are_summed(lake: Lake, make_runner: RunnerFactory) -> None:
    for run_id in ("1", "2"):
        lake.put_manifest(run_id)
        lake.put_reconciliation(run_id, in_window=12, missing=2, current=10)
    set_fields(lake, COVERAGE, runs=2)
    result = coverage(make_runner, lake)
    assert result["status"] == "fail"
    assert result["reason"].startswith(
        "coverage 0.83: 4 of 24 orders updated in the window of runs 2, 1 had no webhook"
    )


def test_an_invalid_reconciliation_fails(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("123")
    lake.put_reconciliation("123", raw=b'{"entities": {"orders": {"in_window": "many"}}}')
    result = coverage(make_runner, lake)
    assert result["status"] == "fail"
    assert result["reason"].startswith("the reconciliation.json of run(s) 123 has no integer counts for orders")


def test_a_failure_has_its_own_metric_runbook_and_alert_line(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("123")
    lake.put_reconciliation("123", in_window=100, missing=29, current=71)
    summary = make_runner().run({}, "req-1")
    assert summary["failed_checks"] == [COVERAGE]
    names = {
        (m["MetricName"], tuple((d["Name"], d["Value"]) for d in m.get("Dimensions", [])))
        for m in lake.cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
    }
    assert ("WebhookCoverage", (("Check", COVERAGE),)) in names
    assert ("ChecksFailed", (("CheckType", "webhook_coverage"),)) in names
    assert ("ChecksFailed", (("CheckType", "bulk_manifest"),)) in names  # evaluated types only
    assert ("ChecksFailed", (("CheckType", "volume_anomaly"),)) not in names
    statistics = lake.cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="ChecksFailed",
        Dimensions=[{"Name": "CheckType", "Value": "webhook_coverage"}],
        StartTime="2000-01-01T00:00:00Z",
        EndTime="2100-01-01T00:00:00Z",
        Period=86400 * 365,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert [p["Maximum"] for p in statistics] == [1.0]
    [alert] = lake.alerts()
    message = json.loads(alert["message"])
    assert message["failed"][0]["runbook"] == "docs/runbooks/data-quality-webhook-coverage.md"
    assert message["runbook"] == "docs/runbooks/data-quality-check-failed.md"


# ------------------------------------------------------------------------------ bulk checks per resource


def test_the_orders_bulk_checks_ignore_runs_of_other_resources(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("50")  # a manifest without resource: an orders run
    lake.put_manifest("51", resource="customers", partial=True, status="FAILED", error_code="TIMEOUT")
    lake.put_manifest("52", resource="products")
    results = run(make_runner, lake)
    assert results["bulk-manifest-latest"]["status"] == "pass"
    assert results["bulk-manifest-latest"]["reason"].startswith("run 50: complete")
    assert results["freshness-shopify-bulk"]["details"]["run_id"] == "50"
    assert results["bulk-manifest-customers"]["status"] == "fail"
    assert results["bulk-manifest-customers"]["reason"] == "run 51: partial result (status FAILED, error TIMEOUT)"
    assert results["bulk-manifest-products"]["reason"].startswith("run 52: complete")


def test_a_resource_without_runs_is_skipped(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("50")
    result = run(make_runner, lake)["bulk-manifest-customers"]
    assert result["status"] == "skipped"
    assert result["reason"] == "no customers bulk run has written a manifest yet"


def test_the_look_back_for_a_resource_is_bounded(lake: Lake, make_runner: RunnerFactory) -> None:
    from data_quality.checks import bulk as dq_bulk

    lake.put_manifest("1", resource="customers")
    for run_id in range(2, dq_bulk.OTHER_RUNS_LOOKED_PAST + 3):
        lake.put_manifest(str(run_id))
    result = run(make_runner, lake)["bulk-manifest-customers"]
    assert result["status"] == "skipped"
    looked_at = dq_bulk.OTHER_RUNS_LOOKED_PAST + 1
    assert result["reason"] == f"no customers bulk run among the newest {looked_at} bulk runs wrote a manifest"
