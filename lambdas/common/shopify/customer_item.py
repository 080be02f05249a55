"""The customers hot-store item of a Shopify customer (``customer_key = shopify:<id>``) and its writes.

Shared by every writer of a customer's state: the customer processor (webhooks) and the bulk
reconciliation (bulk export lines, ``common.shopify.reconcile``). The item holds three groups of
attributes, each versioned on its own so that any delivery order converges to in-order delivery:

- the profile (``profile_attributes``), versioned by the customer's ``updated_at``
  (``common.hotstore.upsert_if_newer``; with the consents in one request, ``upsert_parts_if_newer``);
- ``email_marketing_consent`` and ``sms_marketing_consent``, each versioned by its own
  ``consent_updated_at`` (``common.hotstore.upsert_group_if_newer``);
- the deletion mark of customers/delete (``delete_customer``, a ``common.hotstore.tombstone``; written
  by the processor only).

Names, e-mail addresses, phone numbers, street addresses and notes stay in the raw lake only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from common.hotstore import (
    Outcome,
    Part,
    SourceVersion,
    group_part,
    profile_part,
    tombstone,
    upsert_group_if_newer,
    upsert_parts_if_newer,
)
from common.shopify import values as check
from common.timeutil import iso_utc

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EMAIL_CONSENT = "email_marketing_consent"
SMS_CONSENT = "sms_marketing_consent"
CONSENT_GROUPS = (EMAIL_CONSENT, SMS_CONSENT)


@dataclass(frozen=True)
class Consent:
    group: str  # EMAIL_CONSENT or SMS_CONSENT
    value: dict[str, Any]
    version: datetime


def customer_key(customer_id: str) -> dict[str, str]:
    return {"customer_key": f"shopify:{customer_id}"}


def consent(raw: Any, group: str, fallback: datetime) -> Consent | None:
    """A consent group from its REST object; versioned by ``consent_updated_at``, else ``fallback``."""
    value = check.optional_mapping(raw, group)
    if value is None:
        return None
    updated = check.optional_timestamp(value.get("consent_updated_at"), f"{group}.consent_updated_at")
    result = {
        "state": check.text(value.get("state"), f"{group}.state", limit=64),
        "opt_in_level": check.text(value.get("opt_in_level"), f"{group}.opt_in_level", limit=64),
        "consent_updated_at": iso_utc(updated) if updated else None,
    }
    if group == SMS_CONSENT:
        result["consent_collected_from"] = check.text(value.get("consent_collected_from"), "collected_from", limit=64)
    return Consent(group, result, updated or fallback)


def legacy_email_consent(payload: Mapping[str, Any], fallback: datetime) -> Consent | None:
    """Payloads before API 2022-04 carry ``accepts_marketing`` instead of an e-mail consent object."""
    accepts = payload.get("accepts_marketing")
    if not isinstance(accepts, bool):
        return None
    updated = check.optional_timestamp(payload.get("accepts_marketing_updated_at"), "accepts_marketing_updated_at")
    value = {
        "state": "subscribed" if accepts else "not_subscribed",
        "opt_in_level": check.text(payload.get("marketing_opt_in_level"), "marketing_opt_in_level", limit=64),
        "consent_updated_at": iso_utc(updated) if updated else None,
    }
    return Consent(EMAIL_CONSENT, value, updated or fallback)


def state_consents(payload: Mapping[str, Any], updated_at: datetime) -> tuple[Consent, ...]:
    """The consents a state payload (create, update, enable, disable; a bulk line) carries."""
    email = consent(payload.get(EMAIL_CONSENT), EMAIL_CONSENT, updated_at) or legacy_email_consent(payload, updated_at)
    sms = consent(payload.get(SMS_CONSENT), SMS_CONSENT, updated_at)
    return tuple(c for c in (email, sms) if c is not None)


def profile_attributes(customer_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    currency = check.text(payload.get("currency"), "currency", limit=8)
    address = check.optional_mapping(payload.get("default_address"), "default_address") or {}
    created_at = check.optional_timestamp(payload.get("created_at"), "created_at")
    orders_count = payload.get("orders_count")
    return {
        "shopify_customer_id": customer_id,
        "state": check.text(payload.get("state"), "state", limit=64),
        "verified_email": payload.get("verified_email") if isinstance(payload.get("verified_email"), bool) else None,
        "tax_exempt": payload.get("tax_exempt") if isinstance(payload.get("tax_exempt"), bool) else None,
        "tags": check.tags(payload.get("tags")),
        "orders_count": check.integer(orders_count, "orders_count") if orders_count is not None else None,
        "total_spent": check.money(payload, "total_spent", currency),
        "currency": currency,
        "last_order_id": check.optional_id(payload.get("last_order_id"), "last_order_id"),
        "country_code": check.text(address.get("country_code"), "country_code", limit=8),
        "province_code": check.text(address.get("province_code"), "province_code", limit=16),
        "created_at": iso_utc(created_at) if created_at else None,
    }


def write_consent(client: DynamoDBClient, table: str, customer_id: str, item: Consent, event_id: str) -> Outcome:
    """Set one consent group unless the stored one is at least as new (its own version, not the item's)."""
    return upsert_group_if_newer(
        client,
        table,
        customer_key(customer_id),
        item.group,
        item.value,
        SourceVersion.of(item.version, event_id),
        also={"shopify_customer_id": customer_id},
    )


def write_customer(
    client: DynamoDBClient,
    table: str,
    customer_id: str,
    event_id: str,
    *,
    updated_at: datetime | None,
    profile: Mapping[str, Any],
    consents: Iterable[Consent],
) -> list[Outcome]:
    """The profile (when ``updated_at`` is given) and each consent, each newest-wins on its own version;
    one UpdateItem when all are newer than the stored ones, or none is (``upsert_parts_if_newer``)."""
    key = customer_key(customer_id)
    parts: list[Part] = []
    if updated_at is not None:
        parts.append(profile_part(key, profile, SourceVersion.of(updated_at, event_id), updated_at=updated_at))
    parts += [group_part(c.group, c.value, SourceVersion.of(c.version, event_id)) for c in consents]
    return upsert_parts_if_newer(client, table, key, parts, also={"shopify_customer_id": customer_id})


def delete_customer(
    client: DynamoDBClient, table: str, customer_id: str, *, deleted_at: datetime, event_id: str
) -> bool:
    """customers/delete: the tombstone on the customer's item (what was known stays). True when newly marked."""
    return tombstone(
        client,
        table,
        customer_key(customer_id),
        deleted_at=deleted_at,
        event_id=event_id,
        also={"shopify_customer_id": customer_id},
    )
