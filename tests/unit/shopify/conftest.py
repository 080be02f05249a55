"""Fixtures of the Shopify processor tests: moto's in-process AWS with the lake and hot stores."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from platformctl.simulators.shopify_admin import ShopifyAdminSimulator
from tests.unit.shopify import support

TOKEN = "shpat_test_token"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[support.CachedSession]:
    with support.moto_shop(monkeypatch) as session:
        yield session


@pytest.fixture
def processors(aws: support.CachedSession) -> Callable[[str], support.Function]:
    """The processors, each built by its module's factory on first use in the test (against moto)."""
    built: dict[str, support.Function] = {}

    def get(name: str) -> support.Function:
        if name not in built:
            built[name] = support.processor(name)
        return built[name]

    return get


@pytest.fixture
def deliver(processors: Callable[[str], support.Function]) -> Callable[[str, Any], dict[str, str]]:
    """Invoke a processor's handler as Lambda would (JSON in, JSON out)."""

    def run(name: str, event: Any) -> dict[str, str]:
        result = processors(name).handler(json.loads(json.dumps(event)), support.Context())
        json.dumps(result)
        return dict(result)

    return run


@pytest.fixture
def simulator(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[ShopifyAdminSimulator]:
    """The Admin API simulator answering the processors' lookups, its token in ShopifyAdminApiSecret."""
    sim = ShopifyAdminSimulator(None)
    sim.state.access_tokens.add(TOKEN)
    secret = aws.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=support.SECRET_NAME, SecretString=json.dumps({"access_token": TOKEN, "shop_domain": support.SHOP})
    )
    monkeypatch.setenv("SHOPIFY_ADMIN_SECRET_ARN", secret["ARN"])
    monkeypatch.setenv("SHOPIFY_ADMIN_BASE_URL", sim.url)
    try:
        yield sim
    finally:
        sim.stop()
