"""Shopify webhooks delivered through EventBridge: the envelope, the topics, and the processing flow
every Shopify processor shares.

The envelope (DESIGN.md section 4): ``detail.payload`` is the REST-shaped resource and
``detail.metadata`` carries the delivery headers. Classic webhooks name them ``X-Shopify-Topic``,
``X-Shopify-Event-Id``, ...; Shopify's newer Events system sends the same headers lower-cased without
the ``X-`` prefix (``shopify-topic``), so headers are read case-insensitively, with or without it.

Identity of an event, in order of preference:

- event id: ``X-Shopify-Event-Id``; else ``X-Shopify-Webhook-Id`` (older deliveries; constant across
  Shopify's retries of one delivery); else a digest of topic, shop and payload (``h-<sha256>``), so a
  redelivery of the same body still lands on the same lake object and the same hot-store version.
- triggered at: ``X-Shopify-Triggered-At``; else the resource's ``updated_at``; else the envelope's
  ``time``. It decides the lake partition (``dt=``) and versions events whose resource has no
  ``updated_at`` (deletes).

A payload larger than EventBridge's limit arrives reduced to ``{"id": ...}``; ``ShopifyEvent.reduced``
says so, and ``process`` fetches the full resource before the processor sees it. Delete topics carry
only the id by design and are never "reduced". A processor with ``keep_fetched`` (the order processor)
also keeps the completed event, the delivered envelope with the fetched resource as its payload, at
``raw/shopify/fetched/<entity>/topic=<topic>/dt=<date>/<event id>.json`` beside the raw event, so the
lake's readers (the Glue job ``orders_enriched``) see every state the hot store was written from.

Source: the rules take only events whose ``source`` is the configured partner event source
(``aws.partner/shopify.com/<app id>/<name>``; on AWS nobody but Shopify can put an event with an
``aws.`` source on a bus). A processor checks it again (``check_source``): an event from any other
source (another principal's PutEvents on a custom bus, a direct invocation) is quarantined as
``foreign-source`` before anything is written, so it never reaches the hot stores and never tombstones.

``process`` is the flow of every processor: check the source, parse (bad input is quarantined and the
invocation succeeds), write the event verbatim to ``raw/shopify/webhooks/...``, fetch a reduced payload, apply
it to the hot store, log one line (topic, shop, event id; never the payload) and count the outcome.
Transient failures propagate, so Lambda's asynchronous retries and then the dead-letter queue keep
the event.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from common.errors import BadInput
from common.lake import UnsafeKeyError, safe_segment, shopify_fetched_key, shopify_webhook_key
from common.timeutil import utc_now

if TYPE_CHECKING:
    pass
from common.shopify.values import mapping, timestamp

QUARANTINE_SOURCE = "shopify"

# The largest event EventBridge delivers: 256 KiB of entry, plus the envelope fields it adds (id, time,
# account, region, resources). Anything larger did not come through the bus.
MAX_EVENT_BYTES = 256 * 1024 + 8 * 1024


class Action(enum.Enum):
    STATE = "state"  # the payload is the resource's full current state
    DELETE = "delete"  # the resource is gone; the payload carries its id
    CONSENT = "consent"  # a marketing-consent change of a customer
    RAW_ONLY = "raw-only"  # kept in the lake; its state arrives through another topic


# Topic -> (lake entity, action). The lake entity is the <entity> of the raw key and of the
# processor that owns the topic (the cart processor owns carts and checkouts).
TOPICS: dict[str, tuple[str, Action]] = {
    "orders/create": ("orders", Action.STATE),
    "orders/updated": ("orders", Action.STATE),
    "orders/paid": ("orders", Action.STATE),
    "orders/cancelled": ("orders", Action.STATE),
    "orders/fulfilled": ("orders", Action.STATE),
    "orders/partially_fulfilled": ("orders", Action.STATE),
    "orders/delete": ("orders", Action.DELETE),
    # The payload is an order_edit, not an order; Shopify follows it with orders/updated.
    "orders/edited": ("orders", Action.RAW_ONLY),
    "fulfillments/create": ("fulfillments", Action.STATE),
    "fulfillments/update": ("fulfillments", Action.STATE),
    "customers/create": ("customers", Action.STATE),
    "customers/update": ("customers", Action.STATE),
    "customers/enable": ("customers", Action.STATE),
    "customers/disable": ("customers", Action.STATE),
    "customers/delete": ("customers", Action.DELETE),
    "customers_email_marketing_consent/update": ("customers", Action.CONSENT),
    "customers_marketing_consent/update": ("customers", Action.CONSENT),
    # Merges rewrite two customers; the survivor's customers/update carries its state.
    "customers/merge": ("customers", Action.RAW_ONLY),
    "products/create": ("products", Action.STATE),
    "products/update": ("products", Action.STATE),
    "products/delete": ("products", Action.DELETE),
    "carts/create": ("carts", Action.STATE),
    "carts/update": ("carts", Action.STATE),
    "checkouts/create": ("checkouts", Action.STATE),
    "checkouts/update": ("checkouts", Action.STATE),
    "checkouts/delete": ("checkouts", Action.DELETE),
}

# Whole topic families kept raw only: their shipment detail reaches the hot store through
# fulfillments/update, which Shopify sends when a fulfillment's shipment status changes.
RAW_ONLY_PREFIXES: dict[str, str] = {
    "fulfillment_events/": "fulfillments",
    "fulfillment_orders/": "fulfillments",
}

# Topic prefixes per processor: the EventBridge rules match exactly these (see the stack).
PROCESSOR_TOPIC_PREFIXES: dict[str, tuple[str, ...]] = {
    "orders": ("orders/",),
    "fulfillments": ("fulfillments/", "fulfillment_events/", "fulfillment_orders/"),
    "customers": ("customers/", "customers_email_marketing_consent/", "customers_marketing_consent/"),
    "products": ("products/",),
    "carts": ("carts/", "checkouts/"),
}


_TOPIC = re.compile(r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$")

_REDUCED_KEYS = frozenset({"id", "admin_graphql_api_id"})


def topic_info(topic: str) -> tuple[str, Action]:
    """The lake entity and action of a topic; unknown topics are bad input."""
    known = TOPICS.get(topic)
    if known is not None:
        return known
    for prefix, entity in RAW_ONLY_PREFIXES.items():
        if topic.startswith(prefix):
            return entity, Action.RAW_ONLY
    raise BadInput("unknown-topic", f"topic {topic[:80]!r} is not one the Shopify processors know")


def _header_name(name: str) -> str:
    lowered = name.strip().lower()
    return lowered[2:] if lowered.startswith("x-") else lowered


@dataclass(frozen=True)
class ShopifyEvent:
    """One Shopify webhook as EventBridge delivered it, with its identity resolved."""

    raw: Mapping[str, Any]
    headers: Mapping[str, str]  # lower-case names without "x-": "shopify-topic", ...
    topic: str
    entity: str
    action: Action
    event_id: str
    triggered_at: datetime
    shop_domain: str | None
    api_version: str | None
    payload: Mapping[str, Any]
    reduced: bool
    received_at: datetime = field(default_factory=utc_now)

    def header(self, name: str) -> str | None:
        return self.headers.get(_header_name(name))

    @property
    def log_keys(self) -> dict[str, str]:
        """What every log line of this event carries: ids, never the payload."""
        return {
            "topic": self.topic,
            "shop": self.shop_domain or "",
            "event_id": self.event_id,
            "webhook_id": self.header("shopify-webhook-id") or "",
            "envelope_id": str(self.raw.get("id", "")),
        }

    def lake_key(self) -> str:
        return shopify_webhook_key(self.entity, self.topic, self.triggered_at, self.event_id)

    def fetched_key(self) -> str:
        """Where a reduced payload's fetched resource is kept (``raw/shopify/fetched/...``)."""
        return shopify_fetched_key(self.entity, self.topic, self.triggered_at, self.event_id)

    def completed(self) -> dict[str, Any]:
        """The EventBridge event with ``detail.payload`` replaced by this event's payload: for a completed
        reduced payload, the webhook as Shopify would have sent it whole, readable by every reader of
        webhooks (the envelope, headers and identity are the delivered event's)."""
        detail = mapping(self.raw.get("detail"), "detail")
        return {**self.raw, "detail": {**detail, "payload": dict(self.payload)}}

    def with_payload(self, payload: Mapping[str, Any]) -> ShopifyEvent:
        return ShopifyEvent(
            raw=self.raw,
            headers=self.headers,
            topic=self.topic,
            entity=self.entity,
            action=self.action,
            event_id=self.event_id,
            triggered_at=self.triggered_at,
            shop_domain=self.shop_domain,
            api_version=self.api_version,
            payload=payload,
            reduced=False,
            received_at=self.received_at,
        )


def read_headers(metadata: Mapping[str, Any]) -> dict[str, str]:
    """The headers by normalised name. Two spellings of one header with different values (say
    ``X-Shopify-Topic: orders/updated`` beside ``shopify-topic: orders/delete``) are a spoof: the rules
    match either spelling, so neither may be believed."""
    headers: dict[str, str] = {}
    for name, value in metadata.items():
        if isinstance(name, str) and isinstance(value, str | int | float) and not isinstance(value, bool):
            normalised, text = _header_name(name), str(value)
            if headers.get(normalised, text) != text:
                raise BadInput(
                    "conflicting-headers", f"detail.metadata names {normalised!r} twice, with different values"
                )
            headers[normalised] = text
    return headers


def is_reduced(payload: Mapping[str, Any], action: Action) -> bool:
    """EventBridge's reduced payload: only the id left. Delete topics look like this by design, and a
    consent payload is a few fields (never near the limit): neither is ever reduced."""
    return action is Action.STATE and "id" in payload and set(payload) <= _REDUCED_KEYS


def _event_id(headers: Mapping[str, str], topic: str, shop: str | None, payload: Mapping[str, Any]) -> str:
    for name in ("shopify-event-id", "shopify-webhook-id"):
        value = headers.get(name, "").strip()
        if value:
            try:
                return safe_segment(value, name)
            except UnsafeKeyError:
                raise BadInput("bad-event-id", f"{name} cannot name an object: {value[:60]!r}") from None
    canonical = json.dumps([topic, shop or "", payload], sort_keys=True, separators=(",", ":"), default=str)
    return "h-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _triggered_at(headers: Mapping[str, str], payload: Mapping[str, Any], event: Mapping[str, Any]) -> datetime:
    if headers.get("shopify-triggered-at"):
        return timestamp(headers["shopify-triggered-at"], "X-Shopify-Triggered-At")
    if payload.get("updated_at"):
        return timestamp(payload["updated_at"], "payload updated_at")
    if isinstance(event.get("time"), str):
        return timestamp(event["time"], "envelope time")
    raise BadInput("missing-triggered-at", "no X-Shopify-Triggered-At, updated_at or envelope time")


def parse_event(event: Any) -> ShopifyEvent:
    """Read an EventBridge event carrying a Shopify webhook; anything malformed is ``BadInput``."""
    if not isinstance(event, Mapping):
        raise BadInput("not-an-object", f"the event is a {type(event).__name__}, not an object")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise BadInput("missing-detail", "the event has no detail object")
    metadata = detail.get("metadata")
    if not isinstance(metadata, Mapping):
        raise BadInput("missing-metadata", "detail.metadata (the webhook headers) is missing")
    headers = read_headers(metadata)
    topic = headers.get("shopify-topic", "").strip()
    if not topic:
        raise BadInput("missing-topic", "detail.metadata has no X-Shopify-Topic")
    if not _TOPIC.match(topic):
        raise BadInput("unknown-topic", f"X-Shopify-Topic {topic[:80]!r} is not a topic")
    entity, action = topic_info(topic)
    payload = detail.get("payload")
    if not isinstance(payload, Mapping):
        raise BadInput("missing-payload", "detail.payload is missing or not an object")
    shop = headers.get("shopify-shop-domain") or None
    return ShopifyEvent(
        raw=event,
        headers=headers,
        topic=topic,
        entity=entity,
        action=action,
        event_id=_event_id(headers, topic, shop, payload),
        triggered_at=_triggered_at(headers, payload, event),
        shop_domain=shop,
        api_version=headers.get("shopify-api-version") or None,
        payload=payload,
        reduced=is_reduced(payload, action),
    )


def check_source(event: Any, expected: str, size: int = 0) -> None:
    """Only the configured partner event source is Shopify; anything else is ``foreign-source``. An event
    of ``size`` bytes larger than EventBridge delivers did not come through the bus (``oversized-event``)."""
    if not isinstance(event, Mapping):
        raise BadInput("not-an-object", f"the event is a {type(event).__name__}, not an object")
    source = event.get("source")
    if not expected or source != expected:
        shown = source[:120] if isinstance(source, str) else type(source).__name__
        raise BadInput("foreign-source", f"the event's source {shown!r} is not the Shopify event source {expected!r}")
    if size > MAX_EVENT_BYTES:
        raise BadInput("oversized-event", f"{size} bytes: more than EventBridge delivers ({MAX_EVENT_BYTES})")


def verbatim(event: Any) -> bytes:
    """The event as the function received it, as JSON text (the lake's raw and quarantine body)."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def version_time(payload: Mapping[str, Any], event: ShopifyEvent) -> datetime:
    """The source version of a state payload: its ``updated_at``.

    Shopify's test notifications (and some old payloads) leave ``updated_at`` null; the event's
    triggered-at time, which is never earlier than the change it reports, stands in for it then.
    """
    if payload.get("updated_at") in (None, ""):
        return event.triggered_at
    return timestamp(payload["updated_at"], "updated_at")


def expected_topic(event: ShopifyEvent, entities: Collection[str]) -> None:
    """A processor only takes its own topics: another's means a rule routes wrongly."""
    if event.entity not in entities:
        raise BadInput(
            "unexpected-topic",
            f"{event.topic} belongs to the {event.entity} processor, not this one ({', '.join(sorted(entities))})",
        )
