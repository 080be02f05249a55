"""What a stored document is about: its *subjects*, the hash keys of the privacy index.

``shopify-customer:<id>``, ``shopify-order:<id>``, ``recharge-customer:<id>``, ``email:<64 hex>``,
``phone:<64 hex>`` (keyed digests, ``digest.py``) and ``checkout:<token>`` (checkout and cart tokens).

The rules, per dialect (decided from the object key when there is one, else from the document):

- everywhere: e-mails (``EMAIL_KEYS``) and phones (``PHONE_KEYS``) at any depth, except inside the
  merchant's own objects (``MERCHANT_KEYS``: a location's phone is nobody's), and GraphQL ids
  ``gid://shopify/Customer/N`` / ``gid://shopify/Order/N`` in any string (``id``, ``__parentId``,
  ``admin_graphql_api_id`` alike).
- Shopify (EventBridge envelope or its payload, REST or GraphQL): the ``id`` of a dict under
  ``customer``; ``customer_id``; ``order_id``; ``cart_token`` / ``checkout_token``; and the root
  resource's own id: an order's ``id`` (topic ``orders/*``, or an order-shaped payload), a customer's
  ``id``, a checkout's or cart's ``token``. A line item's ``id`` is never an order id.
- Recharge: the ``id`` of a dict under ``customer`` and ``customer_id`` are Recharge customer ids;
  ``external_customer_id.ecommerce`` / ``shopify_customer_id`` Shopify customer ids;
  ``external_order_id.ecommerce`` / ``shopify_order_id`` Shopify order ids; ``external_cart_token``.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

from common.privacy.digest import EMAIL, PHONE, SubjectDigester

SHOPIFY_CUSTOMER = "shopify-customer"
SHOPIFY_ORDER = "shopify-order"
RECHARGE_CUSTOMER = "recharge-customer"
CHECKOUT = "checkout"
KINDS = frozenset({SHOPIFY_CUSTOMER, SHOPIFY_ORDER, RECHARGE_CUSTOMER, EMAIL, PHONE, CHECKOUT})
IDENTIFIER_KINDS = frozenset({SHOPIFY_CUSTOMER, SHOPIFY_ORDER, RECHARGE_CUSTOMER, CHECKOUT})

Source = Literal["shopify", "recharge"]
SHOPIFY: Source = "shopify"
RECHARGE: Source = "recharge"

EMAIL_KEYS = frozenset(
    {"email", "contact_email", "customer_email", "email_address", "emailAddress", "contactEmail", "customerEmail"}
)
PHONE_KEYS = frozenset(
    {"phone", "phone_number", "phoneNumber", "sms_marketing_phone", "smsMarketingPhone", "customer_phone"}
)
# The shop's own places (a fulfillment's origin, a fulfillment order's assigned location): not a person.
MERCHANT_KEYS = frozenset({"origin_address", "originAddress", "assigned_location", "assignedLocation"})

_CUSTOMER_OBJECT_KEYS = ("customer", "Customer")
_CHECKOUT_TOKEN_KEYS = ("cart_token", "checkout_token", "cartToken", "checkoutToken")
_WRAPPERS = {
    "order": "order",
    "orders": "order",
    "customer": "customer",
    "customers": "customer",
    "checkout": "checkout",
    "checkouts": "checkout",
    "cart": "cart",
    "carts": "cart",
}
_TOPIC_KINDS = {
    "orders": "order",
    "customers": "customer",
    "customers_marketing_consent": "customer",
    "checkouts": "checkout",
    "carts": "cart",
}
_NOT_THE_RESOURCE = frozenset({"orders/edited", "customers/merge"})  # payloads that are not the resource
_SHOPIFY_MARKERS = frozenset({"admin_graphql_api_id", "__typename", "__parentId"})
_RECHARGE_MARKERS = frozenset(
    {
        "external_customer_id", "external_order_id", "external_product_id", "external_variant_id",
        "shopify_customer_id", "shopify_order_id", "shopify_product_id", "shopify_variant_id",
        "purchase_item_id", "address_id", "payment_method_id", "subscriptions_active_count",
        "has_valid_payment_method", "charge_interval_frequency", "order_interval_unit",
    }
)  # fmt: skip
_RECHARGE_CUSTOMER_MARKERS = frozenset(
    {"external_customer_id", "shopify_customer_id", "subscriptions_active_count", "has_valid_payment_method"}
)
_NUMERIC_ID = re.compile(r"^[1-9][0-9]{0,19}$")
_GID = re.compile(r"^gid://shopify/(?P<type>Customer|Order)/(?P<id>[1-9][0-9]{0,19})(?:\?.*)?$")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:=&-]{0,255}$")
_SUBJECT = re.compile(
    r"^(?:(?:shopify-customer|shopify-order|recharge-customer):[1-9][0-9]{0,19}"
    r"|(?:email|phone):[0-9a-f]{64}"
    r"|checkout:[A-Za-z0-9][A-Za-z0-9_.:=&-]{0,255})$"
)


# ------------------------------------------------------------------------------------------- subjects


def is_subject(value: object) -> bool:
    return isinstance(value, str) and _SUBJECT.match(value) is not None


def subject_kind(subject: str) -> str:
    """``shopify-customer`` of ``shopify-customer:1``; ValueError when it is not a subject."""
    if not is_subject(subject):
        raise ValueError("not a privacy subject")
    return subject.split(":", 1)[0]


def _numeric(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    return text if _NUMERIC_ID.match(text) else None


def _identifier(kind: str, value: Any, gid_type: str | None = None) -> str | None:
    number = _numeric(value)
    if number is None and gid_type is not None and isinstance(value, str):
        match = _GID.match(value)
        if match is not None and match["type"] == gid_type:
            number = match["id"]
    return None if number is None else f"{kind}:{number}"


def shopify_customer(value: Any) -> str | None:
    """The subject of a Shopify customer id (a number, digits or ``gid://shopify/Customer/N``), or None."""
    return _identifier(SHOPIFY_CUSTOMER, value, "Customer")


def shopify_order(value: Any) -> str | None:
    """The subject of a Shopify order id (a number, digits or ``gid://shopify/Order/N``), or None."""
    return _identifier(SHOPIFY_ORDER, value, "Order")


def recharge_customer(value: Any) -> str | None:
    return _identifier(RECHARGE_CUSTOMER, value)


def checkout(token: Any) -> str | None:
    """The subject of a checkout or cart token. A cart token's ``?key=...`` suffix is not part of it."""
    if not isinstance(token, str):
        return None
    base = token.strip().split("?", 1)[0]
    return f"{CHECKOUT}:{base}" if _TOKEN.match(base) else None


def request_subjects(
    digester: SubjectDigester,
    *,
    shopify_customer_id: Any = None,
    order_ids: Iterable[Any] = (),
    email: str | None = None,
    phone: str | None = None,
    recharge_customer_ids: Iterable[Any] = (),
) -> tuple[str, ...]:
    """The sorted subjects a privacy request names (what ``PrivacyRequest.subjects`` holds)."""
    found = {
        shopify_customer(shopify_customer_id),
        *(shopify_order(order_id) for order_id in order_ids),
        *(recharge_customer(value) for value in recharge_customer_ids),
        digester.email(email) if email else None,
        digester.phone(phone) if phone else None,
    }
    return tuple(sorted(subject for subject in found if subject is not None))


# ------------------------------------------------------------------------------------------ documents


def source_of_key(key: str) -> Source | None:
    """Which dialect a lake object is written in, from its key (None: decide from the document)."""
    if key.startswith(("raw/recharge/", "quarantine/recharge/")):
        return RECHARGE
    if key.startswith(("raw/shopify/", "quarantine/shopify/")):
        return SHOPIFY
    return None


def _walk(doc: Any) -> Iterator[tuple[str | None, Any]]:
    """(key, node) of every node, depth first, skipping the merchant's own objects; iterative, so a
    deeply nested document cannot exhaust the stack."""
    stack: list[tuple[str | None, Any]] = [(None, doc)]
    while stack:
        key, node = stack.pop()
        if key in MERCHANT_KEYS:
            continue
        yield key, node
        if isinstance(node, dict):
            stack.extend((str(k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((key, item) for item in node)


def dialect(doc: Any) -> Source:
    """Shopify unless the document carries Recharge's fields and none of Shopify's."""
    if isinstance(doc, dict) and "detail-type" in doc and isinstance(doc.get("detail"), dict):
        return SHOPIFY
    recharge = False
    for _, node in _walk(doc):
        if isinstance(node, dict):
            keys = node.keys()
            if not _SHOPIFY_MARKERS.isdisjoint(keys):
                return SHOPIFY
            recharge = recharge or not _RECHARGE_MARKERS.isdisjoint(keys)
    return RECHARGE if recharge else SHOPIFY


def _envelope(doc: Any) -> tuple[Any, str | None]:
    """(payload, topic) of an EventBridge envelope (headers in ``detail.metadata`` or flat in
    ``detail``, any casing), else (the document, None)."""
    if not (isinstance(doc, dict) and isinstance(doc.get("detail"), dict) and "payload" in doc["detail"]):
        return doc, None
    detail = doc["detail"]
    headers = detail.get("metadata") if isinstance(detail.get("metadata"), dict) else detail
    topic = None
    for name, value in headers.items():
        if str(name).lower() in {"x-shopify-topic", "shopify-topic"} and isinstance(value, str):
            topic = value.strip().lower()
    return detail["payload"], topic


def _shape_kind(payload: Mapping[str, Any]) -> str | None:
    keys = payload.keys()
    if "order_number" in keys or {"line_items", "financial_status"} <= keys:
        return "order"
    if "abandoned_checkout_url" in keys or {"token", "cart_token", "line_items"} <= keys:
        return "checkout"
    if {"token", "line_items"} <= keys:
        return "cart"
    if "line_items" not in keys and not {"orders_count", "total_spent", "verified_email"}.isdisjoint(keys):
        return "customer"
    return None


def _roots(payload: Any, topic: str | None) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(kind, resource) of the document's own resources: what its root ``id``/``token`` identifies."""
    if isinstance(payload, dict) and len(payload) == 1:
        (name, inner), *_ = payload.items()
        kind = _WRAPPERS.get(name)
        if kind is not None:  # a REST API response: {"order": {...}}, {"checkouts": [...]}
            for item in inner if isinstance(inner, list) else [inner]:
                if isinstance(item, dict):
                    yield kind, item
            return
    for resource in payload if isinstance(payload, list) else [payload]:
        if not isinstance(resource, dict):
            continue
        if topic is not None:
            found = None if topic in _NOT_THE_RESOURCE else _TOPIC_KINDS.get(topic.split("/", 1)[0])
        else:
            found = _shape_kind(resource)
        if found is not None:
            yield found, resource


def _add(found: set[str], subject: str | None) -> None:
    if subject is not None:
        found.add(subject)


def _shopify(doc: Any, found: set[str]) -> None:
    payload, topic = _envelope(doc)
    for kind, resource in _roots(payload, topic):
        if kind == "order":
            _add(found, shopify_order(resource.get("id")))
        elif kind == "customer":
            _add(found, shopify_customer(resource.get("id")))
        else:
            _add(found, checkout(resource.get("token")))
    for _, node in _walk(doc):
        if not isinstance(node, dict):
            continue
        for name in _CUSTOMER_OBJECT_KEYS:
            if isinstance(node.get(name), dict):
                _add(found, shopify_customer(node[name].get("id")))
        _add(found, shopify_customer(node.get("customer_id")))
        _add(found, shopify_order(node.get("order_id")))
        for name in _CHECKOUT_TOKEN_KEYS:
            _add(found, checkout(node.get(name)))
        if node.get("__typename") == "Order":
            _add(found, shopify_order(node.get("legacyResourceId")))
        elif node.get("__typename") == "Customer":
            _add(found, shopify_customer(node.get("legacyResourceId")))


def _ecommerce(value: Any) -> Any:
    return value.get("ecommerce") if isinstance(value, dict) else value


def _recharge(doc: Any, found: set[str]) -> None:
    unwrapped_customer = (
        isinstance(doc, dict)
        and "customer" not in doc
        and "customer_id" not in doc
        and not _RECHARGE_CUSTOMER_MARKERS.isdisjoint(doc.keys())
    )
    if unwrapped_customer:
        _add(found, recharge_customer(doc.get("id")))
    for _, node in _walk(doc):
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("customer"), dict):
            _add(found, recharge_customer(node["customer"].get("id")))
        _add(found, recharge_customer(node.get("customer_id")))
        _add(found, shopify_customer(_ecommerce(node.get("external_customer_id"))))
        _add(found, shopify_customer(node.get("shopify_customer_id")))
        _add(found, shopify_order(_ecommerce(node.get("external_order_id"))))
        _add(found, shopify_order(node.get("shopify_order_id")))
        _add(found, checkout(node.get("external_cart_token")))


def _contact_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def document_subjects(doc: Any, digester: SubjectDigester, *, source: Source | None = None) -> frozenset[str]:
    """Every subject of one JSON document of any source (``source`` None: decided from the document)."""
    found: set[str] = set()
    if (source or dialect(doc)) == RECHARGE:
        _recharge(doc, found)
    else:
        _shopify(doc, found)
    for key, node in _walk(doc):
        if isinstance(node, str):
            match = _GID.match(node)
            if match is not None:
                found.add(f"{SHOPIFY_CUSTOMER if match['type'] == 'Customer' else SHOPIFY_ORDER}:{match['id']}")
        text = _contact_text(node)
        if text is None or key is None:
            continue
        if key in EMAIL_KEYS:
            _add(found, digester.email(text))
        elif key in PHONE_KEYS:
            _add(found, digester.phone(text))
    return frozenset(found)


def line_subjects(line: Mapping[str, Any], digester: SubjectDigester) -> frozenset[str]:
    """The subjects of one bulk JSONL line (GraphQL: ``__typename``, gid ids, ``__parentId``)."""
    return document_subjects(line, digester, source=SHOPIFY)


def jsonl_subjects(
    lines: Iterable[bytes], digester: SubjectDigester, *, source: Source | None = None
) -> frozenset[str]:
    """The union over JSON lines (a stream is fine); lines that are not JSON objects add nothing."""
    found: set[str] = set()
    for line in lines:
        document = parse_line(line)
        if document is not None:
            found |= document_subjects(document, digester, source=source or SHOPIFY)
    return frozenset(found)


def parse_line(line: bytes) -> dict[str, Any] | None:
    """One JSONL line as an object, or None (blank, not JSON, not an object)."""
    if not line.strip():
        return None
    try:
        document = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def is_jsonl(key: str) -> bool:
    return key.removesuffix(".gz").endswith(".jsonl")


def plain_body(key: str, body: bytes) -> bytes | None:
    """The object's bytes, gunzipped when the key ends in ``.gz``; None when that fails."""
    if not key.endswith(".gz"):
        return body
    try:
        return gzip.decompress(body)
    except (OSError, EOFError, zlib.error):
        return None


def object_subjects(key: str, body: bytes, digester: SubjectDigester) -> frozenset[str]:
    """The subjects of one lake object: a JSONL(.gz) object line by line, anything else as one JSON
    document; an object that cannot be read has none."""
    plain = plain_body(key, body)
    if plain is None:
        return frozenset()
    source = source_of_key(key)
    if is_jsonl(key):
        return jsonl_subjects(plain.splitlines(), digester, source=source)
    try:
        document = json.loads(plain)
    except (ValueError, RecursionError):
        return frozenset()
    return document_subjects(document, digester, source=source)
