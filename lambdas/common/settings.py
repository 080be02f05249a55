"""The settings pieces functions compose: each names its environment variables once.

A function's ``Settings`` inherits the pieces it needs and adds its own fields (``common.config`` reads
them). The pieces are keyword-only dataclasses, so a subclass may add required fields after the
pieces' defaulted ones, and may redeclare a field with another default (the processors wait less for
Shopify's throttle than the bulk functions do).
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import env_field


@dataclass(frozen=True, kw_only=True)
class LakeSettings:
    """The data lake bucket."""

    bucket: str = env_field("DATA_LAKE_BUCKET_NAME")


@dataclass(frozen=True, kw_only=True)
class ShopifyAdminSettings:
    """The Shopify Admin API: version, the secret holding the token, the simulator's URL on the local cloud."""

    api_version: str = env_field("SHOPIFY_API_VERSION")
    secret_arn: str = env_field("SHOPIFY_ADMIN_SECRET_ARN")
    admin_base_url: str = env_field("SHOPIFY_ADMIN_BASE_URL", default="")
    max_throttle_wait_seconds: float = env_field("MAX_THROTTLE_WAIT_SECONDS", default=20.0)


@dataclass(frozen=True, kw_only=True)
class ShopAdminSettings(ShopifyAdminSettings):
    """The Admin API of the shop named in the environment (the bulk functions)."""

    shop_domain: str = env_field("SHOP_DOMAIN")


@dataclass(frozen=True, kw_only=True)
class ShopifyEventSettings(LakeSettings):
    """Every Shopify webhook processor: the lake, and the partner event source (others are quarantined)."""

    event_source: str = env_field("SHOPIFY_EVENT_SOURCE")


@dataclass(frozen=True, kw_only=True)
class ShopifyLookupSettings(ShopifyEventSettings, ShopifyAdminSettings):
    """A processor that completes reduced payloads from the Admin API (the shop's domain is in its secret).

    Short throttle waits: Lambda's asynchronous retries, minutes apart, do the rest.
    """

    max_throttle_wait_seconds: float = env_field("MAX_THROTTLE_WAIT_SECONDS", default=10.0)
