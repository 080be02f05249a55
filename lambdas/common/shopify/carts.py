"""The abandoned-carts table's keys and expiry, shared by the cart processor and the order writes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

CHECKOUT_KEY_PREFIX = "checkout:"


def checkout_item_key(checkout_token: str) -> str:
    """Checkouts are items of the abandoned-carts table of their own: ``cart_token = checkout:<token>``."""
    return CHECKOUT_KEY_PREFIX + checkout_token


def cart_expiry(moment: datetime, ttl_days: int) -> int:
    """``expires_at`` (epoch seconds) of a cart last touched at ``moment``."""
    return int(moment.timestamp()) + ttl_days * 86_400
