"""Fixtures of the Shopify processor tests: moto's in-process AWS with the lake and hot stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.shopify import support


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    for name, value in support.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        support.create_stores(session)
        yield session


@pytest.fixture
def processors(aws: boto3.session.Session) -> Callable[[str], ModuleType]:
    """Load processors inside the mock, once each per test."""
    loaded: dict[str, ModuleType] = {}

    def get(name: str) -> ModuleType:
        if name not in loaded:
            loaded[name] = support.load_processor(name)
        return loaded[name]

    return get


@pytest.fixture
def deliver(processors: Callable[[str], ModuleType]) -> Callable[[str, Any], dict[str, str]]:
    """Invoke a processor's handler as Lambda would (JSON in, JSON out)."""
    import json

    def run(name: str, event: Any) -> dict[str, str]:
        result = processors(name).handler(json.loads(json.dumps(event)), support.Context())
        json.dumps(result)
        return dict(result)

    return run
