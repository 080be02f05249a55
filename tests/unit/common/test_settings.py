"""The settings pieces: a function's settings inherit them, and a piece's variable can be renamed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from common.config import ConfigError, env_field, load_settings
from common.settings import LakeSettings, ShopAdminSettings, ShopifyEventSettings, ShopifyLookupSettings

ADMIN = {"SHOPIFY_API_VERSION": "2026-10", "SHOPIFY_ADMIN_BASE_URL": "http://127.0.0.1:9"}


@dataclass(frozen=True, kw_only=True)
class BulkLike(ShopAdminSettings, LakeSettings):
    overlap_seconds: int = env_field("WATERMARK_OVERLAP_SECONDS", default=900)
    table: str = env_field("ORDERS_TABLE_NAME")  # required after the pieces' defaulted fields


@dataclass(frozen=True, kw_only=True)
class ProcessorLike(ShopifyLookupSettings):
    table: str = env_field("ORDERS_TABLE_NAME")


def test_a_function_reads_its_pieces_and_its_own_fields() -> None:
    environ = {
        **ADMIN,
        "SHOP_DOMAIN": "example.myshopify.com",
        "SHOPIFY_ADMIN_SECRET_ARN": "arn:bulk",
        "DATA_LAKE_BUCKET_NAME": "lake",
        "ORDERS_TABLE_NAME": "orders",
    }
    settings = load_settings(BulkLike, environ)
    assert (settings.bucket, settings.shop_domain, settings.secret_arn, settings.table) == (
        "lake",
        "example.myshopify.com",
        "arn:bulk",
        "orders",
    )
    assert (settings.admin_base_url, settings.max_throttle_wait_seconds, settings.overlap_seconds) == (
        "http://127.0.0.1:9",
        20.0,
        900,
    )


def test_the_processors_read_the_same_secret_variable_and_wait_less() -> None:
    environ = {
        **ADMIN,
        "SHOPIFY_ADMIN_SECRET_ARN": "arn:processor",
        "SHOPIFY_EVENT_SOURCE": "aws.partner/shopify.com/1/acme",
        "DATA_LAKE_BUCKET_NAME": "lake",
        "ORDERS_TABLE_NAME": "orders",
    }
    settings = load_settings(ProcessorLike, environ)
    assert (settings.secret_arn, settings.event_source, settings.max_throttle_wait_seconds) == (
        "arn:processor",
        "aws.partner/shopify.com/1/acme",
        10.0,
    )
    with pytest.raises(ConfigError, match="SHOPIFY_ADMIN_SECRET_ARN"):
        load_settings(ProcessorLike, {k: v for k, v in environ.items() if k != "SHOPIFY_ADMIN_SECRET_ARN"})


def test_a_processor_without_lookups_needs_no_admin_settings() -> None:
    environ = {"SHOPIFY_EVENT_SOURCE": "aws.partner/shopify.com/1/acme", "DATA_LAKE_BUCKET_NAME": "lake"}
    assert load_settings(ShopifyEventSettings, environ) == ShopifyEventSettings(
        bucket="lake", event_source="aws.partner/shopify.com/1/acme"
    )
