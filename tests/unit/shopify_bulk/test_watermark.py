"""The bulk watermarks: one per resource, the legacy orders key read until orders have their own, and
overlapping runs (the write is conditional on the version each run read)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from common.shopify.bulk import (
    WATERMARK_KEY,
    InvalidResourceError,
    advance_watermark,
    read_watermark,
    resource_name,
    resource_of_query,
    watermark_key,
)
from common.shopify.bulk_queries import bulk_query
from tests.unit.shopify_bulk.conftest import BUCKET

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
JAN, FEB, MAR = (datetime(2026, month, 1, tzinfo=UTC) for month in (1, 2, 3))


def _another_run_writes_first(s3: Any, monkeypatch: pytest.MonkeyPatch, until: datetime, run_id: str) -> None:
    """Between this run's read and its write, another run moves the watermark to ``until``."""
    original = s3.put_object
    pending = [True]

    def racing(**kwargs: Any) -> Any:
        if pending and kwargs["Key"] == watermark_key("orders"):
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


# ------------------------------------------------------------------------------------- per resource


def _put(s3: Any, key: str, moment: str) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps({"watermark": moment}).encode())


def test_each_resource_has_its_own_watermark(s3: Any) -> None:
    assert watermark_key("orders") == "metadata/shopify/bulk/orders/watermark.json"
    assert watermark_key("customers") == "metadata/shopify/bulk/customers/watermark.json"
    assert advance_watermark(s3, BUCKET, FEB, "run-c", NOW, resource="customers")[0]
    assert read_watermark(s3, BUCKET, "customers") == FEB
    assert read_watermark(s3, BUCKET, "orders") is None, "a customers run never moves the orders watermark"
    assert read_watermark(s3, BUCKET, "products") is None
    assert advance_watermark(s3, BUCKET, JAN, "run-p", NOW, resource="products")[0]
    written = json.loads(s3.get_object(Bucket=BUCKET, Key=watermark_key("products"))["Body"].read())
    assert (written["resource"], written["run_id"]) == ("products", "run-p")
    assert read_watermark(s3, BUCKET, "customers") == FEB


def test_orders_read_the_legacy_watermark_until_they_have_their_own(s3: Any) -> None:
    """An existing deployment keeps its position: the first orders run after the upgrade starts from the
    legacy key, and its first complete run writes the orders key (the legacy one is left as it was)."""
    _put(s3, WATERMARK_KEY, "2026-01-01T00:00:00Z")
    assert read_watermark(s3, BUCKET) == JAN
    assert read_watermark(s3, BUCKET, "customers") is None, "only orders fall back to the legacy key"
    moved, why = advance_watermark(s3, BUCKET, FEB, "run-1", NOW, since=MAR)
    assert not moved, "a window after the legacy watermark would leave a gap"
    assert "gap" in why
    assert advance_watermark(s3, BUCKET, FEB, "run-2", NOW, since=JAN)[0]
    assert read_watermark(s3, BUCKET) == FEB
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=WATERMARK_KEY)["Body"].read())["watermark"].startswith("2026-01")
    _put(s3, WATERMARK_KEY, "2026-03-01T00:00:00Z")
    assert read_watermark(s3, BUCKET) == FEB, "once orders have their own watermark the legacy key is not read"


def test_a_legacy_watermark_does_not_move_back_either(s3: Any) -> None:
    _put(s3, WATERMARK_KEY, "2026-03-01T00:00:00Z")
    moved, _ = advance_watermark(s3, BUCKET, FEB, "run-old", NOW, since=JAN)
    assert not moved
    assert read_watermark(s3, BUCKET) == MAR


@pytest.mark.parametrize("value", [None, "", "orders"])
def test_a_run_without_a_resource_exports_orders(value: Any) -> None:
    assert resource_name(value) == "orders"


@pytest.mark.parametrize("value", ["order", "Customers", "inventory", 3, ["orders"], {"x": 1}])
def test_an_unknown_resource_is_refused_with_the_known_ones(value: Any) -> None:
    with pytest.raises(InvalidResourceError, match="orders, customers, products"):
        resource_name(value)


@pytest.mark.parametrize("resource", ["orders", "customers", "products"])
def test_the_resource_of_a_query(resource: str) -> None:
    assert resource_of_query(bulk_query(resource, JAN, FEB)) == resource
    assert resource_of_query(None) == "orders"
    assert resource_of_query("{ collections { edges { node { id } } } }") == "orders"
