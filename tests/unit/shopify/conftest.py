"""Fixtures of the Shopify processor tests: moto's in-process AWS with the lake and hot stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.unit.shopify import support


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[support.CachedSession]:
    with support.moto_shop(monkeypatch) as session:
        yield session


@pytest.fixture
def processors(aws: support.CachedSession) -> Callable[[str], ModuleType]:
    """The processor modules (loaded inside a mock, once per environment)."""
    return support.processor


@pytest.fixture
def deliver(processors: Callable[[str], ModuleType]) -> Callable[[str, Any], dict[str, str]]:
    """Invoke a processor's handler as Lambda would (JSON in, JSON out)."""
    import json

    def run(name: str, event: Any) -> dict[str, str]:
        result = processors(name).handler(json.loads(json.dumps(event)), support.Context())
        json.dumps(result)
        return dict(result)

    return run
