"""Shopify's values, checked: ids (numeric or GID), tokens, timestamps, decimals, money, text, tags.

Each checker takes the raw value and what it is (for the error), and returns the value in the platform's
form or raises ``BadInput`` (the event is quarantined with the reason). Webhook payloads, Admin API
answers and bulk export lines all pass through them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from common import commerce_rules as rules
from common.errors import BadInput
from common.timeutil import TimestampError, parse_timestamp

if TYPE_CHECKING:
    pass

_NUMERIC_ID = re.compile(r"^[1-9][0-9]{0,19}$")

_GID = re.compile(r"^gid://shopify/[A-Za-z]+/(?P<id>[1-9][0-9]{0,19})(?:\?.*)?$")

_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:=?&-]{0,511}$")

_MAX_ID = 2**63 - 1


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
