from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from common.timeutil import TimestampError, iso_utc, parse_timestamp, partition_date, to_epoch_micros


def test_nanoseconds_are_truncated_to_microseconds() -> None:
    parsed = parse_timestamp("2024-09-26T06:51:35.781200288Z")
    assert parsed == datetime(2024, 9, 26, 6, 51, 35, 781200, tzinfo=UTC)


def test_offsets_become_utc() -> None:
    assert parse_timestamp("2022-04-05T13:02:42-04:00") == datetime(2022, 4, 5, 17, 2, 42, tzinfo=UTC)
    assert parse_timestamp("2022-04-05T01:30:00+05:30") == datetime(2022, 4, 4, 20, 0, tzinfo=UTC)


def test_naive_values_need_a_zone() -> None:
    with pytest.raises(TimestampError, match="no UTC offset"):
        parse_timestamp("2021-11-08T16:19:04")
    eastern = timezone(timedelta(hours=-5))
    assert parse_timestamp("2021-11-08T16:19:04", naive_as=eastern) == datetime(2021, 11, 8, 21, 19, 4, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, 17, "", "yesterday", "2024-13-01T00:00:00Z", "2024-01-01"])
def test_rejects_non_timestamps(value: object) -> None:
    with pytest.raises(TimestampError):
        parse_timestamp(value)


def test_formats_sort_in_time_order() -> None:
    early = parse_timestamp("2024-01-01T09:00:00.5+00:00")
    late = parse_timestamp("2024-01-01T10:00:00Z")
    assert iso_utc(early) == "2024-01-01T09:00:00.500000Z"
    assert iso_utc(early) < iso_utc(late)
    assert to_epoch_micros(early) < to_epoch_micros(late)
    assert to_epoch_micros(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC)) == 1_000_005


def test_partition_is_the_utc_date() -> None:
    assert partition_date(parse_timestamp("2024-03-01T23:30:00-05:00")) == "2024-03-02"


def test_naive_datetimes_cannot_be_versions() -> None:
    with pytest.raises(TimestampError):
        to_epoch_micros(datetime(2024, 1, 1))
