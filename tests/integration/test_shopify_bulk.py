"""The bulk orders workflow on the local cloud: the real template, the real state machine (Wait, Choice,
Retry, Catch), the handlers in their workers, the simulator behind the real secret, moto's S3.

Paths: success; throttled and 5xx then success; operation in progress; failed with partial data;
access denied; canceled and expired; expired URL mid-download; interrupted (many steps) and resumed
into identical objects; count mismatch; incremental from the watermark; ``platformctl bulk``; customers
and products (parts, manifest ``resource``, their own watermarks and schedules).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from platformctl.cli import main

pytestmark = pytest.mark.integration

# Every order of the simulated shop is updated before this instant, so runs with this window export
# the same objects and can be compared byte for byte.
WINDOW = {"since": "2024-01-01T00:00:00Z", "until": "2025-06-03T00:00:00Z"}
WATERMARK_KEY = "metadata/shopify/bulk/orders/watermark.json"
RUN_TIMEOUT = 240.0  # a bound on waiting, not an assertion on speed


@pytest.fixture(scope="module")
def env(local_cloud: Any) -> dict[str, Any]:
    endpoints = local_cloud.endpoints()
    if "shopify_bulk" not in endpoints["state_machines"]:
        pytest.skip("the shopify/bulk-workflow stack is not deployed (PLATFORM_LOCAL_STACKS)")
    return {
        "cloud": local_cloud,
        "machine": endpoints["state_machines"]["shopify_bulk"],
        "simulator": endpoints["simulators"]["shopify"],
        "bucket": endpoints["bucket"],
        "sfn": local_cloud.target.client("stepfunctions"),
        "s3": local_cloud.target.client("s3"),
    }


@pytest.fixture(autouse=True)
def fresh_simulator(env: dict[str, Any]) -> Iterator[None]:
    requests.post(f"{env['simulator']}/_simulator/reset", json={"operations": True}, timeout=10).raise_for_status()
    yield
    requests.post(f"{env['simulator']}/_simulator/reset", json={"operations": True}, timeout=10).raise_for_status()


def control(env: dict[str, Any], **behaviour: Any) -> None:
    requests.post(f"{env['simulator']}/_simulator/control", json=behaviour, timeout=10).raise_for_status()


def simulator_state(env: dict[str, Any]) -> dict[str, Any]:
    return dict(requests.get(f"{env['simulator']}/_simulator/state", timeout=10).json())


def run(env: dict[str, Any], document: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Start an execution and wait (bounded) for its end: (description, history)."""
    sfn = env["sfn"]
    arn = sfn.start_execution(
        stateMachineArn=env["machine"], name=f"test-{uuid.uuid4().hex[:12]}", input=json.dumps(document)
    )["executionArn"]
    deadline = time.monotonic() + RUN_TIMEOUT
    description = sfn.describe_execution(executionArn=arn)
    while description["status"] == "RUNNING":
        if time.monotonic() > deadline:
            with contextlib.suppress(Exception):
                sfn.stop_execution(executionArn=arn)
            pytest.fail(f"execution {arn} still running after {RUN_TIMEOUT}s")
        time.sleep(0.5)
        description = sfn.describe_execution(executionArn=arn)
    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = sfn.get_execution_history(executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {}))
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            return dict(description), events


def entered(history: list[dict[str, Any]], state: str) -> int:
    return sum((e.get("stateEnteredEventDetails") or {}).get("name") == state for e in history)


def run_document(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The export's output ($.run) as the history recorded it."""
    for event in history:
        details = event.get("stateExitedEventDetails") or {}
        if details.get("name") == "Export":
            return dict(json.loads(details["output"])["run"])
    raise AssertionError("the execution never left Export")


def manifest(env: dict[str, Any], run_id: str) -> dict[str, Any]:
    key = f"metadata/shopify/bulk/run={run_id}/manifest.json"
    return dict(json.loads(env["s3"].get_object(Bucket=env["bucket"], Key=key)["Body"].read()))


def parts(env: dict[str, Any], run_id: str) -> dict[str, bytes]:
    """Every part of a run: ``<type folder>/<part file>`` -> its gzip bytes."""
    found = {}
    pages = env["s3"].get_paginator("list_objects_v2").paginate(Bucket=env["bucket"], Prefix="raw/shopify/bulk/")
    for page in pages:
        for item in page.get("Contents", []):
            if f"/run={run_id}/" in item["Key"]:
                folder, _, name = item["Key"].removeprefix("raw/shopify/bulk/").partition(f"/run={run_id}/")
                found[f"{folder}/{name}"] = env["s3"].get_object(Bucket=env["bucket"], Key=item["Key"])["Body"].read()
    return found


def watermark(env: dict[str, Any]) -> bytes | None:
    try:
        return bytes(env["s3"].get_object(Bucket=env["bucket"], Key=WATERMARK_KEY)["Body"].read())
    except env["s3"].exceptions.NoSuchKey:
        return None


def source_lines(env: dict[str, Any]) -> list[bytes]:
    """The result file the simulator served for the last operation, line by line."""
    operation = simulator_state(env)["operations"][-1]
    gid = f"gid://shopify/BulkOperation/{operation['id'].rsplit('/', 1)[1]}"
    url = requests.post(
        f"{env['simulator']}/admin/api/2026-01/graphql.json",
        json={"query": f'{{ bulkOperation(id: "{gid}") {{ url partialDataUrl }} }}'},
        headers={"X-Shopify-Access-Token": _token(env)},
        timeout=10,
    ).json()["data"]["bulkOperation"]
    body = requests.get(url["url"] or url["partialDataUrl"], timeout=30).content
    return body.splitlines()


def _token(env: dict[str, Any]) -> str:
    secrets = env["cloud"].target.client("secretsmanager")
    names = [s["ARN"] for s in secrets.list_secrets()["SecretList"] if s["Name"].endswith("/ShopifyAdminApiSecret")]
    return str(json.loads(secrets.get_secret_value(SecretId=names[0])["SecretString"])["access_token"])


def unpacked(files: dict[str, bytes]) -> dict[str, bytes]:
    per_type: dict[str, bytes] = {}
    for name in sorted(files):
        folder = name.split("/", 1)[0]
        per_type[folder] = per_type.get(folder, b"") + gzip.decompress(files[name])
    return per_type


# -------------------------------------------------------------------------------------------- paths


def test_a_run_lands_parts_per_type_a_manifest_and_the_watermark(env: dict[str, Any]) -> None:
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    description, history = run(env, {"since": WINDOW["since"], "until": until})
    assert description["status"] == "SUCCEEDED", description.get("cause")
    output = json.loads(description["output"])
    document = manifest(env, output["run_id"])
    assert document["counts_match"]
    assert document["complete"]
    assert not document["partial"]
    assert document["objects_written"] == document["object_count_reported"] == output["objects"]
    assert document["execution"] == description["executionArn"]
    files = parts(env, output["run_id"])
    assert {name.split("/")[0] for name in files} >= {"order", "line_item", "discount_code_application"}
    lines = source_lines(env)
    written = [line for body in unpacked(files).values() for line in body.splitlines()]
    assert sorted(written) == sorted(lines), "every line of the result, once, nothing else"
    orders = [json.loads(line) for line in unpacked(files)["order"].splitlines()]
    assert all(o["__typename"] == "Order" and "customer" in o and "transactions" in o for o in orders)
    children = [json.loads(line) for line in unpacked(files)["line_item"].splitlines()]
    assert {c["__parentId"] for c in children} <= {o["id"] for o in orders}
    mark = json.loads(watermark(env) or b"{}")
    assert mark["watermark"].startswith(until[:19])
    assert mark["run_id"] == output["run_id"]
    assert entered(history, "WaitForOperation") >= 1
    assert entered(history, "Poll") >= 2
    # the token the functions sent was checked against the deployed ShopifyAdminApiSecret
    assert simulator_state(env)["counters"].get("auth_checked_against_secret", 0) >= 3
    # the signed result URL never entered Step Functions: no input, output or history event holds it
    assert "/_results/" not in json.dumps(history, default=str)
    assert "/_results/" not in json.dumps(description, default=str)
    assert simulator_state(env)["counters"].get("result_requests_with_credentials", 0) == 0


@pytest.mark.parametrize(
    ("behaviour", "origin"),
    [
        ({"result_url": "https://evil.example/bulk.jsonl?Signature=SECRET"}, "https://evil.example"),
        ({"redirect_results": "http://169.254.169.254/latest/meta-data/"}, "http://169.254.169.254"),
    ],
)
def test_a_result_url_off_the_allow_list_fails_the_run_with_a_clear_cause(
    env: dict[str, Any], behaviour: dict[str, Any], origin: str
) -> None:
    before = watermark(env)
    control(env, **behaviour)
    description, history = run(env, WINDOW)
    assert description["status"] == "FAILED"
    assert description["error"] == "ResultUrlNotAllowedError"
    assert origin in description["cause"]
    assert "SECRET" not in json.dumps(history, default=str)
    assert not parts(env, run_document(history)["run_id"])
    assert watermark(env) == before


def test_throttling_and_5xx_are_retried_to_success(env: dict[str, Any]) -> None:
    control(env, throttle=3, http_error={"status": 503, "times": 2})
    description, _ = run(env, WINDOW)
    assert description["status"] == "SUCCEEDED", description.get("cause")
    counters = simulator_state(env)["counters"]
    assert counters["throttled"] == 3
    assert counters["http_503"] == 2


def test_an_operation_in_progress_is_waited_for(env: dict[str, Any]) -> None:
    control(env, user_error={"code": "OPERATION_IN_PROGRESS", "times": 2})
    description, history = run(env, WINDOW)
    assert description["status"] == "SUCCEEDED", description.get("cause")
    assert simulator_state(env)["counters"]["user_error_operation_in_progress"] == 2
    failed = [e for e in history if e["type"] == "LambdaFunctionFailed"]
    assert [json.loads(e["lambdaFunctionFailedEventDetails"]["cause"])["errorType"] for e in failed] == [
        "BulkOperationInProgressError",
        "BulkOperationInProgressError",
    ]


def test_failed_with_partial_data_keeps_it_marks_it_and_fails(env: dict[str, Any]) -> None:
    before = watermark(env)
    control(env, outcome={"status": "FAILED", "error_code": "INTERNAL_SERVER_ERROR", "partial_fraction": 0.4})
    description, history = run(env, WINDOW)
    assert description["status"] == "FAILED"
    assert description["error"] == "BulkOperationFailedPartialData"
    assert "INTERNAL_SERVER_ERROR" in description["cause"]
    document = manifest(env, run_document(history)["run_id"])
    assert document["partial"]
    assert not document["complete"]
    assert not document["watermark_advanced"]
    assert document["objects_written"] == document["object_count_reported"] > 0
    assert watermark(env) == before
    assert sorted(line for b in unpacked(parts(env, document["run_id"])).values() for line in b.splitlines()) == sorted(
        source_lines(env)
    )


def test_access_denied_fails_naming_the_missing_scope(env: dict[str, Any]) -> None:
    control(
        env,
        outcome={"status": "FAILED", "error_code": "ACCESS_DENIED"},
        scopes=["read_orders", "read_all_orders", "read_products"],
    )
    description, history = run(env, WINDOW)
    assert description["status"] == "FAILED"
    assert description["error"] == "BulkAccessDeniedError"
    assert "read_customers" in description["cause"]
    assert entered(history, "Download") == 0


@pytest.mark.parametrize(
    ("status", "error"), [("CANCELED", "BulkOperationCanceled"), ("EXPIRED", "BulkOperationExpired")]
)
def test_canceled_and_expired_operations_fail(env: dict[str, Any], status: str, error: str) -> None:
    control(env, outcome={"status": status})
    description, _ = run(env, WINDOW)
    assert (description["status"], description["error"]) == ("FAILED", error)


def test_an_expired_url_mid_download_is_refreshed_and_resumed(env: dict[str, Any]) -> None:
    reference, _ = run(env, WINDOW)
    assert reference["status"] == "SUCCEEDED", reference.get("cause")
    control(env, expire_url_after_bytes=400_000)
    description, history = run(env, WINDOW)
    assert description["status"] == "SUCCEEDED", description.get("cause")
    assert entered(history, "RefreshUrl") == 1
    assert entered(history, "Download") == 2
    counters = simulator_state(env)["counters"]
    assert counters["expired_url_requests"] >= 1
    assert counters["range_requests"] >= 1
    first, second = json.loads(reference["output"])["run_id"], json.loads(description["output"])["run_id"]
    assert parts(env, first) == parts(env, second), "the refreshed download wrote the same bytes"


def test_an_interrupted_download_resumes_into_identical_objects(env: dict[str, Any]) -> None:
    whole, whole_history = run(env, WINDOW)
    assert whole["status"] == "SUCCEEDED", whole.get("cause")
    stepped, stepped_history = run(env, {**WINDOW, "options": {"max_bytes_per_step": 100_000}})
    assert stepped["status"] == "SUCCEEDED", stepped.get("cause")
    assert entered(whole_history, "Download") == 1
    assert entered(stepped_history, "Download") >= 4
    first, second = json.loads(whole["output"]), json.loads(stepped["output"])
    assert parts(env, first["run_id"]) == parts(env, second["run_id"])
    assert manifest(env, second["run_id"])["steps"] == entered(stepped_history, "Download")
    listed = env["s3"].list_objects_v2(
        Bucket=env["bucket"], Prefix=f"metadata/shopify/bulk/run={second['run_id']}/checkpoints/"
    )
    assert listed.get("KeyCount", 0) == 0


def test_a_count_mismatch_fails_the_run(env: dict[str, Any]) -> None:
    before = watermark(env)
    control(env, object_count_offset=1)
    description, history = run(env, WINDOW)
    assert (description["status"], description["error"]) == ("FAILED", "BulkCountMismatchError")
    document = manifest(env, run_document(history)["run_id"])
    assert document["counts_match"] is False
    assert document["object_count_reported"] == document["objects_written"] + 1
    assert watermark(env) == before


def test_an_incremental_run_starts_at_the_watermark(env: dict[str, Any]) -> None:
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    first, _ = run(env, {"since": WINDOW["since"], "until": until})
    assert first["status"] == "SUCCEEDED", first.get("cause")
    before = datetime.fromisoformat(json.loads(watermark(env) or b"{}")["watermark"].replace("Z", "+00:00"))
    assert before >= datetime.fromisoformat(until.replace("Z", "+00:00"))
    description, history = run(env, {})
    assert description["status"] == "SUCCEEDED", description.get("cause")
    window = run_document(history)["window"]
    assert window["source"] == "watermark"
    since = datetime.fromisoformat(window["since"].replace("Z", "+00:00"))
    assert since == before.replace(microsecond=0) - timedelta(seconds=900), "the watermark minus the overlap"
    after = json.loads(watermark(env) or b"{}")
    assert after["watermark"][:19] == window["until"][:19]
    assert after["run_id"] == json.loads(description["output"])["run_id"]


# ----------------------------------------------------------------------------------- operations


def test_schedule_alarms_and_endpoints(env: dict[str, Any]) -> None:
    cloud = env["cloud"]
    schedule = cloud.target.client("scheduler").get_schedule(Name="acme-local-shopify-bulk-orders")
    assert schedule["Target"]["Arn"] == env["machine"]
    assert schedule["ScheduleExpression"] == "rate(1 day)"
    alarms = {
        a["AlarmName"]: a
        for a in cloud.target.client("cloudwatch").describe_alarms(AlarmNamePrefix="acme-local-bulk-")["MetricAlarms"]
    }
    assert set(alarms) == {
        "acme-local-bulk-workflow-failed",
        "acme-local-bulk-workflow-stale",
        "acme-local-bulk-export-errors",
        "acme-local-bulk-poll-errors",
        "acme-local-bulk-download-errors",
        "acme-local-bulk-reconcile-errors",
    }
    assert all(
        a["AlarmActions"] and a["AlarmActions"][0].endswith(":acme-data-platform-alerts") for a in alarms.values()
    )
    assert env["machine"].endswith(":stateMachine:acme-shopify-bulk-orders")


def test_platformctl_bulk_start_wait_and_status(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PLATFORMCTL_ENDPOINTS_FILE", str(env["cloud"].endpoints_file))
    code = main(
        [
            "bulk",
            "start",
            "--env",
            "local",
            "--since",
            WINDOW["since"],
            "--until",
            WINDOW["until"],
            "--wait",
            "--max-bytes-per-step",
            "300000",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "started backfill-" in out
    assert "succeeded" in out
    assert "RUNNING" in out
    assert "objects" in out
    assert "elapsed" in out
    name = out.split("started ", 1)[1].split(" ", 1)[0]
    assert main(["bulk", "status", name, "--env", "local"]) == 0
    status = capsys.readouterr().out
    assert "SUCCEEDED" in status
    assert "objects written" in status
    assert "Order" in status
    assert "LineItem" in status
    assert main(["bulk", "status", "--env", "local"]) == 0
    assert name in capsys.readouterr().out


def test_platformctl_bulk_start_reports_a_failure(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PLATFORMCTL_ENDPOINTS_FILE", str(env["cloud"].endpoints_file))
    control(env, outcome={"status": "FAILED", "error_code": "ACCESS_DENIED"}, scopes=["read_orders"])
    assert (
        main(["bulk", "start", "--env", "local", "--since", WINDOW["since"], "--until", WINDOW["until"], "--wait"]) == 1
    )
    out = capsys.readouterr().out
    assert "FAILED" in out
    assert "BulkAccessDeniedError" in out
    assert "read_customers" in out


def test_the_demo_step_reports_without_problems(env: dict[str, Any]) -> None:
    from platformctl.scenarios import shopify_bulk
    from platformctl.scenarios.report import Report

    out = io.StringIO()
    report = Report(out)
    shopify_bulk.step(env["cloud"], report)
    assert report.problems == [], out.getvalue()
    assert "download step(s)" in out.getvalue()
    assert "manifest" in out.getvalue()


# ----------------------------------------------------------------------------- customers, products


def test_customers_and_products_runs_land_parts_manifests_and_their_own_watermarks(env: dict[str, Any]) -> None:
    orders_mark = watermark(env)
    found: dict[str, dict[str, Any]] = {}
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # after any earlier run's: the watermark moves
    for resource, types in (("customers", {"customer"}), ("products", {"product", "product_variant"})):
        description, _ = run(env, {"since": WINDOW["since"], "until": until, "resource": resource})
        assert description["status"] == "SUCCEEDED", description.get("cause")
        output = json.loads(description["output"])
        assert output["resource"] == resource
        document = manifest(env, output["run_id"])
        assert (document["resource"], document["complete"], document["watermark_advanced"]) == (resource, True, True)
        files = parts(env, output["run_id"])
        assert {name.split("/")[0] for name in files} == types
        assert sorted(line for b in unpacked(files).values() for line in b.splitlines()) == sorted(source_lines(env))
        key = f"metadata/shopify/bulk/{resource}/watermark.json"
        mark = json.loads(env["s3"].get_object(Bucket=env["bucket"], Key=key)["Body"].read())
        assert (mark["watermark"][:19], mark["run_id"]) == (until[:19], output["run_id"])
        found[resource] = unpacked(files)
    assert watermark(env) == orders_mark, "customers and products runs leave the orders watermark alone"
    variants = [json.loads(line) for line in found["products"]["product_variant"].splitlines()]
    products = {json.loads(line)["id"] for line in found["products"]["product"].splitlines()}
    assert {v["__parentId"] for v in variants} == products


def test_an_unknown_resource_fails_the_run_before_any_export(env: dict[str, Any]) -> None:
    description, history = run(env, {**WINDOW, "resource": "inventory"})
    assert (description["status"], description["error"]) == ("FAILED", "InvalidResourceError")
    assert "orders, customers, products" in description["cause"]
    assert simulator_state(env)["operations"] == []
    assert entered(history, "Poll") == 0


def test_each_resource_has_its_schedule(env: dict[str, Any]) -> None:
    scheduler = env["cloud"].target.client("scheduler")
    for resource in ("customers", "products"):
        schedule = scheduler.get_schedule(Name=f"acme-local-shopify-bulk-{resource}")
        assert schedule["Target"]["Arn"] == env["machine"]
        assert json.loads(schedule["Target"]["Input"]) == {"resource": resource}
