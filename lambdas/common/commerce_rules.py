"""The commerce rules the Lambdas and the Glue jobs share: one definition of each, pure Python.

Imported by the Lambdas as ``common.commerce_rules`` and by the Glue scripts as ``commerce_rules``
(``glue-scripts/commerce_rules.py`` is a link to this file, so the deploy tool's upload of
``glue-scripts/`` sends it to ``artifacts/glue-scripts/`` and each Glue job lists it in
``--extra-py-files``). No imports beyond the standard library: Glue loads it as a loose file.

The Glue code uses the patterns and SQL expressions below inside Spark; the Python functions are the
same rules for one value, used by the Lambdas (tests/unit/test_commerce_rules.py ties the two).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Final

# Money: exact decimals, stored as decimal(20,4) in the curated tables (4 places: Shopify and Recharge
# send at most 2 for amounts, Triple Whale more for computed ones, which are rounded half up).
MONEY_PRECISION: Final = 20
MONEY_SCALE: Final = 4
MONEY_SQL_TYPE: Final = f"decimal({MONEY_PRECISION},{MONEY_SCALE})"

# GraphQL's displayFulfillmentStatus -> REST's fulfillment_status; every other status is null in REST
# (REST's value counts fulfilled line items: UNFULFILLED, OPEN, IN_PROGRESS, ON_HOLD, SCHEDULED have none).
FULFILLMENT_STATUS: Final = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial", "RESTOCKED": "restocked"}

# A Shopify id: a REST number or the last segment of a gid, 1 to 19 digits.
SHOPIFY_ID_PATTERN: Final = r"^(?:gid://shopify/[A-Za-z]+/)?([0-9]{1,19})$"
# The order number: REST's order_number, else the digits of the name ("#1001", "1001"); a custom name
# prefix or suffix ("SHOP-1001") gives none rather than a guess.
ORDER_NAME_PATTERN: Final = r"^#?([0-9]{1,19})$"

# A refund transaction that moved money back: kind refund, status success (or not stated).
REFUND_KIND: Final = "refund"
REFUND_STATUSES: Final = (None, "success")

# A counted order (customers' orders_count and net_spend, the customer order sequence, the metric views):
# neither a test order nor deleted. Cancelled orders count; their refunds show as refunds.
COUNTED_ORDER_SQL: Final = "(NOT coalesce(test, false) AND NOT coalesce(deleted, false))"


def parse_money(value: Any) -> Decimal:
    """The exact amount of a money string (``"199.00"``) or number; never via binary float.

    Raises ValueError for anything else (booleans, None, text that is no number, infinities, NaN).
    """
    if isinstance(value, bool) or value is None:
        raise ValueError("not an amount")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("not a decimal amount") from None
    if not amount.is_finite():
        raise ValueError("not a finite amount")
    return amount


def money_column_value(value: Any) -> Decimal | None:
    """The amount as the curated tables store it (decimal(20,4), half up); None when not an amount."""
    try:
        amount = parse_money(value)
    except ValueError:
        return None
    stored = amount.quantize(Decimal(1).scaleb(-MONEY_SCALE), rounding="ROUND_HALF_UP")
    return stored if len(stored.as_tuple().digits) <= MONEY_PRECISION else None


def shopify_id(value: Any) -> str | None:
    """A Shopify id as its digits (a number, digits, or a gid); None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    match = re.fullmatch(SHOPIFY_ID_PATTERN, str(value))
    return match.group(1) if match else None


def order_number(number: Any, name: Any) -> str | None:
    """The order number: ``order_number`` when given (digits), else the digits of the order's name."""
    if number not in (None, ""):
        return shopify_id(number)
    match = re.fullmatch(ORDER_NAME_PATTERN, name) if isinstance(name, str) else None
    return match.group(1) if match else None


def fulfillment_status(display_status: Any) -> str | None:
    """REST's fulfillment_status of a GraphQL displayFulfillmentStatus."""
    return FULFILLMENT_STATUS.get(display_status) if isinstance(display_status, str) else None


def counts_as_refund(kind: Any, status: Any) -> bool:
    """A refund transaction whose amount left the shop."""
    lowered = status.lower() if isinstance(status, str) else status
    return isinstance(kind, str) and kind.lower() == REFUND_KIND and lowered in REFUND_STATUSES


def is_counted_order(*, test: bool | None, deleted: bool | None) -> bool:
    """The Python form of ``COUNTED_ORDER_SQL``."""
    return not test and not deleted
