"""DynamoDB hot stores: the newest state of each resource, whatever order its events arrive in.

Every write carries the source version of what it writes: the resource's ``updated_at`` (microseconds,
UTC) and, to order two events with the same ``updated_at``, the id of the event that carried it. A write
succeeds only if its version is greater than the stored one, so duplicates, retries, replays and late
deliveries leave the same final item as in-order delivery.

Two ways to write a version:

- ``replace_if_newer`` stores the item as the version describes it, dropping attributes an older version
  had and this one has not (a customer removed from an order leaves no stale ``customer_id``). Attributes
  another writer owns on the same item (a tombstone) are named in ``keep`` and survive. It is one
  conditional PutItem, which also answers what was stored before.
- ``upsert_if_newer`` sets only the attributes it names, for items that several writers share (a cart
  that the order processor marks converted, a customer whose consents arrive apart).
- ``upsert_group_if_newer`` sets one group of attributes versioned apart from the item (a customer's
  marketing consent, which its own topics change): the group's version lives in ``<group>_version`` and
  ``<group>_event_id``, compared as the item's version is.
- ``upsert_parts_if_newer`` does what the two above do for several parts of one item (a customer's
  profile and consents) in one UpdateItem when every part is newer or none is, and in two otherwise.

Two one-way marks, which no version undoes: ``set_if_absent`` (a cart converted by an order) and
``tombstone`` (a delete: ``TOMBSTONE``'s attributes, the first delete's kept; ``replace_if_newer``
keeps them when told to, so a later state write never revives the resource). ``replace_if_newer`` also
writes ``Mark``s (one-way marks on other items: the carts an order converts) with a version, in one
``TransactWriteItems``: the version and its marks are stored together or not at all.

``serialize`` and ``deserialize`` answer exactly as boto3's TypeSerializer and TypeDeserializer (after
``to_dynamo_value``), without their generic dispatch for the types items hold.

A side effect done once per version of an item (an alert) claims the version (``claim_version``, a
claim that expires) and then records it done (``mark_version_done``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from common.timeutil import iso_utc, to_epoch_micros, utc_now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

VERSION = "source_version"
EVENT_ID = "source_event_id"
UPDATED_AT = "source_updated_at"
INGESTED_AT = "ingested_at"
_RESERVED = {VERSION, EVENT_ID, UPDATED_AT, INGESTED_AT}
TOMBSTONE = ("deleted", "deleted_at", "deleted_by_event_id")  # set by a delete, kept by state writes

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


def _number(value: int | Decimal) -> str:
    """boto3's rule for a number: exact within DynamoDB's 38 digits, never Infinity or NaN."""
    number = str(DYNAMODB_CONTEXT.create_decimal(value))
    if number in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def _attribute(value: Any) -> dict[str, Any]:
    """``TypeSerializer().serialize(to_dynamo_value(value))``, without its generic dispatch for the
    types items hold (it was a third of a processor's own time); other types go to boto3's."""
    encode = _ENCODERS.get(type(value))
    if encode is not None:
        return encode(value)
    if isinstance(value, Mapping):
        return {"M": {str(k): _attribute(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [_attribute(v) for v in value]}
    return cast("dict[str, Any]", _serializer.serialize(to_dynamo_value(value)))


_ENCODERS: dict[type, Callable[[Any], dict[str, Any]]] = {
    str: lambda v: {"S": v},
    dict: lambda v: {"M": {str(k): _attribute(x) for k, x in v.items()}},
    type(None): lambda _: {"NULL": True},
    bool: lambda v: {"BOOL": v},
    int: lambda v: {"N": _number(v)},
    Decimal: lambda v: {"N": _number(v)},
    list: lambda v: {"L": [_attribute(x) for x in v]},
    tuple: lambda v: {"L": [_attribute(x) for x in v]},
    float: lambda v: {"N": _number(Decimal(repr(v)))},
}


def _value(attribute: Mapping[str, Any]) -> Any:
    """``TypeDeserializer().deserialize(attribute)``, fast for the types items hold."""
    (kind, value), *_ = attribute.items()
    decode = _DECODERS.get(kind)
    return decode(value) if decode is not None else _deserializer.deserialize(dict(attribute))  # type: ignore[arg-type]


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "S": lambda v: v,
    "N": DYNAMODB_CONTEXT.create_decimal,
    "M": lambda v: {k: _value(x) for k, x in v.items()},
    "L": lambda v: [_value(x) for x in v],
    "BOOL": lambda v: v,
    "NULL": lambda _: None,
}


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _attribute(v) for k, v in item.items()}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in item.items()}


def _versioned(version: SourceVersion, updated_at: datetime, ingested_at: datetime | None) -> dict[str, Any]:
    """The attributes every write stores beside its own: its source version and when it was ingested."""
    return {
        VERSION: version.updated_at_us,
        EVENT_ID: version.event_id,
        UPDATED_AT: iso_utc(updated_at),
        INGESTED_AT: iso_utc(ingested_at or utc_now()),
    }


def _upsert_request(
    table: str,
    key: Mapping[str, Any],
    attributes: Mapping[str, Any],
    version: SourceVersion,
    *,
    updated_at: datetime,
    ingested_at: datetime | None,
    remove: Collection[str],
) -> dict[str, Any]:
    """The conditional UpdateItem of ``upsert_if_newer``, as its parameters."""
    clash = (_RESERVED | set(key)).intersection(set(attributes) | set(remove))
    if clash:
        raise ValueError(f"attributes may not set {sorted(clash)}")
    values = {**attributes, **_versioned(version, updated_at, ingested_at)}
    names = {f"#a{i}": name for i, name in enumerate(values)}
    placeholders = {name: f":a{i}" for i, name in enumerate(values)}
    assignments = ", ".join(f"#a{i} = {placeholders[name]}" for i, name in enumerate(values))
    expression = f"SET {assignments}"
    if remove:
        removed = {f"#r{i}": name for i, name in enumerate(sorted(remove))}
        names |= removed
        expression += " REMOVE " + ", ".join(removed)
    version_ref = next(ref for ref, name in names.items() if name == VERSION)
    event_ref = next(ref for ref, name in names.items() if name == EVENT_ID)
    return {
        "TableName": table,
        "Key": serialize(key),
        "UpdateExpression": expression,
        "ConditionExpression": _version_condition(
            version_ref, event_ref, placeholders[VERSION], placeholders[EVENT_ID]
        ),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": serialize({placeholders[n]: v for n, v in values.items()}),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def _lost(stored: Mapping[str, Any], version: SourceVersion) -> Outcome:
    """The outcome of a write whose condition failed on ``stored``."""
    return Outcome.DUPLICATE if _stored_version(stored) == version else Outcome.STALE


def upsert_if_newer(
    client: DynamoDBClient,
    table: str,
    key: Mapping[str, Any],
    attributes: Mapping[str, Any],
    version: SourceVersion,
    *,
    updated_at: datetime,
    ingested_at: datetime | None = None,
    remove: Collection[str] = (),
) -> Outcome:
    """Set ``attributes`` (and remove the ``remove`` ones) on the item at ``key`` unless the stored
    version is at least ``version``."""
    request = _upsert_request(
        table, key, attributes, version, updated_at=updated_at, ingested_at=ingested_at, remove=remove
    )
    try:
        _write(client, "Update", request, ())
    except _ConditionFailedError as lost:
        return _lost(lost.stored, version)
    return Outcome.WRITTEN


def group_version_attributes(group: str) -> tuple[str, str]:
    """The attributes holding a group's version: ``<group>_version`` and ``<group>_event_id``."""
    return f"{group}_version", f"{group}_event_id"


def upsert_group_if_newer(
    client: DynamoDBClient,
    table: str,
    key: Mapping[str, Any],
    group: str,
    value: Any,
    version: SourceVersion,
    *,
    also: Mapping[str, Any] | None = None,
) -> Outcome:
    """Set the attribute ``group`` to ``value`` (and the ``also`` attributes) unless the group's stored
    version is at least ``version``; the item's own version is not looked at."""
    version_name, event_name = group_version_attributes(group)
    extra = dict(also or {})
    clash = ({group, version_name, event_name} | _RESERVED | set(key)).intersection(extra)
    if clash:
        raise ValueError(f"also may not set {sorted(clash)}")
    names = {"#g": group, "#v": version_name, "#e": event_name} | {f"#x{i}": n for i, n in enumerate(extra)}
    values = {":g": value, ":v": version.updated_at_us, ":e": version.event_id}
    values |= {f":x{i}": v for i, v in enumerate(extra.values())}
    assignments = ["#g = :g", "#v = :v", "#e = :e", *(f"#x{i} = :x{i}" for i in range(len(extra)))]
    try:
        client.update_item(
            TableName=table,
            Key=serialize(key),
            UpdateExpression="SET " + ", ".join(assignments),
            ConditionExpression=_version_condition("#v", "#e", ":v", ":e"),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize(values),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        stored = deserialize(exc.response.get("Item", {}))  # type: ignore[arg-type]
        seen = SourceVersion(int(stored.get(version_name, 0)), str(stored.get(event_name, "")))
        return Outcome.DUPLICATE if seen == version else Outcome.STALE
    return Outcome.WRITTEN


@dataclass(frozen=True)
class Part:
    """One part of an item versioned on its own: the attributes it sets (its version among them) and
    the names of the attributes holding its version. ``profile_part`` and ``group_part`` make them."""

    attributes: Mapping[str, Any]
    version: SourceVersion
    version_name: str = VERSION
    event_name: str = EVENT_ID

    def stored(self, item: Mapping[str, Any]) -> SourceVersion:
        return SourceVersion(int(item.get(self.version_name, 0)), str(item.get(self.event_name, "")))


def profile_part(
    key: Mapping[str, Any],
    attributes: Mapping[str, Any],
    version: SourceVersion,
    *,
    updated_at: datetime,
    ingested_at: datetime | None = None,
) -> Part:
    """The item's own attributes under its own version, as ``upsert_if_newer`` sets them."""
    clash = (_RESERVED | set(key)).intersection(attributes)
    if clash:
        raise ValueError(f"attributes may not set {sorted(clash)}")
    return Part({**attributes, **_versioned(version, updated_at, ingested_at)}, version)


def group_part(group: str, value: Any, version: SourceVersion) -> Part:
    """One group under its own version, as ``upsert_group_if_newer`` sets it."""
    version_name, event_name = group_version_attributes(group)
    attributes = {group: value, version_name: version.updated_at_us, event_name: version.event_id}
    return Part(attributes, version, version_name, event_name)


def upsert_parts_if_newer(
    client: DynamoDBClient,
    table: str,
    key: Mapping[str, Any],
    parts: Sequence[Part],
    *,
    also: Mapping[str, Any] | None = None,
) -> list[Outcome]:
    """Each part (and the ``also`` attributes) set unless its stored version is at least its own: the
    outcomes of ``upsert_if_newer`` and ``upsert_group_if_newer`` called part by part, in one UpdateItem
    when every part is newer (the common case) or none is. When only some are, the item the failed
    condition returns names them, and one more UpdateItem writes those."""
    outcomes: list[Outcome | None] = [None] * len(parts)
    pending = list(range(len(parts)))
    while pending:
        values: dict[str, Any] = dict(also or {})
        for index in pending:
            values.update(parts[index].attributes)
        clash = set(key).intersection(values)
        if clash:
            raise ValueError(f"parts may not set {sorted(clash)}")
        names = {f"#a{i}": name for i, name in enumerate(values)}
        refs = {name: f"a{i}" for i, name in enumerate(values)}
        conditions = []
        for index in pending:
            part = parts[index]
            version_ref, event_ref = refs[part.version_name], refs[part.event_name]
            conditions.append(
                _version_condition(f"#{version_ref}", f"#{event_ref}", f":{version_ref}", f":{event_ref}")
            )
        try:
            client.update_item(
                TableName=table,
                Key=serialize(key),
                UpdateExpression="SET " + ", ".join(f"#{ref} = :{ref}" for ref in refs.values()),
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=serialize({f":{refs[name]}": value for name, value in values.items()}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            stored = deserialize(exc.response.get("Item", {}))  # type: ignore[arg-type]
            lost = [i for i in pending if parts[i].stored(stored) >= parts[i].version]
            for index in lost or pending:  # none lost: a version without its event id, never newer
                outcomes[index] = (
                    Outcome.DUPLICATE if parts[index].stored(stored) == parts[index].version else Outcome.STALE
                )
            pending = [i for i in pending if outcomes[i] is None]
            continue
        for index in pending:
            outcomes[index] = Outcome.WRITTEN
        pending = []
    return [outcome for outcome in outcomes if outcome is not None]


@dataclass(frozen=True)
class Replaced:
    """What ``replace_if_newer`` did, and the item stored before it (None if there was none)."""

    outcome: Outcome
    previous: dict[str, Any] | None


def _version_condition(version_ref: str, event_ref: str, version: str, event_id: str) -> str:
    """True when the stored item is older than the write (names and values are expression references)."""
    return (
        f"(attribute_not_exists({version_ref}) OR {version_ref} < {version} OR "
        f"({version_ref} = {version} AND {event_ref} < {event_id}))"
    )


def _stored_version(item: Mapping[str, Any]) -> SourceVersion:
    return SourceVersion(int(item.get(VERSION, 0)), str(item.get(EVENT_ID, "")))


@dataclass(frozen=True)
class Mark:
    """A one-way mark written with a version (``set_if_absent`` of ``attributes`` on ``table``/``key``)."""

    table: str
    key: Mapping[str, Any]
    attributes: Mapping[str, Any]


def _mark_update(mark: Mark) -> dict[str, Any]:
    """``set_if_absent``'s UpdateItem: no condition, so it never cancels what it is written with."""
    names = {f"#a{i}": name for i, name in enumerate(mark.attributes)}
    assignments = ", ".join(f"#a{i} = if_not_exists(#a{i}, :a{i})" for i in range(len(mark.attributes)))
    return {
        "TableName": mark.table,
        "Key": serialize(mark.key),
        "UpdateExpression": f"SET {assignments}",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": serialize({f":a{i}": v for i, v in enumerate(mark.attributes.values())}),
    }


class _ConditionFailedError(Exception):
    """The first action of a transaction failed its condition; ``stored`` is the item it found."""

    def __init__(self, stored: dict[str, Any]) -> None:
        super().__init__("condition failed")
        self.stored = stored


def _write(client: DynamoDBClient, action: str, request: dict[str, Any], marks: Sequence[Mark]) -> dict[str, Any]:
    """One conditional write (``action``: Put or Update), alone or in one transaction with ``marks``.

    Raises ``_ConditionFailedError`` when its condition fails (the marks are not written then either)."""
    dynamodb: Any = client  # the requests are built as plain dicts
    if not marks:
        try:
            response: dict[str, Any] = (dynamodb.put_item if action == "Put" else dynamodb.update_item)(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            raise _ConditionFailedError(deserialize(exc.response.get("Item", {}))) from None  # type: ignore[arg-type]
        return response
    own = {k: v for k, v in request.items() if k != "ReturnValues"}
    items = [{action: own}, *({"Update": _mark_update(m)} for m in marks)]
    try:
        dynamodb.transact_write_items(TransactItems=items)
    except ClientError as exc:
        reasons: list[dict[str, Any]] = exc.response.get("CancellationReasons") or []  # type: ignore[assignment]
        if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException" or not reasons:
            raise
        if reasons[0].get("Code") != "ConditionalCheckFailed":
            raise  # a conflict or throttling: transient, Lambda retries the event
        raise _ConditionFailedError(deserialize(reasons[0].get("Item", {}))) from None
    return {}


def replace_if_newer(
    client: DynamoDBClient,
    table: str,
    key: Mapping[str, Any],
    attributes: Mapping[str, Any],
    version: SourceVersion,
    *,
    updated_at: datetime,
    keep: Collection[str] = (),
    ingested_at: datetime | None = None,
    marks: Sequence[Mark] = (),
) -> Replaced:
    """Store ``key`` + ``attributes`` as the whole item unless the stored version is at least ``version``.

    ``keep`` names attributes another writer sets on this item; while the stored item has none of them
    the write is a single PutItem. When it has one, the write becomes an update that sets this
    version's attributes, removes the ones it no longer has, and leaves the kept ones alone.

    ``marks`` are one-way marks on other items written with this version or not at all: the write and
    its marks are one ``TransactWriteItems``, so a version that is stored has its marks stored. Such a
    write does not answer the item it replaced (``previous`` is None when it is WRITTEN).
    """
    clash = (_RESERVED | set(key) | set(keep)).intersection(attributes)
    if clash:
        raise ValueError(f"attributes may not set {sorted(clash)}")
    item = {**key, **attributes, **_versioned(version, updated_at, ingested_at)}
    names = {"#v": VERSION, "#e": EVENT_ID} | {f"#k{i}": name for i, name in enumerate(keep)}
    kept_absent = [f"attribute_not_exists(#k{i})" for i in range(len(keep))]
    condition = " AND ".join([_version_condition("#v", "#e", ":version", ":event_id"), *kept_absent])
    request = {
        "TableName": table,
        "Item": serialize(item),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": serialize({":version": version.updated_at_us, ":event_id": version.event_id}),
        "ReturnValues": "ALL_OLD",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    try:
        response = _write(client, "Put", request, marks)
    except _ConditionFailedError as cancelled:
        stored = cancelled.stored
        if _stored_version(stored) >= version:
            return Replaced(_lost(stored, version), stored)
        # Newer, but another writer's attribute is on the item: update around it.
        gone = set(stored) - set(item) - set(keep)
        update = _upsert_request(
            table, key, attributes, version, updated_at=updated_at, ingested_at=ingested_at, remove=gone
        )
        try:
            _write(client, "Update", update, marks)
        except _ConditionFailedError as again:
            return Replaced(_lost(again.stored, version), stored)
        return Replaced(Outcome.WRITTEN, stored)
    previous = response.get("Attributes")
    return Replaced(Outcome.WRITTEN, deserialize(previous) if previous else None)


def set_if_absent(client: DynamoDBClient, table: str, key: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    """Set each attribute that is not yet set (a one-way mark, such as a cart's conversion).

    Returns True when at least one attribute was newly set. Creates the item if it does not exist, so a
    mark that arrives before the thing it marks is not lost.
    """
    before = set_if_absent_before(client, table, key, attributes)
    return any(name not in before for name in attributes)


def set_if_absent_before(
    client: DynamoDBClient, table: str, key: Mapping[str, Any], attributes: Mapping[str, Any]
) -> dict[str, Any]:
    """``set_if_absent``, answering the item as it was before (empty if there was none): whose mark it
    holds when the attribute was already set."""
    response = client.update_item(**_mark_update(Mark(table, key, attributes)), ReturnValues="ALL_OLD")
    return deserialize(response.get("Attributes", {}))


def tombstone(
    client: DynamoDBClient,
    table: str,
    key: Mapping[str, Any],
    *,
    deleted_at: datetime,
    event_id: str,
    also: Mapping[str, Any] | None = None,
) -> bool:
    """Mark the item deleted (``TOMBSTONE``, and the ``also`` attributes), keeping what it holds.

    One-way, like ``set_if_absent``: a redelivered or second delete leaves the first one's mark, and a
    delete that arrives before the resource's first state still leaves its mark. True when newly marked.
    """
    mark = dict(zip(TOMBSTONE, (True, iso_utc(deleted_at), event_id), strict=True))
    return set_if_absent(client, table, key, {**(also or {}), **mark})


def claim_version(
    client: DynamoDBClient,
    table: str,
    key: Mapping[str, Any],
    version: int,
    *,
    done: str,
    claimed: str,
    claimed_at: str,
    now: float,
    lease_seconds: float,
) -> bool:
    """Claim the item's ``version`` for a side effect done once per version (an alert's publish).

    Refused (False) when ``done`` already holds ``version`` or a newer one, or when a claim on it is
    younger than ``lease_seconds``: a claim whose side effect failed expires, so a retry does it. The
    claimer records success with ``mark_version_done``.
    """
    try:
        client.update_item(
            TableName=table,
            Key=serialize(key),
            UpdateExpression="SET #c = :v, #t = :now",
            ConditionExpression=(
                "(attribute_not_exists(#p) OR #p < :v) AND "
                "(attribute_not_exists(#c) OR #c < :v OR (#c = :v AND #t < :expired))"
            ),
            ExpressionAttributeNames={"#p": done, "#c": claimed, "#t": claimed_at},
            ExpressionAttributeValues=serialize(
                {":v": version, ":now": int(now), ":expired": int(now - lease_seconds)}
            ),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def mark_version_done(client: DynamoDBClient, table: str, key: Mapping[str, Any], version: int, *, done: str) -> bool:
    """Record in ``done`` that ``version``'s side effect happened; False when it already holds it or a newer one."""
    try:
        client.update_item(
            TableName=table,
            Key=serialize(key),
            UpdateExpression="SET #p = :v",
            ConditionExpression="attribute_not_exists(#p) OR #p < :v",
            ExpressionAttributeNames={"#p": done},
            ExpressionAttributeValues=serialize({":v": version}),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
