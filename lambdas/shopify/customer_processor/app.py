"""customers/* webhooks from the Shopify event bus: raw lake and the customers hot store.

Every event is first written verbatim to ``raw/shopify/webhooks/customers/...``. The item is
``customer_key = shopify:<id>`` and holds three groups of attributes, each versioned on its own so
that any delivery order converges to the state of in-order delivery:

- the profile (state, verified e-mail, tax exemption, tags, order count, amount spent, country and
  province, timestamps), written by create, update, enable and disable when their ``updated_at`` is
  newer (``common.hotstore.upsert_if_newer``);
- ``email_marketing_consent`` and ``sms_marketing_consent``, written by those topics and by the two
  marketing-consent topics when the consent's own ``consent_updated_at`` is newer;
- the deletion mark of customers/delete (a tombstone: what was known stays).

Names, e-mail addresses, phone numbers, street addresses and notes stay in the raw lake only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from common import shopify_events as se
from common.aws import dynamodb, s3
from common.config import env_field, load_settings
from common.errors import BadInput
from common.hotstore import Outcome, SourceVersion, deserialize, serialize, set_if_absent, upsert_if_newer
from common.lake import Lake
from common.observability import logger, metrics, tracer
from common.shopify_resources import ResourceFetcher
from common.timeutil import iso_utc

EMAIL_CONSENT = "email_marketing_consent"
SMS_CONSENT = "sms_marketing_consent"


@dataclass(frozen=True)
class Settings:
    data_lake_bucket: str = env_field("DATA_LAKE_BUCKET_NAME")
    event_source: str = env_field("SHOPIFY_EVENT_SOURCE")  # the partner event source; others are quarantined
    customers_table: str = env_field("CUSTOMERS_TABLE_NAME")
    shopify_secret_arn: str = env_field("SHOPIFY_ADMIN_API_SECRET_ARN")
    shopify_api_version: str = env_field("SHOPIFY_API_VERSION")
    shopify_admin_base_url: str = env_field("SHOPIFY_ADMIN_BASE_URL", default="")


@dataclass(frozen=True)
class Consent:
    group: str  # EMAIL_CONSENT or SMS_CONSENT
    value: dict[str, Any]
    version: datetime


@dataclass(frozen=True)
class CustomerState:
    customer_id: str
    updated_at: datetime | None  # None: no profile in this event
    profile: dict[str, Any]
    consents: tuple[Consent, ...]
    deleted: bool = False


def _consent(raw: Any, group: str, fallback: datetime) -> Consent | None:
    value = se.optional_mapping(raw, group)
    if value is None:
        return None
    updated = se.optional_timestamp(value.get("consent_updated_at"), f"{group}.consent_updated_at")
    consent = {
        "state": se.text(value.get("state"), f"{group}.state", limit=64),
        "opt_in_level": se.text(value.get("opt_in_level"), f"{group}.opt_in_level", limit=64),
        "consent_updated_at": iso_utc(updated) if updated else None,
    }
    if group == SMS_CONSENT:
        consent["consent_collected_from"] = se.text(value.get("consent_collected_from"), "collected_from", limit=64)
    return Consent(group, consent, updated or fallback)


def _legacy_email_consent(payload: Mapping[str, Any], fallback: datetime) -> Consent | None:
    """Payloads before API 2022-04 carry ``accepts_marketing`` instead of an e-mail consent object."""
    accepts = payload.get("accepts_marketing")
    if not isinstance(accepts, bool):
        return None
    updated = se.optional_timestamp(payload.get("accepts_marketing_updated_at"), "accepts_marketing_updated_at")
    value = {
        "state": "subscribed" if accepts else "not_subscribed",
        "opt_in_level": se.text(payload.get("marketing_opt_in_level"), "marketing_opt_in_level", limit=64),
        "consent_updated_at": iso_utc(updated) if updated else None,
    }
    return Consent(EMAIL_CONSENT, value, updated or fallback)


def profile_attributes(customer_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    currency = se.text(payload.get("currency"), "currency", limit=8)
    address = se.optional_mapping(payload.get("default_address"), "default_address") or {}
    created_at = se.optional_timestamp(payload.get("created_at"), "created_at")
    orders_count = payload.get("orders_count")
    return {
        "shopify_customer_id": customer_id,
        "state": se.text(payload.get("state"), "state", limit=64),
        "verified_email": payload.get("verified_email") if isinstance(payload.get("verified_email"), bool) else None,
        "tax_exempt": payload.get("tax_exempt") if isinstance(payload.get("tax_exempt"), bool) else None,
        "tags": se.tags(payload.get("tags")),
        "orders_count": se.integer(orders_count, "orders_count") if orders_count is not None else None,
        "total_spent": se.money(payload, "total_spent", currency),
        "currency": currency,
        "last_order_id": se.optional_id(payload.get("last_order_id"), "last_order_id"),
        "country_code": se.text(address.get("country_code"), "country_code", limit=8),
        "province_code": se.text(address.get("province_code"), "province_code", limit=16),
        "created_at": iso_utc(created_at) if created_at else None,
    }


def prepare(event: se.ShopifyEvent) -> CustomerState:
    payload = event.payload
    if event.action is se.Action.CONSENT:
        # customers_email_marketing_consent/update names the customer customer_id; the SMS one, id.
        customer_id = se.shopify_id(payload.get("customer_id", payload.get("id")), "customer id")
        consents = [
            c
            for c in (
                _consent(payload.get(EMAIL_CONSENT), EMAIL_CONSENT, event.triggered_at),
                _consent(payload.get(SMS_CONSENT), SMS_CONSENT, event.triggered_at),
            )
            if c is not None
        ]
        if not consents:
            raise BadInput("missing-consent", f"{event.topic} carries no marketing consent object")
        return CustomerState(customer_id, None, {}, tuple(consents))
    customer_id = se.shopify_id(payload.get("id"), "customer id")
    if event.action is se.Action.DELETE:
        return CustomerState(customer_id, None, {}, (), deleted=True)
    updated_at = se.version_time(payload, event)
    email = _consent(payload.get(EMAIL_CONSENT), EMAIL_CONSENT, updated_at) or _legacy_email_consent(
        payload, updated_at
    )
    sms = _consent(payload.get(SMS_CONSENT), SMS_CONSENT, updated_at)
    return CustomerState(
        customer_id,
        updated_at,
        profile_attributes(customer_id, payload),
        tuple(c for c in (email, sms) if c is not None),
    )


def upsert_group(key: Mapping[str, str], consent: Consent, event_id: str, customer_id: str) -> Outcome:
    """Set one consent group unless the stored one is at least as new (its own version, not the item's)."""
    version = SourceVersion.of(consent.version, event_id)
    names = {
        "#g": consent.group,
        "#v": f"{consent.group}_version",
        "#e": f"{consent.group}_event_id",
        "#c": "shopify_customer_id",
    }
    values = {":g": consent.value, ":v": version.updated_at_us, ":e": version.event_id, ":c": customer_id}
    try:
        DYNAMODB.update_item(
            TableName=SETTINGS.customers_table,
            Key=serialize(key),
            UpdateExpression="SET #g = :g, #v = :v, #e = :e, #c = :c",
            ConditionExpression="attribute_not_exists(#v) OR #v < :v OR (#v = :v AND #e < :e)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize(values),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        stored = deserialize(exc.response.get("Item", {}))  # type: ignore[arg-type]
        seen = SourceVersion(int(stored.get(names["#v"], 0)), str(stored.get(names["#e"], "")))
        same = seen == version
        return Outcome.DUPLICATE if same else Outcome.STALE
    return Outcome.WRITTEN


def store(event: se.ShopifyEvent, state: CustomerState) -> str:
    key = {"customer_key": f"shopify:{state.customer_id}"}
    if state.deleted:
        newly = set_if_absent(
            DYNAMODB,
            SETTINGS.customers_table,
            key,
            {
                "shopify_customer_id": state.customer_id,
                "deleted": True,
                "deleted_at": iso_utc(event.triggered_at),
                "deleted_by_event_id": event.event_id,
            },
        )
        return "tombstoned" if newly else "duplicate"
    outcomes: list[Outcome] = []
    if state.updated_at is not None:
        outcomes.append(
            upsert_if_newer(
                DYNAMODB,
                SETTINGS.customers_table,
                key,
                state.profile,
                SourceVersion.of(state.updated_at, event.event_id),
                updated_at=state.updated_at,
            )
        )
    outcomes += [upsert_group(key, consent, event.event_id, state.customer_id) for consent in state.consents]
    if Outcome.WRITTEN in outcomes:
        return "written"
    return "duplicate" if Outcome.DUPLICATE in outcomes else "stale"


SETTINGS = load_settings(Settings)
DYNAMODB = dynamodb()
PROCESSOR = se.Processor(
    lake=Lake(s3(), SETTINGS.data_lake_bucket),
    source=SETTINGS.event_source,
    entities={"customers"},
    prepare=prepare,
    store=store,
    fetch=ResourceFetcher(
        secret_arn=SETTINGS.shopify_secret_arn,
        api_version=SETTINGS.shopify_api_version,
        base_url=SETTINGS.shopify_admin_base_url,
    ),
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    return PROCESSOR.process(event)
