"""Writes that save requests: a version written with its one-way marks in one transaction
(``replace_if_newer(..., marks=...)``), and the parts of an item versioned apart written in one update
(``upsert_parts_if_newer``). Each must end exactly as the separate requests it replaces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from common.hotstore import (
    TOMBSTONE,
    Mark,
    Outcome,
    SourceVersion,
    deserialize,
    group_part,
    profile_part,
    replace_if_newer,
    tombstone,
    upsert_group_if_newer,
    upsert_if_newer,
    upsert_parts_if_newer,
)
from common.timeutil import parse_timestamp

ORDERS, CARTS = "orders", "carts"
KEY = {"id": "1"}
INGESTED = parse_timestamp("2024-02-01T00:00:00Z")


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        for table in (ORDERS, CARTS):
            client.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        yield client


class Counted:
    """The client, counting the requests made through it."""

    def __init__(self, client: Any) -> None:
        self.client, self.calls = client, []  # type: ignore[var-annotated]

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append(name)
            return method(**kwargs)

        return call


def _items(client: Any, table: str) -> dict[str, dict[str, Any]]:
    items = (deserialize(i) for i in client.scan(TableName=table)["Items"])
    return {i["id"]: {k: v for k, v in i.items() if k != "ingested_at"} for i in items}


def _version(when: str, event_id: str) -> tuple[SourceVersion, Any]:
    moment = parse_timestamp(when)
    return SourceVersion.of(moment, event_id), moment


def _order(client: Any, when: str, event_id: str, status: str, cart: str = "c1", *, keep: tuple[str, ...] = ()) -> Any:
    version, moment = _version(when, event_id)
    marks = [Mark(CARTS, {"id": cart}, {"converted_by": "1", "converted_at": when})]
    return replace_if_newer(client, ORDERS, KEY, {"status": status}, version, updated_at=moment, keep=keep, marks=marks)


def test_a_version_and_its_marks_are_one_request_and_a_lost_write_marks_nothing(dynamodb: Any) -> None:
    counted = Counted(dynamodb)
    assert _order(counted, "2024-01-01T10:00:00Z", "b", "paid").outcome is Outcome.WRITTEN
    assert counted.calls == ["transact_write_items"]
    assert _items(dynamodb, CARTS) == {"c1": {"id": "c1", "converted_by": "1", "converted_at": "2024-01-01T10:00:00Z"}}
    stale = _order(counted, "2024-01-01T09:00:00Z", "a", "pending", cart="c0")
    assert (stale.outcome, (stale.previous or {})["status"]) == (Outcome.STALE, "paid")
    assert _order(counted, "2024-01-01T10:00:00Z", "b", "paid").outcome is Outcome.DUPLICATE
    assert counted.calls == ["transact_write_items"] * 3
    assert set(_items(dynamodb, CARTS)) == {"c1"}  # the stale version's cart was not marked
    assert _items(dynamodb, ORDERS)["1"]["status"] == "paid"


def test_a_mark_is_one_way_and_never_cancels_the_version(dynamodb: Any) -> None:
    _order(dynamodb, "2024-01-01T10:00:00Z", "b", "paid")
    assert _order(dynamodb, "2024-01-01T11:00:00Z", "c", "refunded").outcome is Outcome.WRITTEN
    assert _items(dynamodb, CARTS)["c1"]["converted_at"] == "2024-01-01T10:00:00Z"  # the first mark stays
    assert _items(dynamodb, ORDERS)["1"]["status"] == "refunded"


def test_a_version_after_a_tombstone_keeps_it_and_is_written_with_its_marks(dynamodb: Any) -> None:
    deleted = parse_timestamp("2024-01-01T12:00:00Z")
    tombstone(dynamodb, ORDERS, KEY, deleted_at=deleted, event_id="d")
    _order(dynamodb, "2024-01-01T09:00:00Z", "a", "pending", keep=TOMBSTONE)
    counted = Counted(dynamodb)
    result = _order(counted, "2024-01-01T10:00:00Z", "b", "paid", keep=TOMBSTONE)
    assert (result.outcome, counted.calls) == (Outcome.WRITTEN, ["transact_write_items"] * 2)
    order = _items(dynamodb, ORDERS)["1"]
    assert (order["status"], order["deleted"], order["source_event_id"]) == ("paid", True, "b")
    assert _items(dynamodb, CARTS)["c1"]["converted_by"] == "1"


def test_a_transaction_cancelled_for_another_reason_raises(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def conflict(**kwargs: Any) -> Any:
        raise ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
            },
            "TransactWriteItems",
        )

    monkeypatch.setattr(dynamodb, "transact_write_items", conflict)
    with pytest.raises(ClientError):
        _order(dynamodb, "2024-01-01T10:00:00Z", "b", "paid")


# ------------------------------------------------------------------------------------------- parts

PROFILE_AT = ("2024-01-01T10:00:00Z", "2024-01-01T09:00:00Z", "2024-01-01T11:00:00Z")
CONSENT_AT = ("2024-01-01T08:00:00Z", "2024-01-01T12:00:00Z")


def _parts(profile_at: str, consent_at: str, event_id: str) -> list[Any]:
    version, moment = _version(profile_at, event_id)
    consent, _ = _version(consent_at, event_id)
    return [
        profile_part(KEY, {"state": f"s-{event_id}"}, version, updated_at=moment, ingested_at=INGESTED),
        group_part("email", {"state": f"e-{event_id}"}, consent),
        group_part("sms", {"state": f"m-{event_id}"}, consent),
    ]


def _separately(client: Any, profile_at: str, consent_at: str, event_id: str) -> list[Outcome]:
    version, moment = _version(profile_at, event_id)
    consent, _ = _version(consent_at, event_id)
    also = {"who": "1"}
    return [
        upsert_if_newer(
            client, ORDERS, KEY, {"state": f"s-{event_id}", **also}, version, updated_at=moment, ingested_at=INGESTED
        ),
        upsert_group_if_newer(client, ORDERS, KEY, "email", {"state": f"e-{event_id}"}, consent, also=also),
        upsert_group_if_newer(client, ORDERS, KEY, "sms", {"state": f"m-{event_id}"}, consent, also=also),
    ]


@pytest.mark.parametrize("history", [[(p, c) for p in PROFILE_AT for c in CONSENT_AT]])
def test_parts_in_one_update_end_as_part_by_part_writes(dynamodb: Any, history: list[tuple[str, str]]) -> None:
    for number, (profile_at, consent_at) in enumerate([*history, *history[::-1], *history]):
        event_id = f"e{number % len(history)}"
        together = upsert_parts_if_newer(
            dynamodb, ORDERS, KEY, _parts(profile_at, consent_at, event_id), also={"who": "1"}
        )
        apart = _separately(Counted(dynamodb).client, profile_at, consent_at, event_id)
        # the second write of the same event is a duplicate everywhere the first one wrote
        assert [o if o is not Outcome.WRITTEN else Outcome.DUPLICATE for o in together] == apart
    item = _items(dynamodb, ORDERS)["1"]
    assert (item["state"], item["email"], item["sms"]) == ("s-e5", {"state": "e-e5"}, {"state": "m-e5"})


def test_parts_cost_one_request_when_all_or_none_are_newer_and_two_when_some_are(dynamodb: Any) -> None:
    counted: Any = Counted(dynamodb)
    assert (
        upsert_parts_if_newer(counted, ORDERS, KEY, _parts(*PROFILE_AT[:1], CONSENT_AT[0], "a"))
        == [Outcome.WRITTEN] * 3
    )
    assert (
        upsert_parts_if_newer(counted, ORDERS, KEY, _parts(*PROFILE_AT[:1], CONSENT_AT[0], "a"))
        == [Outcome.DUPLICATE] * 3
    )
    assert len(counted.calls) == 2
    mixed = upsert_parts_if_newer(counted, ORDERS, KEY, _parts(PROFILE_AT[1], CONSENT_AT[1], "b"))
    assert (mixed, len(counted.calls)) == ([Outcome.STALE, Outcome.WRITTEN, Outcome.WRITTEN], 4)
    assert upsert_parts_if_newer(counted, ORDERS, KEY, []) == []
    assert len(counted.calls) == 4
