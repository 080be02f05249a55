"""Shopify's compliance webhooks, without I/O: the signature, the topic against the body, the record.

Shopify sends three topics to the URL set in the Partner Dashboard ("Compliance webhooks"), each a JSON
POST signed with ``X-Shopify-Hmac-Sha256`` = base64(HMAC-SHA256(app client secret, raw body)):

- ``customers/data_request``: ``shop_id``, ``shop_domain``, ``customer {id, email, phone}``,
  ``orders_requested`` (order ids) and ``data_request {id}``;
- ``customers/redact``: ``shop_id``, ``shop_domain``, ``customer {id, email, phone}``, ``orders_to_redact``;
- ``shop/redact``: ``shop_id``, ``shop_domain`` (48 hours after the shop uninstalled the app).

The headers (topic, ids) are not signed, the body is: the topic must agree with the body's shape (the
three shapes are disjoint), and the record's key is derived from the signed topic and body, so a
captured delivery replayed under a new ``X-Shopify-Event-Id`` lands on the same record (docs/privacy.md).
Headers are read through ``common.shopify.events.read_headers``: lower-case names without ``x-``
(``shopify-topic``), and two spellings of one header with different values are refused.

The record is the platform's shared privacy request (``common.privacy.requests.PrivacyRequest``,
schema 2): kind (``erase``, ``export`` or ``shop_purge``), the shop, Shopify's request id, the
delivery's ids and the person as *subjects* only: ``shopify-customer:<id>``, ``shopify-order:<id>`` for
each order, and the e-mail and phone as keyed digests (``email:<hmac>``, ``phone:<hmac>``, the key held
apart in Secrets Manager), so that a record is never one more copy of the contact data it asks us to
erase, and nobody reading it can test guesses against it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.errors import BadInput
from common.privacy.digest import SubjectDigester
from common.privacy.requests import ERASE, EXPORT, SCHEMA, SHOP_PURGE, SHOPIFY_ORIGIN, PrivacyRequest

DATA_REQUEST = "customers/data_request"
CUSTOMERS_REDACT = "customers/redact"
SHOP_REDACT = "shop/redact"
TOPICS = (DATA_REQUEST, CUSTOMERS_REDACT, SHOP_REDACT)
# What each topic asks for: the request's kind (common.privacy.requests).
KINDS = {CUSTOMERS_REDACT: ERASE, DATA_REQUEST: EXPORT, SHOP_REDACT: SHOP_PURGE}
# The kinds the privacy workflow handles; a shop purge is an operator's decision (platformctl privacy).
WORKFLOW_KINDS = frozenset({ERASE, EXPORT})
MAX_ID = 10**20  # Shopify's ids fit in 20 digits (what a privacy subject admits)

# Keys each topic's body must carry, and keys that belong to another topic only (a relabelled body).
_REQUIRED: dict[str, frozenset[str]] = {
    DATA_REQUEST: frozenset({"shop_id", "shop_domain", "customer", "orders_requested", "data_request"}),
    CUSTOMERS_REDACT: frozenset({"shop_id", "shop_domain", "customer", "orders_to_redact"}),
    SHOP_REDACT: frozenset({"shop_id", "shop_domain"}),
}
_FOREIGN: dict[str, frozenset[str]] = {
    DATA_REQUEST: frozenset({"orders_to_redact"}),
    CUSTOMERS_REDACT: frozenset({"orders_requested", "data_request"}),
    SHOP_REDACT: frozenset({"customer", "orders_requested", "orders_to_redact", "data_request"}),
}
_DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_TIMESTAMP = re.compile(r"^[0-9T:.+Z -]{10,40}$")


def expected_signature(secret: str, body: bytes) -> str:
    """What Shopify puts in ``X-Shopify-Hmac-Sha256`` for ``body`` signed with ``secret``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_matches(body: bytes, given: str | None, secrets: Iterable[str]) -> int | None:
    """The index of the secret that signed ``body`` (0 current, 1 previous), or None.

    Every secret is compared, each in constant time, whatever matched first; a missing header is
    compared too (against nothing that can match), so the time taken does not tell which case it was.
    """
    candidate = (given or "").strip().encode("ascii", "replace")
    found: int | None = None
    for index, secret in enumerate(secrets):
        if hmac.compare_digest(expected_signature(secret, body).encode("ascii"), candidate) and found is None:
            found = index
    return found if given else None


@dataclass(frozen=True)
class Delivery:
    """The unsigned headers worth keeping: they identify the delivery in Shopify's logs, no more."""

    event_id: str | None
    webhook_id: str | None
    triggered_at: str | None
    api_version: str | None

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> Delivery:
        """From headers as ``common.shopify.events.read_headers`` gives them (``shopify-event-id``)."""

        def safe(value: str | None, form: re.Pattern[str]) -> str | None:
            return value if value is not None and form.match(value) else None

        return cls(
            event_id=safe(headers.get("shopify-event-id"), _DELIVERY_ID),
            webhook_id=safe(headers.get("shopify-webhook-id"), _DELIVERY_ID),
            triggered_at=safe(headers.get("shopify-triggered-at"), _TIMESTAMP),
            api_version=safe(headers.get("shopify-api-version"), _DELIVERY_ID),
        )

    def to_json(self) -> dict[str, str | None]:
        return {
            "event_id": self.event_id,
            "webhook_id": self.webhook_id,
            "triggered_at": self.triggered_at,
            "api_version": self.api_version,
        }


@dataclass(frozen=True)
class ComplianceRequest:
    topic: str
    shop_id: int
    shop_domain: str
    customer_id: int | None
    email: str | None
    phone: str | None
    order_ids: tuple[int, ...]
    data_request_id: int | None
    request_id: str  # derived from the signed topic and body

    @property
    def kind(self) -> str:
        return KINDS[self.topic]


def request_id(topic: str, body: bytes) -> str:
    """32 hex of SHA-256 over the topic and the signed body: the same request always has the same id."""
    return hashlib.sha256(topic.encode("ascii") + b"\n" + body).hexdigest()[:32]


def resolve_topic(headers: Mapping[str, str]) -> str:
    """The compliance topic of ``headers`` (as ``common.shopify.events.read_headers`` gives them)."""
    topic = headers.get("shopify-topic")
    if topic is None or not topic.strip():
        raise BadInput("missing-topic", "no X-Shopify-Topic header")
    topic = topic.strip().lower()
    if topic not in TOPICS:
        raise BadInput("unknown-topic", "X-Shopify-Topic is not a compliance topic")
    return topic


def _identifier(value: Any, what: str) -> int:
    # Shopify's ids are JSON numbers; a digit string is accepted (some proxies stringify large ints).
    if isinstance(value, bool):
        raise BadInput("bad-shape", f"{what} is not an id")
    if isinstance(value, int) and 0 < value < MAX_ID:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20 and 0 < int(value) < MAX_ID:
        return int(value)
    raise BadInput("bad-shape", f"{what} is not an id")


def _optional_text(value: Any, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 320:
        raise BadInput("bad-shape", f"{what} is not a string")
    return value


def _order_ids(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise BadInput("bad-shape", f"{what} is not a list")
    return tuple(_identifier(item, f"an item of {what}") for item in value)


def parse(body: bytes, topic: str) -> ComplianceRequest:
    """The request in ``body`` for ``topic``; BadInput when the body is not that topic's shape."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, a number past 4300 digits, too deep
        raise BadInput("bad-json", "the body is not JSON") from None
    if not isinstance(document, dict):
        raise BadInput("bad-shape", "the body is not a JSON object")
    missing = _REQUIRED[topic] - document.keys()
    foreign = _FOREIGN[topic] & document.keys()
    if foreign or (missing and _looks_like_another_topic(topic, document)):
        raise BadInput("topic-mismatch", f"the body is not a {topic} body")
    if missing:
        raise BadInput("bad-shape", f"the body lacks {sorted(missing)}")
    shop_domain = document["shop_domain"]
    if not isinstance(shop_domain, str) or not shop_domain:
        raise BadInput("bad-shape", "shop_domain is not a string")
    customer_id = email = phone = None
    data_request_id = None
    order_ids: tuple[int, ...] = ()
    if topic != SHOP_REDACT:
        customer = document["customer"]
        if not isinstance(customer, dict):
            raise BadInput("bad-shape", "customer is not an object")
        customer_id = _identifier(customer.get("id"), "customer.id")
        email = _optional_text(customer.get("email"), "customer.email")
        phone = _optional_text(customer.get("phone"), "customer.phone")
    if topic == DATA_REQUEST:
        order_ids = _order_ids(document["orders_requested"], "orders_requested")
        data_request = document["data_request"]
        if not isinstance(data_request, dict):
            raise BadInput("bad-shape", "data_request is not an object")
        data_request_id = _identifier(data_request.get("id"), "data_request.id")
    elif topic == CUSTOMERS_REDACT:
        order_ids = _order_ids(document["orders_to_redact"], "orders_to_redact")
    return ComplianceRequest(
        topic=topic,
        shop_id=_identifier(document["shop_id"], "shop_id"),
        shop_domain=shop_domain.strip().lower(),
        customer_id=customer_id,
        email=email,
        phone=phone,
        order_ids=order_ids,
        data_request_id=data_request_id,
        request_id=request_id(topic, body),
    )


def _looks_like_another_topic(topic: str, document: Mapping[str, Any]) -> bool:
    return any(
        other != topic and _REQUIRED[other] <= document.keys() and not (_FOREIGN[other] & document.keys())
        for other in TOPICS
    )


def subjects(request: ComplianceRequest, digester: SubjectDigester) -> tuple[str, ...]:
    """Who the request is about, as the privacy index names them (sorted, no duplicates).

    The Shopify customer id, each order id, and the e-mail and phone as keyed digests; a value that is
    not an e-mail address or a phone number (``digest.normalise_*`` says None) names nobody and is left
    out. ``shop/redact`` is about no person: no subjects.
    """
    found: set[str] = set()
    if request.customer_id is not None:
        found.add(f"shopify-customer:{request.customer_id}")
    found.update(f"shopify-order:{order_id}" for order_id in request.order_ids)
    if request.email:
        email = digester.email(request.email)
        if email:
            found.add(email)
    if request.phone:
        phone = digester.phone(request.phone)
        if phone:
            found.add(phone)
    return tuple(sorted(found))


def record(
    request: ComplianceRequest,
    delivery: Delivery,
    *,
    received_at: datetime,
    digester: SubjectDigester | None,
) -> PrivacyRequest:
    """The privacy request kept at its key: ids and keyed digests, never an e-mail or a phone.

    ``digester`` may be None only for ``shop/redact`` (no person, so no digest key needed). ValueError
    (``PrivacyRequest``'s validation) for a request the record cannot hold.
    """
    if request.topic != SHOP_REDACT and digester is None:
        raise ValueError("a customer request needs the digest key")
    return PrivacyRequest(
        schema=SCHEMA,
        request_id=request.request_id,
        kind=request.kind,
        origin=SHOPIFY_ORIGIN,
        topic=request.topic,
        shop_domain=request.shop_domain,
        subjects=subjects(request, digester) if digester is not None else (),
        received_at=received_at.isoformat().replace("+00:00", "Z"),
        delivery=delivery.to_json(),
        data_request_id=request.data_request_id,
    )
