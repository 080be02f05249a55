"""The volume anomaly check: today so far against the same weekdays by the same time of day, with the
clock owned by the test (objects land at chosen instants; the run evaluates at a chosen instant)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from time_machine import TimeMachineFixture

from tests.unit.data_quality.conftest import Lake, RunnerFactory, by_id

ORDERS = "raw/shopify/webhooks/orders/"
CHECK = "volume-shopify-orders"
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # a Tuesday, 14:00 UTC
SPEC: dict[str, Any] = {
    "version": 1,
    "sources": {"shopify": {"landing": "raw/shopify/webhooks/"}},
    "checks": [
        {"id": CHECK, "type": "volume_anomaly", "source": "shopify", "prefix": ORDERS, "folders_before_dt": 1},
    ],
}


class Landing:
    """Puts webhook objects into a day's partitions at chosen times of that day."""

    def __init__(self, lake: Lake, time_machine: TimeMachineFixture) -> None:
        self.lake, self.time_machine, self.serial = lake, time_machine, 0

    def day(
        self, weeks_ago: int, by_time: int, after_time: int = 0, topics: tuple[str, ...] = ("orders_create",)
    ) -> None:
        """``by_time`` objects landing at 09:00 (before NOW's time of day) and ``after_time`` at 20:00, spread
        over ``topics``, in the partition of the Tuesday ``weeks_ago`` weeks before NOW."""
        midnight = NOW.replace(hour=0) - timedelta(days=7 * weeks_ago)
        for hour, count in ((9, by_time), (20, after_time)):
            if not count:
                continue
            self.time_machine.move_to(midnight + timedelta(hours=hour), tick=False)
            for n in range(count):
                topic = topics[n % len(topics)]
                self.serial += 1
                self.lake.put(f"{ORDERS}topic={topic}/dt={midnight:%Y-%m-%d}/e-{self.serial}.json")


@pytest.fixture
def landing(lake: Lake, time_machine: TimeMachineFixture) -> Landing:
    lake.put_spec(SPEC)
    return Landing(lake, time_machine)


def evaluate(make_runner: RunnerFactory, lake: Lake, time_machine: TimeMachineFixture, **overrides: str) -> Any:
    """The check's result at NOW; small counts keep the test fast, so the minimum median is 5 unless set."""
    time_machine.move_to(NOW, tick=False)
    summary = make_runner(**{"VOLUME_MIN_MEDIAN": "5", **overrides}).run({}, "req-00000000")
    return by_id(lake.document(summary["results_key"]))[CHECK]


def history(counts: list[int], landing: Landing, after_time: int = 0) -> None:
    for weeks_ago, count in enumerate(counts, start=1):
        landing.day(weeks_ago, count, after_time)


def test_a_normal_day_passes(
    lake: Lake, make_runner: RunnerFactory, landing: Landing, time_machine: TimeMachineFixture
) -> None:
    history([10, 12, 9, 11], landing)
    landing.day(0, 10, topics=("orders_create", "orders_updated"))
    result = evaluate(make_runner, lake, time_machine)
    assert result["status"] == "pass"
    assert result["reason"] == (
        f"10 objects under {ORDERS} today by 14:00 UTC, 5% below the median 10.5 of the previous 4 Tuesdays by "
        "that time (10, 12, 9, 11); expected 5.25 to 31.5"
    )
    assert result["value"] == round(10 / 10.5, 3)
    assert [day["date"] for day in result["details"]["history"]] == [
        "2026-03-03",
        "2026-02-24",
        "2026-02-17",
        "2026-02-10",
    ]


def test_a_drop_fails(
    lake: Lake, make_runner: RunnerFactory, landing: Landing, time_machine: TimeMachineFixture
) -> None:
    history([10, 12, 9, 11], landing)
    landing.day(0, 3)
    result = evaluate(make_runner, lake, time_machine)
    assert result["status"] == "fail"
    assert result["reason"].startswith(f"3 objects under {ORDERS} today by 14:00 UTC, 71% below the median 10.5")
    # The band is a parameter: a lower band of 0.8 accepts down to 2.1.
    assert evaluate(make_runner, lake, time_machine, VOLUME_LOWER_BAND="0.8")["status"] == "pass"


def test_a_spike_fails(
    lake: Lake, make_runner: RunnerFactory, landing: Landing, time_machine: TimeMachineFixture
) -> None:
    history([10, 11, 10], landing)
    landing.day(0, 35)
    result = evaluate(make_runner, lake, time_machine)
    assert result["status"] == "fail"
    assert "250% above the median 10 " in result["reason"]
    assert "expected 5 to 30" in result["reason"]
    assert evaluate(make_runner, lake, time_machine, VOLUME_UPPER_BAND="3")["status"] == "pass"


def test_a_new_source_without_history_is_skipped(
    lake: Lake, make_runner: RunnerFactory, landing: Landing, time_machine: TimeMachineFixture
) -> None:
    landing.day(1, 10)  # one previous Tuesday only
    landing.day(0, 2)
    result = evaluate(make_runner, lake, time_machine)
    assert result["status"] == "skipped"
    assert result["reason"] == (
        f"1 of the previous 4 Tuesdays had objects under {ORDERS} by 14:00 UTC (at least 2 needed for a median): "
        "too little history"
    )


def test_the_comparison_stops_at_the_same_time_of_day(
    lake: Lake, make_runner: RunnerFactory, landing: Landing, time_machine: TimeMachineFixture
) -> None:
    """At 14:00 today holds what landed by 14:00; the previous Tuesdays' later objects do not count, or a
    normal morning would look like a drop against whole days."""
    history([10, 10, 10], landing, after_time=30)
    landing.day(0, 10)
    result = evaluate(make_runner, lake, time_machine)
    assert result["status"] == "pass"
    assert [day["objects"] for day in result["details"]["history"]] == [10, 10, 10, 0]
    time_machine.move_to(NOW.replace(hour=21), tick=False)  # the same lake at 21:00: every object counts
    summary = make_runner(VOLUME_MIN_MEDIAN="5").run({}, "req-1")
    late = by_id(lake.document(summary["results_key"]))[CHECK]
    assert [day["objects"] for day in late["details"]["history"]] == [40, 40, 40, 0]
    assert late["status"] == "fail"  # today stayed at 10


def test_a_tiny_median_is_skipped(
    lake: Lake, make_runner: RunnerFactory, landing: Landing, time_machine: TimeMachineFixture
) -> None:
    history([3, 4, 5], landing)
    landing.day(0, 0)
    result = evaluate(make_runner, lake, time_machine, VOLUME_MIN_MEDIAN="20")
    assert result["status"] == "skipped"
    assert result["reason"] == "median 4 of the previous Tuesdays by 14:00 UTC is below 20 objects: too few to judge"
    assert evaluate(make_runner, lake, time_machine, VOLUME_MIN_MEDIAN="3")["status"] == "fail"


def test_past_days_are_listed_once_then_read_from_the_kept_history(
    lake: Lake, make_runner: RunnerFactory, landing: Landing, time_machine: TimeMachineFixture
) -> None:
    history([10, 12, 9, 11], landing)
    landing.day(0, 10)
    first = evaluate(make_runner, lake, time_machine)
    kept = lake.keys("metadata/data-quality-volume/")
    assert (
        kept
        == [f"metadata/data-quality-volume/{CHECK}/dt={day['date']}.json" for day in first["details"]["history"]][::-1]
    )
    assert lake.document(kept[-1])["landed_by_minute"] == [[540, 10]]  # 09:00: minute 540
    listed: list[str] = []
    original = lake.s3.list_objects_v2

    def spy(**arguments: Any) -> Any:
        listed.append(arguments["Prefix"])
        return original(**arguments)

    lake.s3.list_objects_v2 = spy
    second = evaluate(make_runner, lake, time_machine)
    assert second["details"]["history"] == first["details"]["history"]
    partitions = [prefix for prefix in listed if "/dt=" in prefix]
    assert partitions == [f"{ORDERS}topic=orders_create/dt=2026-03-10/"], "a past day was listed again"


def test_every_topic_folder_counts(
    lake: Lake, make_runner: RunnerFactory, landing: Landing, time_machine: TimeMachineFixture
) -> None:
    for weeks_ago in (1, 2):
        landing.day(weeks_ago, 10, topics=("orders_create", "orders_paid"))
    landing.day(0, 12, topics=("orders_create", "orders_paid", "orders_updated", "orders_cancelled"))
    result = evaluate(make_runner, lake, time_machine)
    assert result["status"] == "pass"
    assert result["details"]["today"] == 12
    assert result["details"]["folders"] == 4


def test_a_partition_too_large_to_list_is_skipped_not_miscounted(
    lake: Lake,
    make_runner: RunnerFactory,
    landing: Landing,
    time_machine: TimeMachineFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from data_quality.checks import lake as dq_lake
    from data_quality.checks import volume as dq_volume

    monkeypatch.setattr(dq_lake, "PAGE_SIZE", 2)
    monkeypatch.setattr(dq_volume, "PARTITION_MAX_PAGES", 2)
    history([3, 3], landing)
    landing.day(0, 5)  # three pages of two
    result = evaluate(make_runner, lake, time_machine, VOLUME_MIN_MEDIAN="0")
    assert result["status"] == "skipped"
    assert result["reason"] == (
        f"{ORDERS}topic=orders_create/dt=2026-03-10/ holds more than 2000 objects, more than a run lists: not counted"
    )
