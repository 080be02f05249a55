"""customers/* webhooks from the Shopify event bus: raw lake and the customers hot store.

Every event is first written verbatim to ``raw/shopify/webhooks/customers/...``. The item is
``customer_key = shopify:<id>`` and holds three groups of attributes, each versioned on its own so
that any delivery order converges to the state of in-order delivery (the item and its writes are
``common.shopify_customer_item``'s, shared with the bulk reconciliation):

- the profile (state, verified e-mail, tax exemption, tags, order count, amount spent, country and
  province, timestamps), written by create, update, enable and disable when their ``updated_at`` is
  newer (``common.hotstore.upsert_if_newer``);
- ``email_marketing_consent`` and ``sms_marketing_consent``, written by those topics and by the two
  marketing-consent topics when the consent's own ``consent_updated_at`` is newer;
- the deletion mark of customers/delete (a tombstone: what was known stays).

Names, e-mail addresses, phone numbers, street addresses and notes stay in the raw lake only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common import shopify_events as se
from common.aws import dynamodb, s3
from common.config import env_field, load_settings
from common.errors import BadInput
from common.hotstore import Outcome, set_if_absent
from common.lake import Lake
from common.observability import logger, metrics, tracer
from common.shopify_customer_item import (
    EMAIL_CONSENT,
    SMS_CONSENT,
    Consent,
    consent,
    customer_key,
    profile_attributes,
    state_consents,
    write_customer,
)
from common.shopify_resources import ResourceFetcher
from common.timeutil import iso_utc


@dataclass(frozen=True)
class Settings:
    data_lake_bucket: str = env_field("DATA_LAKE_BUCKET_NAME")
    event_source: str = env_field("SHOPIFY_EVENT_SOURCE")  # the partner event source; others are quarantined
    customers_table: str = env_field("CUSTOMERS_TABLE_NAME")
    shopify_secret_arn: str = env_field("SHOPIFY_ADMIN_API_SECRET_ARN")
    shopify_api_version: str = env_field("SHOPIFY_API_VERSION")
    shopify_admin_base_url: str = env_field("SHOPIFY_ADMIN_BASE_URL", default="")


@dataclass(frozen=True)
class CustomerState:
    customer_id: str
    updated_at: datetime | None  # None: no profile in this event
    profile: dict[str, Any]
    consents: tuple[Consent, ...]
    deleted: bool = False


def prepare(event: se.ShopifyEvent) -> CustomerState:
    payload = event.payload
    if event.action is se.Action.CONSENT:
        # customers_email_marketing_consent/update names the customer customer_id; the SMS one, id.
        customer_id = se.shopify_id(payload.get("customer_id", payload.get("id")), "customer id")
        consents = [
            c
            for c in (
                consent(payload.get(EMAIL_CONSENT), EMAIL_CONSENT, event.triggered_at),
                consent(payload.get(SMS_CONSENT), SMS_CONSENT, event.triggered_at),
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
    return CustomerState(
        customer_id, updated_at, profile_attributes(customer_id, payload), state_consents(payload, updated_at)
    )


def store(event: se.ShopifyEvent, state: CustomerState) -> str:
    key = customer_key(state.customer_id)
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
    outcomes = write_customer(
        DYNAMODB,
        SETTINGS.customers_table,
        state.customer_id,
        event.event_id,
        updated_at=state.updated_at,
        profile=state.profile,
        consents=state.consents,
    )
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
