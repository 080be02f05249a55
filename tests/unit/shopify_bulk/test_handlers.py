"""The three bulk functions as Lambda runs them: windows and userErrors (export), decisions (poll),
steps, manifest, watermark and count checks (download). moto for AWS, the simulator for Shopify."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError

from common.errors import TransientError
from common.shopify.bulk import (
    WATERMARK_KEY,
    BulkAccessDeniedError,
    BulkCountMismatchError,
    BulkOperation,
    BulkOperationInProgressError,
    BulkOperationLimitReachedError,
    BulkOperationRejectedError,
    InvalidWindowError,
    ResultUrlRejectedError,
    manifest_key,
    read_watermark,
)
from platformctl.simulators.shopify_admin import ShopifyAdminSimulator
from tests.conftest import load_shared_json
from tests.unit.shopify_bulk.conftest import BUCKET, Context, read_gzip_parts

Handlers = Callable[[str], ModuleType]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BACKFILL = {"since": "2024-01-01T00:00:00Z", "until": "2025-07-01T00:00:00Z"}


def export(handlers: Handlers, event: dict[str, Any]) -> dict[str, Any]:
    return dict(handlers("bulk_export").handler(json.loads(json.dumps(event)), Context()))


def poll(handlers: Handlers, run: dict[str, Any]) -> dict[str, Any]:
    event = {"operation_id": run["operation_id"], "since": run["window"]["since"]}
    return dict(handlers("bulk_poll").handler(event, Context()))


def poll_until_decided(handlers: Handlers, simulator: ShopifyAdminSimulator, run: dict[str, Any]) -> dict[str, Any]:
    simulator.state.operations[run["operation_id"]].ready.wait(30)
    for _ in range(10):
        result = poll(handlers, run)
        if result["decision"] != "wait":
            return result
    raise AssertionError("the operation never finished")


def download_all(
    handlers: Handlers,
    run: dict[str, Any],
    result: dict[str, Any],
    *,
    refresh: Callable[[], dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], int]:
    """What the state machine's download loop does; returns the last output and the number of steps."""
    previous: dict[str, Any] = {"checkpoint_key": None, "offset": 0, "stalled_refreshes": 0}
    steps = 0
    while True:
        event = {"run": run, "poll": result, "previous": previous, "execution": "arn:test"}
        previous = dict(handlers("bulk_download").handler(json.loads(json.dumps(event)), Context()))
        steps += 1
        if previous["done"]:
            return previous, steps
        if previous["url_expired"]:
            assert refresh is not None
            result = refresh()


def manifest(s3: Any, run_id: str) -> dict[str, Any]:
    return dict(json.loads(s3.get_object(Bucket=BUCKET, Key=manifest_key(run_id))["Body"].read()))


# ------------------------------------------------------------------------------------------- export


def test_an_explicit_window_is_exported(handlers: Handlers, simulator: ShopifyAdminSimulator) -> None:
    run = export(handlers, BACKFILL)
    assert run["window"] == {**BACKFILL, "source": "explicit"}
    assert run["run_id"] == run["operation_id"].rsplit("/", 1)[1]
    query = simulator.state.operations[run["operation_id"]].query
    assert "updated_at:>='2024-01-01T00:00:00Z' AND updated_at:<'2025-07-01T00:00:00Z'" in query
    for needed in ("lineItems", "customer { id }", "shippingAddress", "billingAddress", "discountApplications",
                   "refunds", "fulfillments", "transactions", "__typename"):  # fmt: skip
        assert needed in query


def test_the_window_starts_at_the_watermark_minus_the_overlap(handlers: Handlers, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=WATERMARK_KEY, Body=b'{"watermark": "2025-05-01T00:00:00.000000Z"}')
    run = export(handlers, {})
    assert run["window"]["since"] == "2025-04-30T23:45:00Z"
    assert run["window"]["source"] == "watermark"
    until = datetime.fromisoformat(run["window"]["until"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - until).total_seconds()) < 120


def test_without_a_watermark_the_first_run_reads_everything(
    handlers: Handlers, simulator: ShopifyAdminSimulator
) -> None:
    run = export(handlers, {})
    assert run["window"]["since"] is None
    assert run["window"]["source"] == "full-history"
    assert "updated_at:>=" not in simulator.state.operations[run["operation_id"]].query


def test_window_rules(handlers: Handlers) -> None:
    app = handlers("bulk_export")
    future = app.resolve_window(
        {"since": "2026-01-01T00:00:00Z", "until": "2030-01-01T00:00:00Z"}, lambda: None, NOW, 900
    )
    assert future.until == NOW, "the window never ends in the future"
    with pytest.raises(InvalidWindowError, match="empty"):
        app.resolve_window({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, lambda: None, NOW, 900)
    with pytest.raises(InvalidWindowError, match="ISO-8601"):
        app.resolve_window({"since": "last tuesday"}, lambda: None, NOW, 900)
    with pytest.raises(InvalidWindowError, match="max_bytes_per_step"):
        export(handlers, {"options": {"max_bytes_per_step": -1}})


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("OPERATION_IN_PROGRESS", BulkOperationInProgressError),
        ("LIMIT_REACHED", BulkOperationLimitReachedError),
        ("INVALID", BulkOperationRejectedError),
    ],
)
def test_user_errors(handlers: Handlers, simulator: ShopifyAdminSimulator, code: str, error: type[Exception]) -> None:
    simulator.state.configure(user_error={"code": code, "times": 1})
    with pytest.raises(error):
        export(handlers, BACKFILL)
    assert export(handlers, BACKFILL)["operation_id"]  # used up: the next attempt goes through


def test_an_identical_export_already_running_is_adopted(handlers: Handlers) -> None:
    first = export(handlers, BACKFILL)
    again = export(handlers, BACKFILL)
    assert again["operation_id"] == first["operation_id"]
    assert again["adopted"] is True
    with pytest.raises(BulkOperationInProgressError, match="already in progress"):
        export(handlers, {"since": "2024-02-01T00:00:00Z", "until": "2025-07-01T00:00:00Z"})


def test_the_in_progress_message_of_a_real_response_is_recognised(handlers: Handlers) -> None:
    """Airbyte's recorded answer has no userError code, only Shopify's message."""
    app = handlers("bulk_export")
    recorded = load_shared_json("shopify/graphql/bulk_operation_run_query__concurrent_user_error__airbyte.json")

    class Recorded:
        def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
            if "bulkOperationRunQuery" in query:
                return dict(recorded["data"])
            return {"currentBulkOperation": None}

    window = app.Window(None, NOW, "full-history")
    with pytest.raises(BulkOperationInProgressError, match="4046676525245"):
        app.start_operation(Recorded(), "query", window, NOW)


def test_a_created_operation_of_a_real_response(handlers: Handlers) -> None:
    app = handlers("bulk_export")
    recorded = load_shared_json("shopify/graphql/bulk_operation_run_query__created__shopify-docs.json")

    class Recorded:
        def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
            return dict(recorded["data"])

    operation, adopted = app.start_operation(Recorded(), "q", app.Window(None, NOW, "full-history"), NOW)
    assert (operation.id, operation.run_id, adopted) == ("gid://shopify/BulkOperation/720918", "720918", False)


def test_access_denied_when_starting_names_the_scope(handlers: Handlers, simulator: ShopifyAdminSimulator) -> None:
    app = handlers("bulk_export")
    simulator.state.configure(scopes=["read_orders"])
    denied = {
        "message": "Access denied for customer field. Required access: `read_customers` access scope.",
        "extensions": {"code": "ACCESS_DENIED"},
    }

    class Denying:
        def __init__(self) -> None:
            self.real = app.exporter.admin

        def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
            if "bulkOperationRunQuery" in query:
                self.real._raise_for_errors([denied])
            return dict(self.real.execute(query, variables))

    with pytest.raises(BulkAccessDeniedError, match="read_customers") as caught:
        app.start_operation(Denying(), "q", app.Window(NOW - timedelta(days=3), NOW, "explicit"), NOW)
    assert "read_all_orders" not in str(caught.value), "a 3-day window does not need read_all_orders"


# --------------------------------------------------------------------------------------------- poll


@pytest.mark.parametrize(
    ("relative", "decision"),
    [
        ("shopify/graphql/bulk_operation_node__running__airbyte.json", "wait"),
        ("shopify/graphql/bulk_operation_node__completed__airbyte.json", "download"),
        ("shopify/graphql/bulk_operation_node__failed_partial__airbyte.json", "download_partial"),
    ],
)
def test_decisions_on_real_responses(handlers: Handlers, relative: str, decision: str) -> None:
    node = load_shared_json(relative)["data"]["node"]
    result = handlers("bulk_poll").decide(BulkOperation.from_api(node))
    assert result["decision"] == decision
    assert isinstance(result["object_count"], int)
    assert "http" not in json.dumps(result), "no result URL leaves the poll function"
    assert result["has_result"] is (decision != "wait")
    if decision == "download_partial":
        assert result["partial"] is True
        assert result["error"] == "BulkOperationFailedPartialData"


def test_decision_on_the_docs_status_response(handlers: Handlers) -> None:
    node = load_shared_json("shopify/graphql/bulk_operation_status__completed__shopify-docs.json")["data"][
        "bulkOperation"
    ]
    result = handlers("bulk_poll").decide(BulkOperation.from_api(node))
    assert (result["decision"], result["object_count"], result["file_size"]) == ("download", 57, 358)


@pytest.mark.parametrize(
    ("status", "code", "partial_url", "error"),
    [
        ("FAILED", "INTERNAL_SERVER_ERROR", None, "BulkOperationFailed"),
        ("FAILED", "TIMEOUT", None, "BulkOperationFailed"),
        ("FAILED", "ACCESS_DENIED", None, "BulkAccessDeniedError"),
        ("FAILED", "ACCESS_DENIED", "https://x/partial", "BulkAccessDeniedError"),
        ("CANCELED", None, None, "BulkOperationCanceled"),
        ("EXPIRED", None, None, "BulkOperationExpired"),
        ("SOMETHING_NEW", None, None, "BulkOperationFailed"),
    ],
)
def test_failures_end_the_run_with_a_named_error(
    handlers: Handlers, status: str, code: str | None, partial_url: str | None, error: str
) -> None:
    operation = BulkOperation(
        id="gid://shopify/BulkOperation/1", status=status, error_code=code, partial_data_url=partial_url
    )
    result = handlers("bulk_poll").decide(operation, lambda detail: f"denied: {detail}")
    assert (result["decision"], result["error"]) == ("fail", error)
    assert result["message"]


def test_access_denied_names_the_missing_scope(handlers: Handlers, simulator: ShopifyAdminSimulator) -> None:
    simulator.state.configure(outcome={"status": "FAILED", "error_code": "ACCESS_DENIED"}, scopes=["read_orders"])
    run = export(handlers, BACKFILL)
    result = poll_until_decided(handlers, simulator, run)
    assert result["decision"] == "fail"
    assert result["error"] == "BulkAccessDeniedError"
    assert "read_customers" in result["message"]
    assert "read_all_orders" in result["message"]
    assert "read_orders (" not in result["message"], "read_orders is granted: it must not be named missing"


def test_access_denied_with_every_scope_points_at_the_bulk_query_permission(
    handlers: Handlers, simulator: ShopifyAdminSimulator
) -> None:
    granted = ["read_orders", "read_customers", "read_products", "read_all_orders"]
    simulator.state.configure(outcome={"status": "FAILED", "error_code": "ACCESS_DENIED"}, scopes=granted)
    run = export(handlers, BACKFILL)
    result = poll_until_decided(handlers, simulator, run)
    assert result["error"] == "BulkAccessDeniedError"
    assert "has every scope" in result["message"]
    assert "Partner Dashboard" in result["message"]


# ----------------------------------------------------------------------------------------- download


def test_a_complete_run_lands_parts_manifest_and_watermark(
    handlers: Handlers, simulator: ShopifyAdminSimulator, s3: Any
) -> None:
    run = export(handlers, BACKFILL)
    result = poll_until_decided(handlers, simulator, run)
    assert result["decision"] == "download"
    final, steps = download_all(handlers, run, result)
    assert steps == 1
    assert final["done"]
    assert not final["partial"]
    document = manifest(s3, run["run_id"])
    assert document["counts_match"]
    assert document["complete"]
    assert document["watermark_advanced"]
    assert document["objects_written"] == result["object_count"] == final["objects"]
    assert document["root_objects_written"] == result["root_object_count"]
    assert document["bytes_read"] == result["file_size"]
    assert document["window"]["until"] == BACKFILL["until"]
    keys = [part["key"] for entry in document["types"].values() for part in entry["parts"]]
    assert all(k.startswith("raw/shopify/bulk/") and f"/run={run['run_id']}/part-" in k for k in keys)
    body = read_gzip_parts(s3, keys)
    url = handlers("bulk_download").downloader.result_url(run["operation_id"], False)
    assert sorted(body.splitlines()) == sorted(__import__("requests").get(url, timeout=10).content.splitlines())
    assert simulator.state.counters["result_requests_with_credentials"] == 0, "the result is read without a token"
    assert read_watermark(s3, BUCKET) == datetime(2025, 7, 1, tzinfo=UTC)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"metadata/shopify/bulk/run={run['run_id']}/checkpoints/")
    assert listed.get("KeyCount", 0) == 0, "checkpoints are deleted when the run is done"


def test_steps_checkpoint_and_resume(handlers: Handlers, simulator: ShopifyAdminSimulator, s3: Any) -> None:
    run = export(handlers, {**BACKFILL, "options": {"max_bytes_per_step": 300_000}})
    result = poll_until_decided(handlers, simulator, run)
    _, steps = download_all(handlers, run, result)
    assert steps >= 3
    document = manifest(s3, run["run_id"])
    assert document["steps"] == steps
    assert document["counts_match"]


def test_a_count_mismatch_fails_the_run(handlers: Handlers, simulator: ShopifyAdminSimulator, s3: Any) -> None:
    simulator.state.configure(object_count_offset=2)
    run = export(handlers, BACKFILL)
    result = poll_until_decided(handlers, simulator, run)
    with pytest.raises(BulkCountMismatchError, match="reported"):
        download_all(handlers, run, result)
    document = manifest(s3, run["run_id"])
    assert document["counts_match"] is False
    assert document["watermark_advanced"] is False
    assert read_watermark(s3, BUCKET) is None


def test_partial_data_is_kept_but_not_trusted(handlers: Handlers, simulator: ShopifyAdminSimulator, s3: Any) -> None:
    simulator.state.configure(outcome={"status": "FAILED", "error_code": "TIMEOUT", "partial_fraction": 0.5})
    run = export(handlers, BACKFILL)
    result = poll_until_decided(handlers, simulator, run)
    assert result["decision"] == "download_partial"
    final, _ = download_all(handlers, run, result)
    assert final["done"]
    assert final["partial"]
    document = manifest(s3, run["run_id"])
    assert document["partial"]
    assert not document["complete"]
    assert document["error_code"] == "TIMEOUT"
    assert document["objects_written"] == result["object_count"] > 0
    assert read_watermark(s3, BUCKET) is None, "a partial run never moves the watermark"


def test_a_backfill_after_a_gap_leaves_the_watermark_where_it_was(
    handlers: Handlers, simulator: ShopifyAdminSimulator, s3: Any
) -> None:
    """Moving the watermark past [watermark, since) would make incremental runs skip that gap for good."""
    s3.put_object(Bucket=BUCKET, Key=WATERMARK_KEY, Body=b'{"watermark": "2025-01-01T00:00:00Z"}')
    run = export(handlers, {"since": "2025-03-01T00:00:00Z", "until": "2025-07-01T00:00:00Z"})
    final, _ = download_all(handlers, run, poll_until_decided(handlers, simulator, run))
    assert final["done"]
    document = manifest(s3, run["run_id"])
    assert document["complete"]
    assert document["watermark_advanced"] is False
    assert "gap" in document["watermark_note"]
    assert read_watermark(s3, BUCKET) == datetime(2025, 1, 1, tzinfo=UTC)
    joined = export(handlers, {"since": "2024-12-31T23:45:00Z", "until": "2025-07-01T00:00:00Z"})
    download_all(handlers, joined, poll_until_decided(handlers, simulator, joined))
    assert manifest(s3, joined["run_id"])["watermark_advanced"] is True
    assert read_watermark(s3, BUCKET) == datetime(2025, 7, 1, tzinfo=UTC), "a window reaching the watermark moves it"


def test_nothing_matched_is_an_empty_complete_run(handlers: Handlers, s3: Any) -> None:
    run = {"operation_id": "gid://shopify/BulkOperation/77", "run_id": "77", "window": BACKFILL, "options": {}}
    result = {"status": "COMPLETED", "has_result": False, "partial": False, "object_count": 0, "root_object_count": 0}
    final, _ = download_all(handlers, run, result)
    assert final["done"]
    assert final["objects"] == 0
    assert manifest(s3, "77")["types"] == {}


def test_an_expired_url_is_signed_again_for_the_next_step(
    handlers: Handlers, simulator: ShopifyAdminSimulator, s3: Any
) -> None:
    simulator.state.configure(expire_url_after_bytes=1_500_000, orders=800)
    run = export(handlers, BACKFILL)
    result = poll_until_decided(handlers, simulator, run)
    refreshed: list[dict[str, Any]] = []

    def refresh() -> dict[str, Any]:
        refreshed.append(poll(handlers, run))
        return refreshed[-1]

    _, steps = download_all(handlers, run, result, refresh=refresh)
    assert len(refreshed) == 1
    assert simulator.state.counters["urls_issued"] == 2, "the next step asked bulkOperation for a new URL"
    assert steps == 2
    assert manifest(s3, run["run_id"])["counts_match"]
    assert simulator.state.counters["expired_url_requests"] >= 1


def test_a_url_refused_again_and_again_fails_the_run(handlers: Handlers, simulator: ShopifyAdminSimulator) -> None:
    run = export(handlers, BACKFILL)
    result = poll_until_decided(handlers, simulator, run)
    simulator.state.configure(result_url=f"{simulator.url}/_results/unknown/x.jsonl")
    with pytest.raises(ResultUrlRejectedError, match="refused 3 times"):
        download_all(handlers, run, result, refresh=lambda: poll(handlers, run))


def test_a_repeated_final_step_returns_the_finished_run(
    handlers: Handlers, simulator: ShopifyAdminSimulator, s3: Any
) -> None:
    run = export(handlers, {**BACKFILL, "options": {"max_bytes_per_step": 300_000}})
    result = poll_until_decided(handlers, simulator, run)
    app = handlers("bulk_download")
    previous: dict[str, Any] = {"checkpoint_key": None}
    while True:
        before = previous
        event = {"run": run, "poll": result, "previous": previous, "execution": "arn:test"}
        previous = app.handler(json.loads(json.dumps(event)), Context())
        if previous["done"]:
            break
    repeat = app.handler(json.loads(json.dumps({"run": run, "poll": result, "previous": before})), Context())
    assert repeat["done"]
    assert repeat["manifest_key"] == previous["manifest_key"]
    assert repeat["objects"] == previous["objects"]


@pytest.mark.parametrize(
    ("code", "status", "raised"), [("SlowDown", 503, TransientError), ("AccessDenied", 403, ClientError)]
)
def test_aws_throttling_in_a_step_is_transient_and_the_retried_step_resumes(
    handlers: Handlers,
    simulator: ShopifyAdminSimulator,
    s3: Any,
    monkeypatch: pytest.MonkeyPatch,
    code: str,
    status: int,
    raised: type[Exception],
) -> None:
    """The workflow retries a download step on TransientError (not on a bare ClientError, which would end
    the run): S3 throttling or a 5xx is TransientError, a refusal stays what it is."""
    run = export(handlers, {**BACKFILL, "options": {"max_bytes_per_step": 300_000}})
    result = poll_until_decided(handlers, simulator, run)
    client = handlers("bulk_download").aws.s3()
    original = client.put_object
    failures = [code]

    def refused_once(**kwargs: Any) -> Any:
        if failures and "/checkpoints/" in kwargs["Key"]:
            error = failures.pop()
            raise ClientError({"Error": {"Code": error}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")
        return original(**kwargs)

    monkeypatch.setattr(client, "put_object", refused_once)
    with pytest.raises(raised) as caught:
        download_all(handlers, run, result)
    assert type(caught.value) is raised
    final, _ = download_all(handlers, run, result)  # the retry of the step, from the start's checkpoint
    assert manifest(s3, run["run_id"])["counts_match"]
    assert final["done"]
