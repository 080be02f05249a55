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
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from common import commerce_rules as rules
from common.errors import BadInput
from common.lake import UnsafeKeyError, safe_segment, shopify_fetched_key, shopify_webhook_key
from common.timeutil import TimestampError, parse_timestamp, partition_date, utc_now

if TYPE_CHECKING:
    from common.lake import Lake

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
_NUMERIC_ID = re.compile(r"^[1-9][0-9]{0,19}$")
_GID = re.compile(r"^gid://shopify/[A-Za-z]+/(?P<id>[1-9][0-9]{0,19})(?:\?.*)?$")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:=?&-]{0,511}$")
_REDUCED_KEYS = frozenset({"id", "admin_graphql_api_id"})
_MAX_ID = 2**63 - 1


def topic_info(topic: str) -> tuple[str, Action]:
    """The lake entity and action of a topic; unknown topics are bad input."""
    known = TOPICS.get(topic)
    if known is not None:
        return known
    for prefix, entity in RAW_ONLY_PREFIXES.items():
        if topic.startswith(prefix):
            return entity, Action.RAW_ONLY
    raise BadInput("unknown-topic", f"topic {topic[:80]!r} is not one the Shopify processors know")


# ------------------------------------------------------------------------------------------ values


def shopify_id(value: Any, what: str = "id") -> str:
    """A Shopify numeric id as a string: a positive integer, its decimal text or its gid."""
    if isinstance(value, bool):
        raise BadInput("bad-id", f"{what} is a boolean, not an id")
    if isinstance(value, int):
        if 0 < value <= _MAX_ID:
            return str(value)
        raise BadInput("bad-id", f"{what} {value} is not a positive 64-bit integer")
    if isinstance(value, str):
        text = value.strip()
        if _NUMERIC_ID.match(text) and int(text) <= _MAX_ID:
            return text
        match = _GID.match(text)
        if match:
            return match["id"]
    raise BadInput("bad-id", f"{what} is not a Shopify id: {type(value).__name__}")


def optional_id(value: Any, what: str) -> str | None:
    return None if value is None or value == "" else shopify_id(value, what)


def token(value: Any, what: str) -> str:
    """A cart or checkout token: printable, no spaces, at most 512 characters."""
    if isinstance(value, str) and _TOKEN.match(value):
        return value
    raise BadInput("bad-token", f"{what} is not a token ({type(value).__name__})")


def optional_token(value: Any, what: str) -> str | None:
    return None if value is None or value == "" else token(value, what)


def timestamp(value: Any, what: str) -> datetime:
    try:
        return parse_timestamp(value)
    except TimestampError as exc:
        raise BadInput("bad-timestamp", f"{what}: {exc}") from None


def optional_timestamp(value: Any, what: str) -> datetime | None:
    return None if value is None or value == "" else timestamp(value, what)


def decimal(value: Any, what: str) -> Decimal:
    """Exact decimal from Shopify's money strings (``"199.00"``) or numbers; never via binary float."""
    try:
        return rules.parse_money(value)
    except ValueError as exc:
        raise BadInput("bad-amount", f"{what} is {exc}") from None


def optional_decimal(value: Any, what: str) -> Decimal | None:
    return None if value is None or value == "" else decimal(value, what)


def integer(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise BadInput("bad-number", f"{what} is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value.strip()):
        return int(value)
    raise BadInput("bad-number", f"{what} is not an integer")


def text(value: Any, what: str, *, limit: int = 1024) -> str | None:
    """An optional short string field (statuses, names); other types are bad input."""
    if value is None:
        return None
    if isinstance(value, str):
        return value[:limit]
    raise BadInput("bad-field", f"{what} is not a string ({type(value).__name__})")


def mapping(value: Any, what: str) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    raise BadInput("bad-field", f"{what} is not an object ({type(value).__name__})")


def optional_mapping(value: Any, what: str) -> Mapping[str, Any] | None:
    return None if value is None else mapping(value, what)


def sequence(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise BadInput("bad-field", f"{what} is not a list ({type(value).__name__})")


def tags(value: Any) -> list[str]:
    """Shopify sends tags as one comma-separated string (REST) or a list (GraphQL)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return [t.strip() for t in value if t.strip()]
    raise BadInput("bad-field", "tags are neither a string nor a list of strings")


def money(
    payload: Mapping[str, Any], field_name: str, currency: str | None, *, required: bool = False
) -> dict[str, Any] | None:
    """``{"amount": Decimal, "currency": "USD"}`` from ``<field>_set.shop_money`` or ``<field>``."""
    money_set = payload.get(f"{field_name}_set")
    if isinstance(money_set, Mapping) and isinstance(money_set.get("shop_money"), Mapping):
        shop_money = money_set["shop_money"]
        amount = optional_decimal(shop_money.get("amount"), f"{field_name}_set.shop_money.amount")
        code = text(shop_money.get("currency_code"), f"{field_name}_set currency") or currency
        if amount is not None:
            return {"amount": amount, "currency": code}
    amount = optional_decimal(payload.get(field_name), field_name)
    if amount is None:
        if required:
            raise BadInput("bad-amount", f"{field_name} is missing")
        return None
    return {"amount": amount, "currency": currency}


# ----------------------------------------------------------------------------------------- envelope


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


# ----------------------------------------------------------------------------------------- the flow

Prepared = TypeVar("Prepared")


@dataclass
class Processor(Generic[Prepared]):
    """What one Shopify processor does with an event; ``process`` is the handler's body.

    ``prepare`` reads and checks the payload without side effects (``BadInput`` quarantines the
    event before anything is written); ``store`` applies the prepared state to the hot store or the
    lake and names the outcome (written, stale, duplicate, ...); ``fetch`` returns the full resource
    of a reduced payload. With ``keep_fetched`` the completed event (the delivered envelope with the
    fetched resource as its payload) is also written to ``raw/shopify/fetched/...`` once ``prepare``
    has accepted it and before ``store``, so the lake holds every state the hot store was written from.
    """

    lake: Lake
    entities: Collection[str]
    prepare: Callable[[ShopifyEvent], Prepared]
    store: Callable[[ShopifyEvent, Prepared], str]
    source: str  # the partner event source events must carry (SHOPIFY_EVENT_SOURCE)
    fetch: Callable[[ShopifyEvent], Mapping[str, Any]] | None = None
    keep_fetched: bool = False

    def process(self, event: Any) -> dict[str, str]:
        from common.observability import MetricUnit, logger, metrics

        received_at = utc_now()
        body = verbatim(event)
        try:
            check_source(event, self.source, len(body))
            parsed = parse_event(event)
            logger.append_keys(**parsed.log_keys)
            expected_topic(parsed, self.entities)
            needs_state = parsed.action is not Action.RAW_ONLY
            prepared = self.prepare(parsed) if needs_state and not parsed.reduced else None
        except BadInput as bad:
            return self._quarantine(body, bad, received_at)

        self.lake.put_verbatim(parsed.lake_key(), body, metadata={"event-id": parsed.event_id})
        outcome = "raw-only"
        if needs_state:
            try:
                if parsed.reduced:
                    parsed = self._complete(parsed)
                    prepared = self.prepare(parsed)
                    if self.keep_fetched:
                        self._keep_fetched(parsed)
                outcome = self.store(parsed, prepared)  # type: ignore[arg-type]
            except BadInput as bad:
                return self._quarantine(body, bad, received_at)
        metrics.add_metric(name=f"Events{_camel(outcome)}", unit=MetricUnit.Count, value=1)
        logger.info(
            "shopify event processed",
            extra={"entity": parsed.entity, "outcome": outcome, "dt": partition_date(parsed.triggered_at)},
        )
        return {"outcome": outcome, "event_id": parsed.event_id, "topic": parsed.topic}

    def _complete(self, event: ShopifyEvent) -> ShopifyEvent:
        from common.observability import MetricUnit, logger, metrics

        if self.fetch is None:
            raise BadInput("reduced-payload-unsupported", f"{event.topic}: no Admin API lookup for this resource")
        resource = self.fetch(event)
        metrics.add_metric(name="ReducedPayloadsFetched", unit=MetricUnit.Count, value=1)
        logger.info("reduced payload: fetched the full resource from the Admin API")
        return event.with_payload(resource)

    def _keep_fetched(self, completed: ShopifyEvent) -> None:
        """Same encryption (the bucket's) and idempotency (a key per event id) as the raw write: a
        redelivery rewrites this object, with what the Admin API answers then."""
        self.lake.put_verbatim(
            completed.fetched_key(),
            verbatim(completed.completed()),
            metadata={"event-id": completed.event_id, "payload": "fetched-admin-graphql"},
        )

    def _quarantine(self, body: bytes, bad: BadInput, received_at: datetime) -> dict[str, str]:
        from common.observability import MetricUnit, logger, metrics

        key = self.lake.quarantine(
            source=QUARANTINE_SOURCE,
            reason=bad.reason,
            body=body,
            received_at=received_at,
            detail=bad.detail,
        )
        metrics.add_metric(name="EventsQuarantined", unit=MetricUnit.Count, value=1)
        logger.warning("shopify event quarantined", extra={"reason": bad.reason, "detail": bad.detail, "key": key})
        return {"outcome": "quarantined", "reason": bad.reason, "key": key}


def _camel(slug: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", slug))


# ------------------------------------------------------------------------------------ carts (shared)

CHECKOUT_KEY_PREFIX = "checkout:"


def checkout_item_key(checkout_token: str) -> str:
    """Checkouts are items of the abandoned-carts table of their own: ``cart_token = checkout:<token>``."""
    return CHECKOUT_KEY_PREFIX + checkout_token


def cart_expiry(moment: datetime, ttl_days: int) -> int:
    """``expires_at`` (epoch seconds) of a cart last touched at ``moment``."""
    return int(moment.timestamp()) + ttl_days * 86_400
