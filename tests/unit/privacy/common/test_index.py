"""The privacy index on a moto DynamoDB table: batches of 25, unprocessed items retried, paginated reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from moto import mock_aws

from common.errors import TransientError
from common.privacy.index import PrivacyIndex, location_key, s3_location

WHEN = datetime(2024, 9, 26, 8, 51, 35, 781200, tzinfo=timezone(timedelta(hours=2)))


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        yield dynamodb.create_table(
            TableName="acme-dev-privacy-index",
            KeySchema=[
                {"AttributeName": "subject", "KeyType": "HASH"},
                {"AttributeName": "location", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "subject", "AttributeType": "S"},
                {"AttributeName": "location", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )


def _subjects(count: int) -> list[str]:
    return [f"shopify-order:{1000 + n}" for n in range(count)]


class Spy:
    """The table, counting BatchWriteItem and Query calls."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.batches: list[int] = []
        self.queries = 0
        spy = self

        class Client:
            def batch_write_item(self, **kwargs: Any) -> Any:
                spy.batches.append(sum(len(v) for v in kwargs["RequestItems"].values()))
                return table.meta.client.batch_write_item(**kwargs)

        class Meta:
            client = Client()

        self.meta = Meta()
        self.name = table.name

    def query(self, **kwargs: Any) -> Any:
        self.queries += 1
        return self.table.query(**kwargs)


def test_more_than_25_subjects_are_written_in_batches(table: Any) -> None:
    spy = Spy(table)
    index = PrivacyIndex(spy)  # type: ignore[arg-type]
    subjects = [*_subjects(60), "shopify-order:1000", "email:" + "a" * 64]  # a duplicate is written once
    written = index.record(
        subjects, s3_location("raw/shopify/bulk/Order/run=1/part-00001.jsonl.gz"), indexed_at=WHEN, size=123
    )
    assert written == 61
    assert spy.batches == [25, 25, 11]
    items = table.scan()["Items"]
    assert len(items) == 61
    item = next(i for i in items if i["subject"] == "shopify-order:1000")
    assert item == {
        "subject": "shopify-order:1000",
        "location": "s3:raw/shopify/bulk/Order/run=1/part-00001.jsonl.gz",
        "indexed_at": "2024-09-26T06:51:35.781200Z",
        "bytes": 123,
    }
    assert index.record([], "s3:raw/x.json", indexed_at=WHEN, size=0) == 0


def test_locations_of_many_subjects_across_pages(table: Any) -> None:
    index = PrivacyIndex(table)
    for n in range(7):
        index.record(["shopify-customer:1", f"shopify-order:{n + 1}"], f"s3:raw/o{n}.json", indexed_at=WHEN, size=1)
    index.record(["shopify-customer:2"], "s3:raw/other.json", indexed_at=WHEN, size=1)
    spy = Spy(table)
    paged = PrivacyIndex(spy, page_size=2)  # type: ignore[arg-type]
    assert paged.locations(["shopify-customer:1", "shopify-order:3", "phone:" + "0" * 64]) == {
        f"s3:raw/o{n}.json" for n in range(7)
    }
    assert spy.queries == 4 + 1 + 1, "7 items in pages of 2 (the last one empty or short), then one page each"
    assert index.locations(["shopify-customer:2"]) == {"s3:raw/other.json"}
    assert index.locations([]) == set()


class Flaky:
    """A table whose BatchWriteItem leaves the first item of each request unprocessed ``times`` times."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.requests: list[list[Any]] = []
        self.name = "t"
        flaky = self

        class Client:
            def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> Any:  # noqa: N803 - boto3's name
                requests = RequestItems["t"]
                flaky.requests.append(requests)
                if flaky.times > 0:
                    flaky.times -= 1
                    return {"UnprocessedItems": {"t": requests[:1]}}
                return {"UnprocessedItems": {}}

        class Meta:
            client = Client()

        self.meta = Meta()


def test_unprocessed_items_are_retried() -> None:
    sleeps: list[float] = []
    flaky = Flaky(times=3)
    index = PrivacyIndex(flaky, sleep=sleeps.append)  # type: ignore[arg-type]
    assert index.record(_subjects(3), "s3:raw/x.json", indexed_at=WHEN, size=1) == 3
    assert [len(r) for r in flaky.requests] == [3, 1, 1, 1]
    assert sleeps == sorted(sleeps)
    assert len(sleeps) == 3


def test_items_still_unprocessed_are_a_transient_error() -> None:
    index = PrivacyIndex(Flaky(times=100), sleep=lambda _: None)  # type: ignore[arg-type]
    with pytest.raises(TransientError, match="unprocessed"):
        index.record(_subjects(2), "s3:raw/x.json", indexed_at=WHEN, size=1)


def test_what_is_not_indexed(table: Any) -> None:
    index = PrivacyIndex(table)
    with pytest.raises(ValueError, match="privacy subject"):
        index.record(["jon@doe.ca"], "s3:raw/x.json", indexed_at=WHEN, size=1)
    with pytest.raises(ValueError, match="s3:"):
        index.record(["shopify-customer:1"], "raw/x.json", indexed_at=WHEN, size=1)
    assert table.scan()["Items"] == []


def test_locations_and_keys() -> None:
    key = "raw/shopify/webhooks/orders/topic=orders_create/dt=2024-09-26/e.json"
    assert s3_location(key) == "s3:" + key
    assert location_key(s3_location(key)) == key
    for bad in ("raw/x.json", "s3:", "dynamodb:orders", ""):
        with pytest.raises(ValueError, match="s3"):
            location_key(bad)
    with pytest.raises(ValueError, match="empty"):
        s3_location("")


def test_forget_deletes_every_item_of_the_subjects_and_nothing_else(table: Any) -> None:
    index = PrivacyIndex(table, page_size=2)
    email, other = "email:" + "a" * 64, "email:" + "b" * 64
    for n in range(5):
        index.record([email, "shopify-customer:1"], f"s3:raw/o{n}.json", indexed_at=WHEN, size=1)
    index.record([other], "s3:raw/other.json", indexed_at=WHEN, size=1)
    assert index.forget([email, email]) == 5
    assert index.locations([email]) == set()
    assert index.locations(["shopify-customer:1"]) == {f"s3:raw/o{n}.json" for n in range(5)}
    assert index.locations([other]) == {"s3:raw/other.json"}
    assert index.forget([email]) == 0  # a second erasure finds nothing left
