"""customers/* webhooks from the Shopify event bus: raw lake and the customers hot store.

Every event is first written verbatim to ``raw/shopify/webhooks/customers/...``. The item is
``customer_key = shopify:<id>`` and holds three groups of attributes, each versioned on its own so
that any delivery order converges to the state of in-order delivery (the item and its writes are
``common.shopify.customer_item``'s, shared with the bulk reconciliation):

- the profile (state, verified e-mail, tax exemption, tags, order count, amount spent, country and
  province, timestamps), written by create, update, enable and disable when their ``updated_at`` is
  newer (with the consents below in one conditional update: ``common.hotstore.upsert_parts_if_newer``);
- ``email_marketing_consent`` and ``sms_marketing_consent``, written by those topics and by the two
  marketing-consent topics when the consent's own ``consent_updated_at`` is newer;
- the deletion mark of customers/delete (a tombstone: what was known stays).

``prepare`` reads the event without side effects; ``CustomerStore`` writes through the item's module;
``build_processor`` wires them to their clients.

Names, e-mail addresses, phone numbers, street addresses and notes stay in the raw lake only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from common import aws
from common.config import env_field, load_settings
from common.errors import BadInput
from common.hotstore import Outcome
from common.lake import Lake
from common.observability import lambda_entry
from common.settings import ShopifyLookupSettings
from common.shopify import events as se
from common.shopify import values as check
from common.shopify.customer_item import (
    EMAIL_CONSENT,
    SMS_CONSENT,
    Consent,
    consent,
    delete_customer,
    profile_attributes,
    state_consents,
    write_customer,
)
from common.shopify.processor import Processor
from common.shopify.resources import ResourceFetcher

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient


@dataclass(frozen=True, kw_only=True)
class Settings(ShopifyLookupSettings):
    customers_table: str = env_field("CUSTOMERS_TABLE_NAME")


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
        customer_id = check.shopify_id(payload.get("customer_id", payload.get("id")), "customer id")
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
    customer_id = check.shopify_id(payload.get("id"), "customer id")
    if event.action is se.Action.DELETE:
        return CustomerState(customer_id, None, {}, (), deleted=True)
    updated_at = se.version_time(payload, event)
    return CustomerState(
        customer_id, updated_at, profile_attributes(customer_id, payload), state_consents(payload, updated_at)
    )


class CustomerStore:
    """The customer's item on the customers table: profile, consents, deletion mark."""

    def __init__(self, settings: Settings, dynamodb: DynamoDBClient) -> None:
        self.settings = settings
        self.dynamodb = dynamodb

    def __call__(self, event: se.ShopifyEvent, state: CustomerState) -> str:
        table = self.settings.customers_table
        if state.deleted:
            newly = delete_customer(
                self.dynamodb, table, state.customer_id, deleted_at=event.triggered_at, event_id=event.event_id
            )
            return "tombstoned" if newly else "duplicate"
        outcomes = write_customer(
            self.dynamodb,
            table,
            state.customer_id,
            event.event_id,
            updated_at=state.updated_at,
            profile=state.profile,
            consents=state.consents,
        )
        if Outcome.WRITTEN in outcomes:
            return "written"
        return "duplicate" if Outcome.DUPLICATE in outcomes else "stale"


def build_processor(
    settings: Settings,
    *,
    s3: S3Client | None = None,
    dynamodb: DynamoDBClient | None = None,
    secretsmanager: SecretsManagerClient | None = None,
) -> Processor[CustomerState]:
    """The processor of a deployed function; clients not given are ``common.aws``'s."""
    return Processor(
        lake=Lake(s3 or aws.s3(), settings.bucket),
        source=settings.event_source,
        entities={"customers"},
        prepare=prepare,
        store=CustomerStore(settings, dynamodb or aws.dynamodb()),
        fetch=ResourceFetcher.of(settings, secretsmanager),
    )


settings = load_settings(Settings)
processor = build_processor(settings)


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    return processor.process(event)
