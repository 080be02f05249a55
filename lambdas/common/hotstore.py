"""DynamoDB hot stores: the newest state of each resource, whatever order its events arrive in.

Every write carries the source version of what it writes: the resource's ``updated_at`` (microseconds,
UTC) and, to order two events with the same ``updated_at``, the id of the event that carried it. A write
succeeds only if its version is greater than the stored one, so duplicates, retries, replays and late
deliveries leave the same final item as in-order delivery. Writes update only the attributes they name,
so attributes owned by another writer (a cart's conversion mark, say) survive.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from common.timeutil import iso_utc, to_epoch_micros, utc_now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

VERSION = "source_version"
EVENT_ID = "source_event_id"
UPDATED_AT = "source_updated_at"
INGESTED_AT = "ingested_at"
_RESERVED = {VERSION, EVENT_ID, UPDATED_AT, INGESTED_AT}

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass(frozen=True, order=True)
class SourceVersion:
    """A total order on writes: source time first, then event id."""

    updated_at_us: int
    event_id: str

    @classmethod
    def of(cls, updated_at: datetime, event_id: str) -> SourceVersion:
        return cls(to_epoch_micros(updated_at), event_id)


class Outcome(enum.Enum):
    WRITTEN = "written"
    STALE = "stale"  # the stored item is newer: this write lost, as it should
    DUPLICATE = "duplicate"  # the stored item was written by this very version


def to_dynamo_value(value: Any) -> Any:
    """Plain JSON-ish values to what DynamoDB accepts: floats become exact Decimals."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): to_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo_value(v) for v in value]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(to_dynamo_value(v)) for k, v in item.items()}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def upsert_if_newer(
    client: DynamoDBClient,
    table: str,
    key: Mapping[str, Any],
    attributes: Mapping[str, Any],
    version: SourceVersion,
    *,
    updated_at: datetime,
    ingested_at: datetime | None = None,
) -> Outcome:
    """Set ``attributes`` on the item at ``key`` unless the stored version is at least ``version``."""
    clash = _RESERVED.intersection(attributes) | set(key).intersection(attributes)
    if clash:
        raise ValueError(f"attributes may not set {sorted(clash)}")
    values = dict(attributes)
    values[VERSION] = version.updated_at_us
    values[EVENT_ID] = version.event_id
    values[UPDATED_AT] = iso_utc(updated_at)
    values[INGESTED_AT] = iso_utc(ingested_at or utc_now())
    names = {f"#a{i}": name for i, name in enumerate(values)}
    placeholders = {name: f":a{i}" for i, name in enumerate(values)}
    assignments = ", ".join(f"#a{i} = {placeholders[name]}" for i, name in enumerate(values))
    version_ref = next(ref for ref, name in names.items() if name == VERSION)
    event_ref = next(ref for ref, name in names.items() if name == EVENT_ID)
    condition = (
        f"attribute_not_exists({version_ref}) OR {version_ref} < {placeholders[VERSION]} OR "
        f"({version_ref} = {placeholders[VERSION]} AND {event_ref} < {placeholders[EVENT_ID]})"
    )
    try:
        client.update_item(
            TableName=table,
            Key=serialize(key),
            UpdateExpression=f"SET {assignments}",
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize({placeholders[n]: v for n, v in values.items()}),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        stored = deserialize(exc.response.get("Item", {}))  # type: ignore[arg-type]
        stored_version = SourceVersion(int(stored.get(VERSION, 0)), str(stored.get(EVENT_ID, "")))
        return Outcome.DUPLICATE if stored_version == version else Outcome.STALE
    return Outcome.WRITTEN


def set_if_absent(client: DynamoDBClient, table: str, key: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    """Set each attribute that is not yet set (a one-way mark, such as a cart's conversion).

    Returns True when at least one attribute was newly set. Creates the item if it does not exist, so a
    mark that arrives before the thing it marks is not lost.
    """
    names = {f"#a{i}": name for i, name in enumerate(attributes)}
    assignments = ", ".join(f"#a{i} = if_not_exists(#a{i}, :a{i})" for i in range(len(attributes)))
    response = client.update_item(
        TableName=table,
        Key=serialize(key),
        UpdateExpression=f"SET {assignments}",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=serialize({f":a{i}": v for i, v in enumerate(attributes.values())}),
        ReturnValues="ALL_OLD",
    )
    before = deserialize(response.get("Attributes", {}))
    return any(name not in before for name in attributes)
