"""The window rule: which days a scheduled run and a backfill fetch, in the shop's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from triplewhale.summary import window as windows

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2025, 3, 10, 14, 30, tzinfo=UTC)


def resolve(event: dict | None = None, *, watermark: date | None = None, **options: int) -> windows.Window:
    settings = {"lookback_days": 3, "first_run_days": 4, "max_days": 92, **options}
    return windows.resolve_window(event, now=NOW, zone=UTC_ZONE, watermark=watermark, **settings)


def test_first_run_fetches_the_last_first_run_days_up_to_today() -> None:
    window = resolve({})
    assert [d.isoformat() for d in window.days()] == ["2025-03-07", "2025-03-08", "2025-03-09", "2025-03-10"]
    assert not window.backfill
    assert window.newest_complete_day() == date(2025, 3, 9)


def test_the_newest_complete_day_of_the_days_handled_so_far() -> None:
    window = resolve({})  # 2025-03-07 .. 2025-03-10, today 2025-03-10
    assert window.newest_complete_day(date(2025, 3, 8)) == date(2025, 3, 8)
    assert window.newest_complete_day(date(2025, 3, 10)) == date(2025, 3, 9)  # today is never complete
    assert window.newest_complete_day(date(2025, 3, 6)) is None  # before the window: nothing handled


def test_an_incremental_run_starts_lookback_days_before_the_watermark() -> None:
    window = resolve(None, watermark=date(2025, 3, 8))
    assert (window.first, window.last) == (date(2025, 3, 5), date(2025, 3, 10))
    assert resolve({}, watermark=date(2025, 3, 8), lookback_days=0).first == date(2025, 3, 8)


def test_a_watermark_far_behind_is_caught_up_max_days_at_a_time() -> None:
    window = resolve({}, watermark=date(2024, 1, 1), max_days=10)
    assert (window.first, window.last) == (date(2023, 12, 29), date(2024, 1, 7))
    assert window.newest_complete_day() == date(2024, 1, 7)  # the next run goes on from there


def test_a_lookback_as_long_as_a_run_still_reaches_past_the_watermark() -> None:
    window = resolve({}, watermark=date(2025, 3, 1), lookback_days=5, max_days=3)
    assert (window.first, window.last) == (date(2025, 2, 28), date(2025, 3, 2))
    assert window.newest_complete_day() == date(2025, 3, 2)  # the watermark moves on


def test_a_backfill_is_exactly_its_days_and_until_is_cut_to_today() -> None:
    window = resolve({"since": "2025-01-30", "until": "2025-02-02"}, watermark=date(2025, 3, 9))
    assert [d.isoformat() for d in window.days()] == ["2025-01-30", "2025-01-31", "2025-02-01", "2025-02-02"]
    assert window.backfill
    assert resolve({"since": "2025-03-09", "until": "2025-12-31"}).last == date(2025, 3, 10)
    assert resolve({"since": "2025-03-08"}).last == date(2025, 3, 10)


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"until": "2025-03-01"}, "give 'since'"),
        ({"since": "2025-3-1"}, "YYYY-MM-DD"),
        ({"since": "2025-02-30"}, "not a calendar date"),
        ({"since": 20250301}, "YYYY-MM-DD"),
        ({"since": "2025-03-05", "until": "2025-03-01"}, "after until"),
        ({"since": "2024-01-01", "until": "2024-12-31"}, "split the backfill"),
    ],
)
def test_impossible_backfills_are_refused_with_what_to_do(event: dict, problem: str) -> None:
    with pytest.raises(windows.InvalidRunRequest, match=problem):
        resolve(event)


def test_days_are_the_shops_calendar_days() -> None:
    late_evening_in_new_york = datetime(2025, 3, 11, 2, 0, tzinfo=UTC)  # 22:00 on 2025-03-10 there
    zone = ZoneInfo("America/New_York")
    window = windows.resolve_window(
        {}, now=late_evening_in_new_york, zone=zone, watermark=None, lookback_days=3, first_run_days=1, max_days=92
    )
    assert window.days() == [date(2025, 3, 10)]
    assert windows.today_hour(late_evening_in_new_york, zone) == 23  # base 1: 22:xx is the 23rd hour
    assert windows.today_hour(datetime(2025, 3, 10, 0, 5, tzinfo=UTC), UTC_ZONE) == 1


def test_a_window_of_only_today_has_no_complete_day() -> None:
    window = resolve({"since": "2025-03-10"})
    assert window.newest_complete_day() is None
