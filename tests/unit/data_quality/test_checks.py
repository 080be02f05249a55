"""Each check passing, failing and skipped, against a moto lake, through the runner."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from time_machine import TimeMachineFixture

from tests.unit.data_quality.conftest import BUCKET, SPEC_FILE, Clock, Lake, RunnerFactory, by_id, today

ORDERS = "raw/shopify/webhooks/orders/"
SUBSCRIPTIONS = "raw/recharge/subscription/"
MORNING = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # an instant whose day has hours left in it


def run(make_runner: RunnerFactory, lake: Lake, **overrides: str) -> dict[str, dict[str, Any]]:
    summary = make_runner(**overrides).run({}, "req-00000000")
    return by_id(lake.document(summary["results_key"]))


def spec_with(**changes: Any) -> dict[str, Any]:
    spec = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    for check in spec["checks"]:
        check.update(changes.get(check["id"], {}))
    return dict(spec)


def spy_on_listings(lake: Lake) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    original = lake.s3.list_objects_v2

    def spy(**arguments: Any) -> Any:
        calls.append(arguments)
        return original(**arguments)

    lake.s3.list_objects_v2 = spy
    return calls


# ------------------------------------------------------------------------------------------- freshness


def test_freshness_passes_when_an_object_landed_in_todays_partition(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put(f"{ORDERS}topic=orders_create/dt={today()}/event-1.json")
    results = run(make_runner, lake)
    assert results["freshness-shopify-orders"]["status"] == "pass"
    assert "limit 24 h" in results["freshness-shopify-orders"]["reason"]
    assert results["freshness-shopify-orders"]["value"] < 1


def test_freshness_fails_when_the_newest_object_is_older_than_the_limit(
    lake: Lake, make_runner: RunnerFactory, clock: Clock, time_machine: TimeMachineFixture
) -> None:
    # Written at 09:00 and checked 30 h later: the 24 h window starts at 15:00 the same day, so it still
    # lists the object's partition and finds the object too old.
    time_machine.move_to(MORNING, tick=False)
    lake.put(f"{ORDERS}topic=orders_create/dt=2026-03-10/event-1.json")
    clock.offset = timedelta(hours=30)
    result = run(make_runner, lake)["freshness-shopify-orders"]
    assert result["status"] == "fail"
    assert "newest object is 30" in result["reason"]
    assert "limit 24 h" in result["reason"]


def test_freshness_fails_when_the_window_no_longer_reaches_the_newest_partition(
    lake: Lake, make_runner: RunnerFactory, clock: Clock, time_machine: TimeMachineFixture
) -> None:
    # Written at 20:00 and checked 30 h later: the window starts at 02:00 the next day, past the object's
    # partition, so the check reports an empty window rather than an object's age.
    time_machine.move_to(datetime(2026, 3, 10, 20, 0, tzinfo=UTC), tick=False)
    lake.put(f"{ORDERS}topic=orders_create/dt=2026-03-10/event-1.json")
    clock.offset = timedelta(hours=30)
    result = run(make_runner, lake)["freshness-shopify-orders"]
    assert result["status"] == "fail"
    assert result["reason"].startswith(
        "nothing landed in the last 24 h under raw/shopify/webhooks/orders/ (dt=2026-03-12"
    )


def test_freshness_fails_when_nothing_landed_in_the_window_partitions(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put(f"{ORDERS}topic=orders_create/dt=2020-01-01/event-old.json")  # a replay of an old event
    result = run(make_runner, lake)["freshness-shopify-orders"]
    assert result["status"] == "fail"
    assert result["reason"].startswith("nothing landed in the last 24 h under raw/shopify/webhooks/orders/")


def test_a_spec_threshold_overrides_the_stack_default(
    lake: Lake, make_runner: RunnerFactory, clock: Clock, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(MORNING, tick=False)  # 3 h later is still the same day: the window lists today
    lake.put(f"{ORDERS}topic=orders_create/dt={today()}/event-1.json")
    lake.put_spec(spec_with(**{"freshness-shopify-orders": {"max_age_hours": 2}}))
    clock.offset = timedelta(hours=3)
    result = run(make_runner, lake)["freshness-shopify-orders"]
    assert result["status"] == "fail"
    assert "limit 2 h" in result["reason"]


def test_the_stack_default_threshold_applies(
    lake: Lake, make_runner: RunnerFactory, clock: Clock, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(MORNING, tick=False)
    lake.put(f"{ORDERS}topic=orders_create/dt={today()}/event-1.json")
    clock.offset = timedelta(hours=3)
    assert run(make_runner, lake, FRESHNESS_MAX_AGE_HOURS="2")["freshness-shopify-orders"]["status"] == "fail"


def test_a_prefix_that_never_held_data_is_skipped_not_failed(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put(f"{ORDERS}topic=orders_create/dt={today()}/event-1.json")  # the source is connected
    result = run(make_runner, lake)["freshness-shopify-checkouts"]
    assert result["status"] == "skipped"
    assert "nothing has ever landed under raw/shopify/webhooks/checkouts/" in result["reason"]


def test_a_source_that_is_not_deployed_is_skipped(lake: Lake, make_runner: RunnerFactory) -> None:
    results = run(make_runner, lake)  # an empty lake: no source deployed
    assert {r["status"] for r in results.values()} == {"skipped"}
    assert "source recharge is not deployed or not connected" in results["quarantine-recharge"]["reason"]


def test_a_disabled_source_is_skipped_even_with_stale_data(
    lake: Lake, make_runner: RunnerFactory, clock: Clock
) -> None:
    lake.put(f"{SUBSCRIPTIONS}topic=subscription_created/dt={today()}/1-x.json")
    clock.offset = timedelta(hours=48)
    assert run(make_runner, lake)["freshness-recharge-subscription"]["status"] == "fail"
    result = run(make_runner, lake, DISABLED_SOURCES="recharge,triplewhale")["freshness-recharge-subscription"]
    assert result["status"] == "skipped"
    assert "disabled" in result["reason"]


def test_freshness_lists_only_the_window_partitions(lake: Lake, make_runner: RunnerFactory) -> None:
    """Never the whole lake: landing probes (one key), folder listings (delimiter) and dt= partitions."""
    for day in ("2020-01-01", "2020-01-02", today()):
        lake.put(f"{ORDERS}topic=orders_create/dt={day}/event-{day}.json")
    lake.put(f"{SUBSCRIPTIONS}topic=subscription_created/dt=2020-01-01/1-x.json")
    calls = spy_on_listings(lake)
    run(make_runner, lake)
    now = datetime.now(UTC)
    yesterday = (now - timedelta(days=1)).strftime("%Y-%m-%d")
    # The volume checks list the same weekday of the previous weeks, once, and their kept history.
    weekdays = {f"/dt={(now - timedelta(days=7 * week)).strftime('%Y-%m-%d')}/" for week in range(1, 5)}
    for call in calls:
        prefix = call["Prefix"]
        probe = call.get("MaxKeys") == 1
        folders = call.get("Delimiter") == "/"
        partition = f"/dt={today()}/" in prefix or f"/dt={yesterday}/" in prefix
        volume = any(weekday in prefix for weekday in weekdays) or prefix.startswith("metadata/data-quality-volume/")
        assert probe or folders or partition or volume, f"listed {prefix} in full"
        assert "dt=2020-01-0" not in prefix


@pytest.mark.parametrize(
    ("now", "hours", "expected"),
    [
        (datetime(2026, 3, 2, 12, 0, tzinfo=UTC), 6, ["2026-03-02"]),
        (datetime(2026, 3, 2, 3, 0, tzinfo=UTC), 6, ["2026-03-02", "2026-03-01"]),
        (datetime(2026, 3, 2, 12, 0, tzinfo=UTC), 24, ["2026-03-02", "2026-03-01"]),
        (datetime(2026, 3, 2, 12, 0, tzinfo=UTC), 72, ["2026-03-02", "2026-03-01", "2026-02-28", "2026-02-27"]),
    ],
)
def test_window_dates(now: datetime, hours: float, expected: list[str]) -> None:
    from data_quality.checks import definitions

    assert definitions.window_dates(now, hours) == expected


# ------------------------------------------------------------------------------------------ quarantine


def test_quarantine_under_the_threshold_passes(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put(f"{SUBSCRIPTIONS}topic=subscription_created/dt={today()}/1-x.json")
    for n in range(3):
        lake.put(f"quarantine/recharge/dt={today()}/unknown-topic/{n:064d}.json")
    result = run(make_runner, lake)["quarantine-recharge"]
    assert result["status"] == "pass"
    assert result["value"] == 3


def test_quarantine_over_the_threshold_fails_and_names_the_reasons(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put(f"{ORDERS}topic=orders_create/dt={today()}/event-1.json")
    for n in range(4):
        lake.put(f"quarantine/shopify/dt={today()}/missing-id/{n:064d}.json")
    for n in range(2):
        lake.put(f"quarantine/shopify/dt={today()}/bad-json/{n:064d}.json")
    lake.put("quarantine/shopify/dt=2020-01-01/bad-json/old.json")  # another day: not counted
    result = run(make_runner, lake, QUARANTINE_MAX_OBJECTS="5")["quarantine-shopify"]
    assert result["status"] == "fail"
    assert result["value"] == 6
    assert "6 object(s) quarantined today" in result["reason"]
    assert "missing-id 4, bad-json 2" in result["reason"]
    assert result["details"]["by_reason"] == {"missing-id": 4, "bad-json": 2}


def test_quarantine_threshold_is_inclusive(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put(f"{ORDERS}topic=orders_create/dt={today()}/event-1.json")
    for n in range(5):
        lake.put(f"quarantine/shopify/dt={today()}/missing-id/{n:064d}.json")
    assert run(make_runner, lake, QUARANTINE_MAX_OBJECTS="5")["quarantine-shopify"]["status"] == "pass"


# ------------------------------------------------------------------------------------------- bulk runs


def test_the_latest_complete_bulk_run_passes(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("111")
    results = run(make_runner, lake)
    assert results["bulk-manifest-latest"]["status"] == "pass"
    assert "run 111" in results["bulk-manifest-latest"]["reason"]
    assert results["freshness-shopify-bulk"]["status"] == "pass"


def test_a_partial_bulk_run_fails(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("222", partial=True, status="FAILED", error_code="TIMEOUT", complete=False)
    result = run(make_runner, lake)["bulk-manifest-latest"]
    assert result["status"] == "fail"
    assert result["reason"] == "run 222: partial result (status FAILED, error TIMEOUT)"


def test_bulk_counts_that_disagree_with_object_count_fail(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("333", objects_written=9, counts_match=False, complete=False)
    result = run(make_runner, lake)["bulk-manifest-latest"]
    assert result["status"] == "fail"
    assert "9 objects written, Shopify's objectCount is 10" in result["reason"]


def test_root_counts_that_disagree_fail(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("334", root_objects_written=3, counts_match=False)
    assert "3 root objects written" in run(make_runner, lake)["bulk-manifest-latest"]["reason"]


def test_an_unreadable_manifest_fails(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put("metadata/shopify/bulk/run=444/manifest.json", b"{not json")
    result = run(make_runner, lake)["bulk-manifest-latest"]
    assert result["status"] == "fail"
    assert "not valid JSON" in result["reason"]


def test_only_the_latest_runs_are_read(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("500", partial=True)
    lake.put_manifest("501")  # newer, complete
    lake.put("metadata/shopify/bulk/watermark.json", b"{}")
    lake.put("metadata/shopify/bulk/run=502/checkpoints/step-00001.ckpt", b"x")  # a run still downloading
    assert run(make_runner, lake)["bulk-manifest-latest"]["status"] == "pass"
    result = run(make_runner, lake, BULK_RUNS_CHECKED="2")["bulk-manifest-latest"]
    assert result["status"] == "fail"
    assert "run 500" in result["reason"]


def test_the_newest_manifest_is_found_past_many_checkpoints(lake: Lake, make_runner: RunnerFactory) -> None:
    """A flat listing of metadata/shopify/bulk/ reads the checkpoints too and, bounded, stops before the
    newest manifest; the run folders are listed instead, and only their manifests are looked for."""
    lake.put_manifest("100")  # an older complete run
    for step in range(1001):  # a download that never finished: more than one page of checkpoints
        lake.put(f"metadata/shopify/bulk/run=150/checkpoints/step-{step:05d}.ckpt", b"x")
    lake.put_manifest("200", partial=True, status="FAILED", error_code="TIMEOUT", complete=False)
    lake.put("metadata/shopify/bulk/run=201/checkpoints/step-00001.ckpt", b"x")  # a run still downloading
    calls = spy_on_listings(lake)
    results = run(make_runner, lake, MAX_LIST_PAGES="1")
    assert results["bulk-manifest-latest"]["status"] == "fail"
    assert results["bulk-manifest-latest"]["reason"] == "run 200: partial result (status FAILED, error TIMEOUT)"
    assert results["freshness-shopify-bulk"]["details"]["run_id"] == "200"
    bulk = [call for call in calls if call["Prefix"].startswith("metadata/shopify/bulk/")]
    assert all(call.get("Delimiter") == "/" or call.get("MaxKeys") == 1 for call in bulk), bulk
    assert not any("checkpoints" in call["Prefix"] for call in bulk)


def test_run_ids_compare_as_numbers_not_as_folder_names(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put_manifest("100", partial=True)  # run=100/ sorts before run=99/ as text, but is the newer run
    lake.put_manifest("99")
    result = run(make_runner, lake)["bulk-manifest-latest"]
    assert result["status"] == "fail"
    assert result["reason"].startswith("run 100: partial result")


def test_run_order() -> None:
    from data_quality.checks import definitions

    assert sorted(["100", "it2", "99", "7", "it10"], key=definitions.run_order) == ["7", "99", "100", "it2", "it10"]


def test_bulk_checks_fail_when_the_newest_runs_wrote_no_manifest(lake: Lake, make_runner: RunnerFactory) -> None:
    from data_quality.checks import definitions

    limit = definitions.UNFINISHED_RUNS_LOOKED_PAST
    lake.put_manifest("1")
    newest = 1 + limit
    for run_id in range(2, newest + 1):
        lake.put(f"metadata/shopify/bulk/run={run_id}/checkpoints/step-00001.ckpt", b"x")
    results = run(make_runner, lake)
    for check in ("bulk-manifest-latest", "freshness-shopify-bulk"):
        assert results[check]["status"] == "fail"
        expected = f"none of the newest {limit} bulk runs wrote a manifest (newest run {newest})"
        assert results[check]["reason"].startswith(expected)
    lake.s3.delete_object(Bucket=BUCKET, Key=f"metadata/shopify/bulk/run={newest}/checkpoints/step-00001.ckpt")
    assert run(make_runner, lake)["bulk-manifest-latest"]["reason"].startswith("run 1: complete")


def test_bulk_freshness_fails_when_no_run_finished_recently(
    lake: Lake, make_runner: RunnerFactory, clock: Clock
) -> None:
    lake.put_manifest("600")
    clock.offset = timedelta(hours=40)
    result = run(make_runner, lake)["freshness-shopify-bulk"]
    assert result["status"] == "fail"
    assert "(limit 36 h)" in result["reason"]


def test_bulk_checks_skip_while_no_run_has_finished(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put("metadata/shopify/bulk/run=700/checkpoints/step-00001.ckpt", b"x")
    results = run(make_runner, lake)
    assert results["bulk-manifest-latest"]["status"] == "skipped"
    assert results["freshness-shopify-bulk"]["status"] == "skipped"


# ---------------------------------------------------------------------------------------------- errors


class _DenyingS3:
    """An S3 client that refuses listings under one prefix, as IAM would."""

    def __init__(self, real: Any, prefix: str, code: str) -> None:
        self.real, self.prefix, self.code = real, prefix, code

    def list_objects_v2(self, **arguments: Any) -> Any:
        if arguments.get("Prefix", "").startswith(self.prefix):
            raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "ListObjectsV2")
        return self.real.list_objects_v2(**arguments)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_prefix_the_role_may_not_read_fails_that_check_only(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put(f"{ORDERS}topic=orders_create/dt={today()}/event-1.json")
    lake.put(f"quarantine/shopify/dt={today()}/bad-json/x.json")
    denying = _DenyingS3(lake.s3, "quarantine/shopify/", "AccessDenied")
    summary = make_runner(s3=denying).run({}, "req-1")
    results = by_id(lake.document(summary["results_key"]))
    assert results["quarantine-shopify"]["status"] == "fail"
    assert "cannot read the lake (AccessDenied) for quarantine/shopify/" in results["quarantine-shopify"]["reason"]
    assert results["freshness-shopify-orders"]["status"] == "pass"


def test_a_transient_error_fails_the_run_so_lambda_retries_it(lake: Lake, make_runner: RunnerFactory) -> None:
    lake.put(f"{ORDERS}topic=orders_create/dt={today()}/event-1.json")
    throttling = _DenyingS3(lake.s3, "raw/shopify/webhooks/orders/topic=", "SlowDown")
    with pytest.raises(ClientError, match="SlowDown"):
        make_runner(s3=throttling).run({}, "req-1")
    assert lake.keys("metadata/data-quality/") == []
