"""Redaction: a document that concerns the person, with their contact data gone and everything else kept.

Two passes over a copy:

1. every field named in ``CONTACT_KEYS`` or ``ADDRESS_KEYS`` is emptied wherever it is (outside the
   merchant's own objects, ``subjects.MERCHANT_KEYS``): an address object or ``client_details`` becomes
   None (a list of them ``[]``), a scalar leaf (``email``, ``first_name``, ``address1``, ``zip``, ...)
   None; a leaf holding an object (a B2B order's ``company {id}``) is searched inside instead;
2. the values seen in the document before pass 1 (e-mails, phones, full names, streets) are replaced by
   ``[redacted]`` in every remaining string (a note, a URL, a free-text attribute), matched
   case-insensitively, not inside a longer word or number, also URL-encoded; identifier fields (``id``,
   ``*_id``, ``*Id``, tokens) are never touched.

Ids (the Shopify customer id included), money, quantities, statuses, dates, line items' product fields
and the order's ``name`` (``#1001``) stay. Redacting a redacted document changes nothing.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

from common.privacy.digest import SubjectDigester, normalise_phone
from common.privacy.person import Person
from common.privacy.subjects import (
    EMAIL_KEYS,
    MERCHANT_KEYS,
    PHONE_KEYS,
    SHOPIFY,
    Source,
    document_subjects,
    is_jsonl,
    parse_line,
    plain_body,
    source_of_key,
)

REDACTED = "[redacted]"

NAME_KEYS = frozenset(
    {"first_name", "last_name", "firstName", "lastName", "display_name", "displayName", "full_name", "fullName"}
)
NOTE_KEYS = frozenset({"note", "order_note", "customer_note", "note_attributes"})
CLIENT_KEYS = frozenset({"browser_ip", "browserIp", "client_details", "clientDetails"})
# Links that open the order status or checkout recovery page, which shows the address: a credential.
LINK_KEYS = frozenset({"order_status_url", "statusPageUrl", "abandoned_checkout_url", "abandonedCheckoutUrl"})
# An identifier in the merchant's own sign-on system, often the e-mail itself.
EXTERNAL_IDENTITY_KEYS = frozenset({"multipass_identifier", "multipassIdentifier"})
CONTACT_KEYS: frozenset[str] = (
    EMAIL_KEYS | PHONE_KEYS | NAME_KEYS | NOTE_KEYS | CLIENT_KEYS | LINK_KEYS | EXTERNAL_IDENTITY_KEYS
)
"""Contact fields: e-mails, phones, names, notes, client IPs and details, status/recovery links, the
multipass identifier (REST snake_case and GraphQL camelCase)."""

ADDRESS_OBJECT_KEYS = frozenset(
    {
        "billing_address", "shipping_address", "default_address", "addresses", "destination",
        "billingAddress", "shippingAddress", "defaultAddress", "addressesV2",
    }
)  # fmt: skip
ADDRESS_LEAF_KEYS = frozenset({"address1", "address2", "zip", "city", "province", "latitude", "longitude", "company"})
ADDRESS_KEYS: frozenset[str] = ADDRESS_OBJECT_KEYS | ADDRESS_LEAF_KEYS
"""Address objects (billing, shipping, default, a fulfillment's destination, the address lists) and the
address leaves wherever they stand (a Recharge address resource is one at the top level)."""

# Emptied as a whole, whatever they hold.
_WHOLE_KEYS = ADDRESS_OBJECT_KEYS | {"client_details", "clientDetails", "note_attributes"}
_STREET_KEYS = frozenset({"address1", "address2"})
_FULL_NAME_KEYS = frozenset({"display_name", "displayName", "full_name", "fullName"})
_NAME_PAIRS = (("first_name", "last_name"), ("firstName", "lastName"))
_IDENTIFIER_KEYS = frozenset({"__typename", "token", "cart_token", "checkout_token", "cartToken", "checkoutToken"})
_MIN_SWEPT_CHARS = 4
_MIN_SWEPT_DIGITS = 7


@dataclass(frozen=True)
class Redaction:
    changed: bool
    fields: tuple[str, ...]  # JSON paths scrubbed (no values), sorted; JSONL: the union over lines
    documents: int = 0  # documents changed (an object's JSON lines)


UNCHANGED = Redaction(False, ())


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _empty(value: Any) -> bool:
    return value is None or value in ("", [], {})


def _identifier_key(key: str) -> bool:
    return key == "id" or key.endswith(("_id", "Id", "_ids", "Ids")) or key in _IDENTIFIER_KEYS


def _scrub(node: Any, path: str, fields: set[str]) -> Any:
    if isinstance(node, list):
        return [_scrub(item, _path(path, index), fields) for index, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    copy: dict[str, Any] = {}
    for key, value in node.items():
        here = _path(path, key)
        if key in MERCHANT_KEYS:
            copy[key] = value
        elif key in _WHOLE_KEYS and not _empty(value):
            copy[key] = [] if isinstance(value, list) else None
            fields.add(here)
        elif (key in CONTACT_KEYS or key in ADDRESS_LEAF_KEYS) and not isinstance(value, dict | list):
            if _empty(value) or isinstance(value, bool):
                copy[key] = value
            else:
                copy[key] = None
                fields.add(here)
        else:
            copy[key] = _scrub(value, here, fields)
    return copy


def contact_values(doc: Any) -> set[str]:
    """The contact values a document holds, to be swept from its free text: e-mails, phones (also as
    digits), full names (first + last, an address's ``name``, display names) and streets."""
    values: set[str] = set()
    stack: list[tuple[str | None, Any, bool]] = [(None, doc, False)]
    while stack:
        key, node, in_address = stack.pop()
        if key in MERCHANT_KEYS:
            continue
        if isinstance(node, dict):
            for first_key, last_key in _NAME_PAIRS:
                first, last = node.get(first_key), node.get(last_key)
                if isinstance(first, str) and isinstance(last, str) and first.strip() and last.strip():
                    values.add(f"{first.strip()} {last.strip()}")
            if in_address and isinstance(node.get("name"), str):
                values.add(node["name"].strip())
            stack.extend((str(k), v, k in ADDRESS_OBJECT_KEYS) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((key, item, in_address) for item in node)
        elif isinstance(node, str) and key is not None:
            if key in EMAIL_KEYS or key in _STREET_KEYS or key in _FULL_NAME_KEYS:
                values.add(node.strip())
            elif key in PHONE_KEYS:
                values.add(node.strip())
                normalised = normalise_phone(node)
                if normalised is not None and len(normalised.lstrip("+")) >= _MIN_SWEPT_DIGITS:
                    values.update({normalised, normalised.lstrip("+")})
    return {value for value in values if len(value) >= _MIN_SWEPT_CHARS}


def _sweep_pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    variants = {variant for value in values for variant in (value, quote(value, safe=""), quote_plus(value))}
    if not variants:
        return None
    alternatives = "|".join(re.escape(v) for v in sorted(variants, key=lambda v: (-len(v), v)))
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])", re.IGNORECASE)


def _sweep(node: Any, pattern: re.Pattern[str], path: str, fields: set[str]) -> Any:
    if isinstance(node, str):
        swept = pattern.sub(REDACTED, node)
        if swept != node:
            fields.add(path or "$")
        return swept
    if isinstance(node, list):
        return [_sweep(item, pattern, _path(path, index), fields) for index, item in enumerate(node)]
    if isinstance(node, dict):
        return {
            key: value if _identifier_key(key) else _sweep(value, pattern, _path(path, key), fields)
            for key, value in node.items()
        }
    return node


def redact_document(
    doc: Any, person: Person, digester: SubjectDigester, *, source: Source | None = None
) -> tuple[Any, Redaction]:
    """A redacted copy of ``doc`` when it concerns the person, else ``doc`` itself and ``UNCHANGED``."""
    if not person.concerns(document_subjects(doc, digester, source=source)):
        return doc, UNCHANGED
    fields: set[str] = set()
    try:
        pattern = _sweep_pattern(contact_values(doc))
        redacted = _scrub(doc, "", fields)
        if pattern is not None:
            redacted = _sweep(redacted, pattern, "", fields)
    except RecursionError:
        raise ValueError("the document is nested too deeply to redact") from None
    if not fields:
        return doc, UNCHANGED
    return redacted, Redaction(True, tuple(sorted(fields)), 1)


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def redact_object(key: str, body: bytes, person: Person, digester: SubjectDigester) -> tuple[bytes, Redaction]:
    """A lake object with the person's documents redacted; ``body`` itself when none changed.

    JSONL (``.jsonl``, ``.jsonl.gz``): line by line, other lines byte for byte, gzip re-compressed.
    Anything else: one JSON document, re-serialised compactly. Unreadable objects are left as they are.
    """
    plain = plain_body(key, body)
    if plain is None:
        return body, UNCHANGED
    source = source_of_key(key)
    fields: set[str] = set()
    changed = 0
    if is_jsonl(key):
        out: list[bytes] = []
        for line in plain.splitlines(keepends=True):
            document = parse_line(line)
            redaction = UNCHANGED
            if document is not None:
                redacted, redaction = redact_document(document, person, digester, source=source or SHOPIFY)
            if not redaction.changed:
                out.append(line)
                continue
            out.append(_dumps(redacted) + line[len(line.rstrip(b"\r\n")) :])
            fields.update(redaction.fields)
            changed += 1
        new = b"".join(out)
    else:
        try:
            document = json.loads(plain)
        except (ValueError, RecursionError):
            return body, UNCHANGED
        redacted, redaction = redact_document(document, person, digester, source=source)
        new = _dumps(redacted)
        fields.update(redaction.fields)
        changed = int(redaction.changed)
    if not changed:
        return body, UNCHANGED
    if key.endswith(".gz"):
        new = gzip.compress(new, mtime=0)
    return new, Redaction(True, tuple(sorted(fields)), changed)
