"""What an authentic Recharge delivery is: its topic, its resource, its version, and what it writes.

Everything here is pure (no AWS): the handler calls it after the signature check and turns a
``BadInput`` into a quarantine. The rules (docs/recharge.md has the reasoning):

- topic: the per-topic URL's ``{resource}/{event}`` path, else the ``X-Recharge-Topic`` header; when both
  are given they must agree. Only the topics in ``TOPICS`` are processed.
- resource: the payload is a JSON object with one top-level key named after the resource
  (``{"subscription": {...}}``). Extra keys (``included_objects``) are tolerated when the topic's
  resource is among them. The resource must be the topic's resource.
- the topic is not signed (a captured body can be re-posted under any topic), so it must agree with the
  body (``check_agreement``): a ``*/deleted`` topic needs Recharge's delete shape (``deleted_at`` set,
  or nothing but the id and timestamps), a body of that shape needs a ``*/deleted`` topic, a
  ``subscription/cancelled`` needs status ``cancelled`` and ``cancelled_at``, a
  ``charge/max_retries_reached`` needs status ``error`` and no ``retry_date`` (no retry left). What
  the hot store keeps is derived from the body alone, never from the topic, so a relabelled body writes
  nothing another topic did not.
- version: the resource's ``updated_at`` (a delete: the later of ``updated_at`` and ``deleted_at``),
  normalised to UTC (``normalise_timestamp``). Two deliveries with the same version are ordered by
  ``event_id``, made of the signed body alone: a body of the delete shape first (``d-``), then the
  body's hash (``c-<hash>``). The same body under two topics is the same write (a duplicate, never an
  override), and different bodies of one version converge on the same winner whatever the order.
- the hot-store item must be storable (DynamoDB numbers, item size): one that is not is a ``BadInput``
  too, found before anything is written, because a retry of the same bytes cannot fix it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from common.errors import BadInput
from common.hotstore import serialize
from common.lake import recharge_key
from common.timeutil import TimestampError, iso_utc, parse_timestamp, to_epoch_micros

TOPICS: dict[str, frozenset[str]] = {
    "subscription": frozenset(
        {"created", "updated", "activated", "cancelled", "deleted", "skipped", "unskipped", "swapped", "paused"}
    ),
    "charge": frozenset(
        {"created", "paid", "failed", "max_retries_reached", "refunded", "upcoming", "updated", "deleted"}
    ),
    "order": frozenset({"created", "processed", "cancelled", "updated", "deleted", "success", "upcoming"}),
    "customer": frozenset({"created", "updated", "activated", "deactivated", "deleted", "payment_method_updated"}),
    "address": frozenset({"created", "updated", "deleted"}),
}

SOURCE = "recharge"
TOPIC_HEADER = "x-recharge-topic"
_TOPIC_PART = re.compile(r"^[a-z][a-z_]{0,39}$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ID = re.compile(r"^[0-9]{1,20}$")

# Alerts the handler sends itself (only ids: no names, e-mails or free-text reasons).
ALERT_TOPICS = {"subscription/cancelled": "subscription-cancelled", "charge/max_retries_reached": "charge-max-retries"}

# DynamoDB refuses items over 400 KB (names and values); what is copied from a delivery must stay well
# under it, with room for the version attributes the hot-store write adds.
MAX_ITEM_BYTES = 350_000


@dataclass(frozen=True)
class Delivery:
    topic: str  # "subscription/cancelled"
    resource: str  # "subscription"
    resource_id: str  # digits
    updated_at: datetime  # aware, UTC
    record: Mapping[str, Any]  # the resource object as sent
    event_id: str  # orders deliveries with equal updated_at (see module doc)

    @property
    def event(self) -> str:
        return self.topic.partition("/")[2]

    @property
    def is_delete(self) -> bool:
        """A delete, decided by the body (``check_agreement`` makes a ``*/deleted`` topic carry one)."""
        return is_delete_shape(self.record)

    @property
    def version_us(self) -> int:
        return to_epoch_micros(self.updated_at)

    def raw_key(self) -> str:
        return recharge_key(self.resource, self.topic, self.updated_at, self.resource_id)


# ------------------------------------------------------------------------------------ timestamps


def normalise_timestamp(value: str, naive_zone: tzinfo) -> str:
    """Recharge's mixed timestamp forms as fixed-width UTC text (docs/recharge.md, "Timestamps").

    A value with an offset (``2023-05-13T04:07:34+00:00``) is converted from that offset; a value
    without one (``2018-10-17T09:01:39``) is read in ``naive_zone``; a date alone (``2024-05-12``) is a
    calendar date, not an instant, and stays as it is. Raises ``TimestampError`` for anything else.
    """
    if _DATE_ONLY.match(value):
        return value
    return iso_utc(parse_timestamp(value, naive_as=naive_zone))


# ------------------------------------------------------------------------------------ topic


def resolve_topic(path_parameters: Mapping[str, str] | None, headers: Mapping[str, str]) -> str:
    """The delivery's topic, from the per-topic path or the topic header (BadInput when unusable)."""
    from_path = None
    if path_parameters and ("resource" in path_parameters or "event" in path_parameters):
        from_path = f"{path_parameters.get('resource', '')}/{path_parameters.get('event', '')}"
    from_header = (headers.get(TOPIC_HEADER) or "").strip() or None
    if from_path is not None and from_header is not None and from_path != from_header:
        raise BadInput("topic-conflict", f"path says {from_path[:80]!r}, {TOPIC_HEADER} says {from_header[:80]!r}")
    topic = from_path or from_header
    if topic is None:
        raise BadInput(
            "missing-topic", f"no topic: use the per-topic URL /recharge/webhooks/<resource>/<event> or {TOPIC_HEADER}"
        )
    resource, _, event = topic.partition("/")
    if not (_TOPIC_PART.match(resource) and _TOPIC_PART.match(event)) or event not in TOPICS.get(resource, ()):
        raise BadInput("unknown-topic", f"topic {topic[:80]!r} is not one this platform processes")
    return topic


# ------------------------------------------------------------------------------------ payload


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: valid JSON text, but no number a store can hold
        raise ValueError("number out of range")
    return value


# A tombstone: what a delete may carry besides nothing (Recharge's delete payload is not documented in
# the pages available here; docs/recharge.md, "Topics must agree with the body").
_TOMBSTONE_KEYS = frozenset({"id", "updated_at", "deleted_at"})
TOPIC_DISAGREES = "topic-disagrees"


def _set(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def is_delete_shape(record: Mapping[str, Any]) -> bool:
    """Recharge's delete shape: ``deleted_at`` set, or a tombstone (the id and timestamps only)."""
    return _set(record.get("deleted_at")) or set(record) <= _TOMBSTONE_KEYS


def check_agreement(topic: str, record: Mapping[str, Any]) -> None:
    """The unsigned topic must agree with the signed body (BadInput ``topic-disagrees`` otherwise)."""
    event = topic.partition("/")[2]
    deleted = is_delete_shape(record)
    if event == "deleted" and not deleted:
        raise BadInput(TOPIC_DISAGREES, f"{topic} without the delete shape (deleted_at, or only id and timestamps)")
    if event != "deleted" and set(record) <= _TOMBSTONE_KEYS:
        raise BadInput(TOPIC_DISAGREES, f"{topic} carries a tombstone (only id and timestamps)")
    status = record.get("status")
    status_text = status.strip().lower() if isinstance(status, str) else ""
    if topic == "subscription/cancelled" and not (status_text == "cancelled" and _set(record.get("cancelled_at"))):
        raise BadInput(TOPIC_DISAGREES, f"{topic} without status cancelled and cancelled_at")
    if topic == "charge/max_retries_reached" and (status_text != "error" or _set(record.get("retry_date"))):
        raise BadInput(TOPIC_DISAGREES, f"{topic} without status error and with a retry still scheduled")


def event_id_of(body: bytes, *, deleted: bool) -> str:
    """Orders deliveries of one version by the signed body alone, never by the unsigned topic: a body of
    the delete shape first (``d-``), then the content hash (``c-``)."""
    return ("d-" if deleted else "c-") + hashlib.sha256(body).hexdigest()[:32]


def parse(body: bytes, topic: str, naive_zone: tzinfo) -> Delivery:
    """The delivery in ``body`` (authentic bytes) for ``topic`` (from ``resolve_topic``)."""
    try:
        payload = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadInput("unparseable-json", type(exc).__name__) from None
    if not isinstance(payload, dict) or not payload:
        raise BadInput("not-a-resource", "the payload is not a JSON object with a resource key")
    topic_resource = topic.partition("/")[0]
    if len(payload) == 1:
        resource = next(iter(payload))
    elif topic_resource in payload:
        resource = topic_resource  # the other keys are included_objects
    else:
        raise BadInput("ambiguous-resource", f"{len(payload)} top-level keys, none is {topic_resource!r}")
    if resource != topic_resource:
        raise BadInput("topic-mismatch", f"topic {topic} carries a {str(resource)[:40]!r} payload")
    record = payload[resource]
    if not isinstance(record, dict):
        raise BadInput("not-a-resource", f"{resource} is not a JSON object")
    resource_id = id_text(record.get("id"))
    if resource_id is None:
        raise BadInput("missing-id", f"{resource} has no usable id")
    check_agreement(topic, record)
    moments = []
    for name in ("updated_at", "deleted_at") if is_delete_shape(record) else ("updated_at",):
        raw = record.get(name)
        if not _set(raw):
            continue
        try:
            moments.append(parse_timestamp(raw, naive_as=naive_zone))
        except (TimestampError, OverflowError) as exc:  # OverflowError: year 1 or 9999 moved across an offset
            raise BadInput(f"bad-{name.replace('_', '-')}", str(exc)[:200]) from None
    if not moments:
        raise BadInput("missing-updated-at", f"{resource} {resource_id} has no updated_at")
    updated_at = max(moments)
    event_id = event_id_of(body, deleted=is_delete_shape(record))
    return Delivery(topic, resource, resource_id, updated_at, record, event_id)


def id_text(value: Any) -> str | None:
    """A Recharge id (an integer, or its digits as text) as text; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return str(value)
    if isinstance(value, str) and _ID.match(value.strip()):
        return value.strip()
    return None


# ------------------------------------------------------------------------------------ hot stores

# resource -> (table setting, key attribute, fields copied as sent, timestamp fields normalised)
_COPIED: dict[str, tuple[str, ...]] = {
    "subscription": (
        "address_id", "status", "product_title", "variant_title", "sku", "quantity", "price",
        "presentment_currency", "order_interval_unit", "order_interval_frequency", "charge_interval_frequency",
        "next_charge_scheduled_at", "cancellation_reason", "is_prepaid", "is_skippable", "is_swappable",
        "max_retries_reached", "external_product_id", "external_variant_id", "shopify_product_id",
        "shopify_variant_id",
    ),
    "charge": (
        "address_id", "status", "type", "scheduled_at", "retry_date", "error_type", "error", "currency",
        "total_price", "subtotal_price", "total_tax", "total_discounts", "total_refunds", "orders_count",
        "charge_attempts", "number_times_tried", "external_order_id", "external_transaction_id",
    ),
    "order": (
        "address_id", "status", "type", "is_prepaid", "currency", "total_price", "subtotal_price", "total_tax",
        "total_discounts", "total_refunds", "external_order_name", "external_order_number",
    ),
    # No contact fields (email, first_name, last_name): no documented need requires them in the hot
    # store, and the raw lake keeps the delivery verbatim (docs/privacy-retention.md).
    "customer": (
        "subscriptions_active_count", "subscriptions_total_count", "has_valid_payment_method",
        "has_payment_method_in_dunning", "tax_exempt",
    ),
}  # fmt: skip
# Attributes earlier versions copied and no longer do: a writer that wants items written before the
# change cleaned on their next update passes these as ``remove`` to ``upsert_if_newer``.
RETIRED: dict[str, tuple[str, ...]] = {"customer": ("email", "first_name", "last_name")}
_TIMESTAMPS: dict[str, tuple[str, ...]] = {
    "subscription": ("created_at", "cancelled_at"),
    "charge": ("created_at", "processed_at"),
    "order": ("created_at", "processed_at", "scheduled_at", "cancelled_at"),
    "customer": ("created_at", "first_charge_processed_at"),
}
KEYS = {
    "subscription": "subscription_id",
    "charge": "charge_id",
    "order": "order_id",
    "customer": "customer_key",
}


def customer_key(recharge_customer_id: str) -> str:
    """Recharge customers share the customers table with Shopify's: the prefix keeps ids apart."""
    return f"recharge:{recharge_customer_id}"


def _nested_id(record: Mapping[str, Any], nested: str, flat: str) -> str | None:
    inner = record.get(nested)
    if isinstance(inner, Mapping):
        found = id_text(inner.get("id"))
        if found is not None:
            return found
    return id_text(record.get(flat))


def _ecommerce_id(record: Mapping[str, Any], modern: str, legacy: str) -> str | None:
    """2021-11 ``external_*_id.ecommerce`` or the 2021-01 ``shopify_*_id``."""
    external = record.get(modern)
    if isinstance(external, Mapping):
        found = id_text(external.get("ecommerce"))
        if found is not None:
            return found
    return id_text(record.get(legacy))


def hot_item(delivery: Delivery, naive_zone: tzinfo) -> tuple[dict[str, str], dict[str, Any]] | None:
    """The hot-store key and attributes this delivery writes, or None (addresses live in the lake only).

    Index key attributes (``customer_id``, ``shopify_order_id``, ``shopify_customer_id``) are set only
    when known: an index key may not be null or empty. ``BadInput("unstorable-item")`` when DynamoDB
    could not hold the item (a number beyond its range or 38 digits, an item near its 400 KB limit).
    """
    built = _build_item(delivery, naive_zone)
    if built is not None:
        _check_storable(*built)
    return built


def _check_storable(key: Mapping[str, str], attributes: Mapping[str, Any]) -> None:
    try:
        serialized = serialize({**key, **attributes})
    except (TypeError, ValueError, ArithmeticError) as exc:  # decimal signals are ArithmeticErrors
        # The type only: some of these messages quote the value, and the detail goes to the object's metadata.
        raise BadInput("unstorable-item", f"a value DynamoDB cannot hold ({type(exc).__name__})") from None
    size = len(json.dumps(serialized, separators=(",", ":")))
    if size > MAX_ITEM_BYTES:
        raise BadInput("unstorable-item", f"the item would be about {size} bytes (limit {MAX_ITEM_BYTES})")


def _build_item(delivery: Delivery, naive_zone: tzinfo) -> tuple[dict[str, str], dict[str, Any]] | None:
    resource, record = delivery.resource, delivery.record
    if resource not in KEYS:
        return None
    attributes: dict[str, Any] = {name: record[name] for name in _COPIED[resource] if name in record}
    attributes.update(_timestamps(record, _TIMESTAMPS[resource], naive_zone))
    attributes["last_topic"] = delivery.topic
    attributes["deleted"] = delivery.is_delete
    attributes["source"] = SOURCE
    if resource == "customer":
        attributes["recharge_customer_id"] = delivery.resource_id
        _set_if_known(
            attributes, "shopify_customer_id", _ecommerce_id(record, "external_customer_id", "shopify_customer_id")
        )
        return {KEYS[resource]: customer_key(delivery.resource_id)}, attributes
    customer = _customer_id(record)
    if customer is not None:
        attributes["customer_id"] = customer
        attributes["customer_key"] = customer_key(customer)
    if resource == "order":
        _set_if_known(attributes, "shopify_order_id", _ecommerce_id(record, "external_order_id", "shopify_order_id"))
        _set_if_known(attributes, "charge_id", _nested_id(record, "charge", "charge_id"))
    if resource == "charge":
        subscriptions = _subscription_ids(record)
        if subscriptions:
            attributes["subscription_ids"] = subscriptions
    return {KEYS[resource]: delivery.resource_id}, attributes


def _set_if_known(attributes: dict[str, Any], name: str, value: str | None) -> None:
    if value is not None:
        attributes[name] = value


def _customer_id(record: Mapping[str, Any]) -> str | None:
    """``customer_id`` (subscriptions, addresses, 2021-01) or ``customer.id`` (2021-11 charges, orders)."""
    return id_text(record.get("customer_id")) or _nested_id(record, "customer", "customer_id")


def _timestamps(record: Mapping[str, Any], names: tuple[str, ...], naive_zone: tzinfo) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in names:
        if name not in record:
            continue
        value = record[name]
        if isinstance(value, str) and value.strip():
            # A value that is not a timestamp is kept as sent; the lake has the delivery verbatim.
            with contextlib.suppress(TimestampError, OverflowError):
                value = normalise_timestamp(value.strip(), naive_zone)
        found[name] = value
    return found


def _subscription_ids(record: Mapping[str, Any]) -> list[str]:
    """The subscriptions a charge bills (2021-11 purchase items, 2021-01 ``subscription_id``)."""
    found: list[str] = []
    items = record.get("line_items")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        if item.get("purchase_item_type") == "subscription":
            candidate = id_text(item.get("purchase_item_id"))
        else:
            candidate = id_text(item.get("subscription_id"))
        if candidate is not None and candidate not in found:
            found.append(candidate)
    return found


# ------------------------------------------------------------------------------------ alerts


def alert(delivery: Delivery) -> tuple[str, str] | None:
    """(subject, message) for the deliveries that warrant one; ids only, never personal data."""
    kind = ALERT_TOPICS.get(delivery.topic)
    if kind is None:
        return None
    record = delivery.record
    message: dict[str, Any] = {
        "source": "recharge",
        "alert": kind,
        "topic": delivery.topic,
        f"{delivery.resource}_id": delivery.resource_id,
        "customer_id": _customer_id(record),
        "updated_at": iso_utc(delivery.updated_at),
    }
    if delivery.resource == "charge":
        message["subscription_ids"] = _subscription_ids(record)
    what = "subscription cancelled" if kind == "subscription-cancelled" else "charge reached max retries"
    subject = f"Recharge {what}: {delivery.resource} {delivery.resource_id}"
    return subject[:100], json.dumps(message, sort_keys=True)
