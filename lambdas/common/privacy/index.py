"""The privacy index: which lake objects hold what subjects (DynamoDB, HASH ``subject``, RANGE ``location``).

One item per (subject, object), written by the indexer as objects land, read by the privacy workflow to
find a person's objects without scanning the lake. ``location`` is ``s3:<object key>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key

from common.errors import TransientError
from common.privacy.subjects import is_subject
from common.timeutil import iso_utc

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

S3_PREFIX = "s3:"
BATCH_SIZE = 25  # BatchWriteItem's limit
MAX_BATCH_ATTEMPTS = 8


def s3_location(key: str) -> str:
    if not key:
        raise ValueError("an object key is empty")
    return S3_PREFIX + key


def location_key(location: str) -> str:
    """The object key of an ``s3:`` location; ValueError for any other location."""
    if not location.startswith(S3_PREFIX) or len(location) == len(S3_PREFIX):
        raise ValueError("not an s3: location")
    return location[len(S3_PREFIX) :]


class PrivacyIndex:
    def __init__(
        self, table: Table, *, sleep: Callable[[float], None] = time.sleep, page_size: int | None = None
    ) -> None:
        self._table = table
        self._sleep = sleep
        self._page_size = page_size  # None: DynamoDB's 1 MB pages

    def record(self, subjects: Iterable[str], location: str, *, indexed_at: datetime, size: int) -> int:
        """Write one item per subject (in batches of 25, unprocessed items retried); the number written.

        TransientError when DynamoDB still leaves items unprocessed after the retries.
        """
        location_key(location)
        unique = sorted(set(subjects))
        for subject in unique:
            if not is_subject(subject):
                raise ValueError("a subject to index is not a privacy subject")
        stamp = iso_utc(indexed_at)
        for start in range(0, len(unique), BATCH_SIZE):
            requests = [
                {"PutRequest": {"Item": {"subject": subject, "location": location, "indexed_at": stamp, "bytes": size}}}
                for subject in unique[start : start + BATCH_SIZE]
            ]
            self._write(requests)
        return len(unique)

    def _write(self, requests: list[dict[str, Any]]) -> None:
        # The table resource's client takes and returns plain Python values (boto3's resource transform).
        client = self._table.meta.client
        name = self._table.name
        pending: list[Any] = requests
        for attempt in range(MAX_BATCH_ATTEMPTS):
            if attempt:
                self._sleep(min(2.0, 0.05 * 2**attempt))
            response = client.batch_write_item(RequestItems={name: pending})
            pending = list(response.get("UnprocessedItems", {}).get(name, []))
            if not pending:
                return
        raise TransientError(
            f"privacy index: {len(pending)} items still unprocessed after {MAX_BATCH_ATTEMPTS} attempts"
        )

    def forget(self, subjects: Iterable[str]) -> int:
        """Delete every item of the subjects (an erased person's e-mail and phone digests: once their data
        is gone, the index must not keep pointing at where it was); the number deleted. One DeleteItem per
        item (a person has tens of them), so the caller needs delete rights only, not BatchWriteItem's put."""
        deleted = 0
        for subject in sorted(set(subjects)):
            for location in sorted(self.locations([subject])):
                self._table.delete_item(Key={"subject": subject, "location": location})
                deleted += 1
        return deleted

    def locations(self, subjects: Iterable[str]) -> set[str]:
        """Every location indexed under any of the subjects (each subject queried, all pages)."""
        found: set[str] = set()
        for subject in sorted(set(subjects)):
            start: dict[str, Any] | None = None
            while True:
                arguments: dict[str, Any] = {
                    "KeyConditionExpression": Key("subject").eq(subject),
                    "ProjectionExpression": "#location",
                    "ExpressionAttributeNames": {"#location": "location"},
                    "ConsistentRead": True,
                }
                if start is not None:
                    arguments["ExclusiveStartKey"] = start
                if self._page_size is not None:
                    arguments["Limit"] = self._page_size
                page = self._table.query(**arguments)
                found.update(str(item["location"]) for item in page.get("Items", []))
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
        return found
