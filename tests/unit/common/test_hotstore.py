from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from common.hotstore import (
    Outcome,
    SourceVersion,
    deserialize,
    replace_if_newer,
    set_if_absent,
    upsert_if_newer,
)
from common.timeutil import parse_timestamp

TABLE = "orders"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _write(client: Any, when: str, event_id: str, status: str) -> Outcome:
    moment = parse_timestamp(when)
    return upsert_if_newer(
        client,
        TABLE,
        {"order_id": "1"},
        {"status": status, "total": 10.5},
        SourceVersion.of(moment, event_id),
        updated_at=moment,
    )


def _item(client: Any) -> dict[str, Any]:
    return deserialize(client.get_item(TableName=TABLE, Key={"order_id": {"S": "1"}})["Item"])


def test_newer_wins_older_is_stale_same_is_duplicate(dynamodb: Any) -> None:
    assert _write(dynamodb, "2024-01-01T10:00:00Z", "b", "paid") is Outcome.WRITTEN
    assert _write(dynamodb, "2024-01-01T09:00:00Z", "a", "pending") is Outcome.STALE
    assert _write(dynamodb, "2024-01-01T10:00:00Z", "b", "paid") is Outcome.DUPLICATE
    assert _item(dynamodb)["status"] == "paid"
    assert _write(dynamodb, "2024-01-01T11:00:00-00:30", "c", "fulfilled") is Outcome.WRITTEN
    item = _item(dynamodb)
    assert item["status"] == "fulfilled"
    assert item["total"] == Decimal("10.5")
    assert item["source_event_id"] == "c"
    assert item["source_updated_at"] == "2024-01-01T11:30:00.000000Z"


def test_same_updated_at_is_ordered_by_event_id(dynamodb: Any) -> None:
    assert _write(dynamodb, "2024-01-01T10:00:00Z", "b", "second") is Outcome.WRITTEN
    assert _write(dynamodb, "2024-01-01T10:00:00Z", "a", "first") is Outcome.STALE
    assert _item(dynamodb)["status"] == "second"


def test_attributes_of_other_writers_survive(dynamodb: Any) -> None:
    _write(dynamodb, "2024-01-01T10:00:00Z", "a", "open")
    assert set_if_absent(dynamodb, TABLE, {"order_id": "1"}, {"converted_order_id": "99"}) is True
    assert set_if_absent(dynamodb, TABLE, {"order_id": "1"}, {"converted_order_id": "100"}) is False
    _write(dynamodb, "2024-01-02T10:00:00Z", "b", "updated")
    item = _item(dynamodb)
    assert item["converted_order_id"] == "99"
    assert item["status"] == "updated"


def test_mark_before_the_item_exists_is_kept(dynamodb: Any) -> None:
    assert set_if_absent(dynamodb, TABLE, {"order_id": "1"}, {"converted_order_id": "7"}) is True
    assert _write(dynamodb, "2024-01-01T10:00:00Z", "a", "open") is Outcome.WRITTEN
    assert _item(dynamodb)["converted_order_id"] == "7"


def test_reserved_attributes_are_refused(dynamodb: Any) -> None:
    with pytest.raises(ValueError, match="source_version"):
        upsert_if_newer(
            dynamodb,
            TABLE,
            {"order_id": "1"},
            {"source_version": 1},
            SourceVersion(1, "x"),
            updated_at=parse_timestamp("2024-01-01T00:00:00Z"),
        )


# ------------------------------------------------------------------------------------ replace_if_newer

TOMBSTONE = ("deleted", "deleted_at")


def _replace(client: Any, when: str, event_id: str, attributes: dict[str, Any]) -> Any:
    moment = parse_timestamp(when)
    return replace_if_newer(
        client,
        TABLE,
        {"order_id": "1"},
        attributes,
        SourceVersion.of(moment, event_id),
        updated_at=moment,
        keep=TOMBSTONE,
    )


def test_replace_stores_the_version_as_it_is_and_answers_what_was_there(dynamodb: Any) -> None:
    first = _replace(dynamodb, "2024-01-01T10:00:00Z", "a", {"status": "open", "customer_id": "7"})
    assert (first.outcome, first.previous) == (Outcome.WRITTEN, None)
    second = _replace(dynamodb, "2024-01-01T11:00:00Z", "b", {"status": "paid"})
    assert second.outcome is Outcome.WRITTEN
    assert (second.previous or {})["customer_id"] == "7"
    item = _item(dynamodb)
    assert item["status"] == "paid"
    assert "customer_id" not in item  # gone from the newest version, so gone from the item
    stale = _replace(dynamodb, "2024-01-01T10:00:00Z", "a", {"status": "open", "customer_id": "7"})
    assert stale.outcome is Outcome.STALE
    assert (stale.previous or {})["status"] == "paid"
    assert _replace(dynamodb, "2024-01-01T11:00:00Z", "b", {"status": "paid"}).outcome is Outcome.DUPLICATE
    assert _item(dynamodb)["status"] == "paid"


def test_replace_keeps_another_writers_attributes_and_still_drops_its_own_stale_ones(dynamodb: Any) -> None:
    _replace(dynamodb, "2024-01-01T10:00:00Z", "a", {"status": "open", "customer_id": "7"})
    assert set_if_absent(dynamodb, TABLE, {"order_id": "1"}, {"deleted": True, "deleted_at": "2024-02-01"})
    result = _replace(dynamodb, "2024-01-01T11:00:00Z", "b", {"status": "paid"})
    assert result.outcome is Outcome.WRITTEN
    item = _item(dynamodb)
    assert (item["deleted"], item["deleted_at"], item["status"]) == (True, "2024-02-01", "paid")
    assert "customer_id" not in item
    assert _replace(dynamodb, "2024-01-01T10:30:00Z", "x", {"status": "late"}).outcome is Outcome.STALE
    assert _item(dynamodb)["status"] == "paid"


def test_replace_after_a_tombstone_alone_keeps_the_tombstone(dynamodb: Any) -> None:
    assert set_if_absent(dynamodb, TABLE, {"order_id": "1"}, {"deleted": True, "deleted_at": "2024-02-01"})
    assert _replace(dynamodb, "2024-01-01T10:00:00Z", "a", {"status": "open"}).outcome is Outcome.WRITTEN
    item = _item(dynamodb)
    assert (item["deleted"], item["status"]) == (True, "open")


def test_replace_refuses_to_set_what_it_must_keep(dynamodb: Any) -> None:
    with pytest.raises(ValueError, match="deleted"):
        _replace(dynamodb, "2024-01-01T10:00:00Z", "a", {"deleted": False})


EVENTS = [
    ("2024-01-01T10:00:00Z", "e1", "created"),
    ("2024-01-01T10:05:00Z", "e2", "paid"),
    ("2024-01-01T10:05:00Z", "e3", "paid-again"),
    ("2024-01-01T12:00:00Z", "e4", "fulfilled"),
]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(EVENTS), min_size=1, max_size=12))
def test_any_delivery_order_ends_in_the_same_state(deliveries: list[tuple[str, str, str]]) -> None:
    """Duplicates and reorderings leave what in-order delivery of the same events leaves."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for when, event_id, status in deliveries:
            _write(client, when, event_id, status)
        newest = max(set(deliveries), key=lambda e: (parse_timestamp(e[0]), e[1]))
        item = _item(client)
        assert (item["status"], item["source_event_id"]) == (newest[2], newest[1])


def test_every_permutation_of_distinct_events_agrees() -> None:
    finals = set()
    for order in itertools.permutations(EVENTS):
        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            client.create_table(
                TableName=TABLE,
                KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            for when, event_id, status in order:
                _write(client, when, event_id, status)
            finals.add(_item(client)["status"])
    assert finals == {"fulfilled"}
