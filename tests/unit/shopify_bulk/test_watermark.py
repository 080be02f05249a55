"""The bulk watermark under overlapping runs: the write is conditional on the version each run read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from common.shopify_bulk import WATERMARK_KEY, advance_watermark, read_watermark
from tests.unit.shopify_bulk.conftest import BUCKET

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
JAN, FEB, MAR = (datetime(2026, month, 1, tzinfo=UTC) for month in (1, 2, 3))


def _another_run_writes_first(s3: Any, monkeypatch: pytest.MonkeyPatch, until: datetime, run_id: str) -> None:
    """Between this run's read and its write, another run moves the watermark to ``until``."""
    original = s3.put_object
    pending = [True]

    def racing(**kwargs: Any) -> Any:
        if pending and kwargs["Key"] == WATERMARK_KEY:
            pending.clear()
            advance_watermark(s3, BUCKET, until, run_id, NOW)  # the other run: its write lands first
        return original(**kwargs)

    monkeypatch.setattr(s3, "put_object", racing)


def test_a_slower_run_with_an_older_window_does_not_move_the_watermark_back(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert advance_watermark(s3, BUCKET, JAN, "run-0", NOW)[0]
    _another_run_writes_first(s3, monkeypatch, MAR, "run-fast")
    moved, why = advance_watermark(s3, BUCKET, FEB, "run-slow", NOW, since=JAN)
    assert (moved, read_watermark(s3, BUCKET)) == (False, MAR)
    assert "already at 2026-03-01" in why


def test_the_first_watermark_is_not_overwritten_by_a_run_that_saw_none(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _another_run_writes_first(s3, monkeypatch, MAR, "run-fast")
    moved, why = advance_watermark(s3, BUCKET, FEB, "run-slow", NOW)
    assert (moved, why) == (
        False,
        "not moved: it is already at 2026-03-01T00:00:00.000000Z, not before this window's end",
    )
    assert read_watermark(s3, BUCKET) == MAR


def test_a_race_that_leaves_room_still_moves_it(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert advance_watermark(s3, BUCKET, JAN, "run-0", NOW)[0]
    _another_run_writes_first(s3, monkeypatch, FEB, "run-other")
    assert advance_watermark(s3, BUCKET, MAR, "run-this", NOW, since=JAN)[0]
    assert read_watermark(s3, BUCKET) == MAR


def test_other_write_failures_are_raised(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")

    monkeypatch.setattr(s3, "put_object", refused)
    with pytest.raises(ClientError, match="AccessDenied"):
        advance_watermark(s3, BUCKET, JAN, "run-0", NOW)
